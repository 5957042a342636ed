import type { Command } from 'commander';
import { processAddressLimiter, processHostLimiter } from '../links/guard/host-limiter.js';
import { unfurl, type UnfurlOptions, type UnfurlResult } from '../links/unfurl.js';
import { mapConcurrent } from '../pipeline/map-concurrent.js';
import { integerFlag, loadCliConfig } from './cli-config.js';
import { inputBatches, LineWriter } from './line-io.js';
import { terminalSafe } from './terminal-text.js';

/**
 * `abuse-scan unfurl [URL...]`: follows links through redirects and meta refresh, through the
 * same address guard as the workers (no private addresses, ever: there is no flag for that).
 *
 * Line N of the output answers input N (same stdin convention as `canonicalize`). Text: the chain
 * `input -> hop -> ... -> final`, with ` !<error code>` when the chain stopped on an error. With
 * `--json`: `{ input, chain, final, error }` (`error` is `{ code, message }` or absent). Exit 1
 * when any link ended in an error. Limits come from the ABUSE_SCAN_UNFURL_* variables.
 */

interface UnfurlFlags {
  json?: boolean;
  concurrency: string;
}

/** The chain as text; the URLs (the input, and redirect targets remote servers chose) through terminalSafe. */
export function formatUnfurl(result: UnfurlResult): string {
  const urls = [result.input, ...result.chain.map((hop) => hop.redirect?.location).filter((u): u is string => u !== undefined)];
  if (result.final && urls.at(-1) !== result.final.url && result.chain.length === 0) urls.push(result.final.url);
  return `${urls.map(terminalSafe).join(' -> ')}${result.error ? ` !${result.error.code}` : ''}`;
}

async function runUnfurl(urls: string[], flags: UnfurlFlags): Promise<void> {
  const config = loadCliConfig();
  const options: UnfurlOptions = {
    maxRedirects: config.unfurlMaxRedirects,
    hopTimeoutMs: config.unfurlHopTimeoutMs,
    totalTimeoutMs: config.unfurlTotalTimeoutMs,
    ...(config.unfurlUserAgent !== undefined && { userAgent: config.unfurlUserAgent }),
    hostLimiter: processHostLimiter(config.fetchesPerHost),
    addressLimiter: processAddressLimiter(config.connectionsPerAddress),
  };
  const concurrency = integerFlag('concurrency', flags.concurrency, 1)!;
  const out = new LineWriter();
  // Batches keep the output in input order while links of one batch are fetched concurrently.
  for await (const batch of inputBatches(urls, concurrency * 4)) {
    const results = await mapConcurrent(batch, concurrency, (input) => unfurl(input, options));
    for (const result of results) {
      if (result.error) process.exitCode = 1;
      if (flags.json) {
        const { error } = result;
        await out.line(JSON.stringify({ input: result.input, chain: result.chain, final: result.final, ...(error && { error: { code: error.code, message: error.message } }) }));
      } else {
        await out.line(formatUnfurl(result));
      }
    }
    await out.flush();
  }
}

export function registerUnfurlCommand(program: Command): void {
  program
    .command('unfurl')
    .argument('[url...]', 'URLs (none or "-": one per line on stdin)')
    .option('--json', 'one JSON object per line: input, chain, final, error')
    .option('--concurrency <n>', 'links fetched at once', '8')
    .description('follow each link through redirects and meta refresh (address-guarded); line N answers input N, exit 1 if any failed')
    .action((urls: string[], flags: UnfurlFlags) => runUnfurl(urls, flags));
}
