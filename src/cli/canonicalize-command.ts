import type { Command } from 'commander';
import { toScanError } from '../errors.js';
import { canonicalize, visitedAsRead } from '../links/canonicalize.js';
import { lookupExpressions } from '../links/expressions.js';
import { registrableDomainOf } from '../links/registrable-domain.js';
import { inputLines, LineWriter } from './line-io.js';
import { terminalSafe } from './terminal-text.js';

/**
 * `abuse-scan canonicalize [URL...]`: Safe Browsing canonical forms, offline.
 *
 * Line N of the output always answers input N (argument N, or stdin line N when there are no
 * arguments or the only one is `-`). An input that is not a URL gives an EMPTY output line and
 * `line N: <code>: <message>` on stderr; the exit code is then 1. With `--json` each line is an
 * object: `{ input, canonical, host, registrableDomain, expressions }`, or `{ input, error: { code,
 * message } }`.
 *
 * Where a browser reads the link otherwise than Safe Browsing (`http://good.example%2F@evil.example/`
 * is good.example to Safe Browsing, evil.example to a browser), the scanner matches both, and so
 * both are printed: the JSON adds `visited` (`visitedCut` when cut to the URL limit), with
 * `visitedHost`, `visitedRegistrableDomain` and `visitedExpressions`; a plain line adds
 * ` visited: <url>` (or ` visitedCut: <url>`) after the canonical form, which holds no space.
 */

interface CanonicalizeFlags {
  json?: boolean;
}

/** A link's canonical form as the scanner reads it: raw control characters escaped, as browsers do. */
function canonicalLink(input: string) {
  return canonicalize(input, { controlCharacters: 'escape' });
}

/** The URL a browser visits, as a verdict's item details name it, when it is not the Safe Browsing reading. */
interface BrowserReading {
  key: 'visited' | 'visitedCut';
  url: string;
  host: string;
  registrableDomain: string | null;
  expressions: string[];
}

/**
 * The browser's reading of a link whose canonical form is valid, as the link preparer makes it
 * (the same function: details.visited / visitedCut and the target matched for it), or undefined
 * when a browser visits the Safe Browsing reading. Most links read alike (visitedAsRead, the
 * preparer's own shortcut): only for the others is the preparer, and the unfurler it imports,
 * loaded, so a shell loop of `canonicalize` keeps its start-up.
 */
async function browserReading(input: string): Promise<BrowserReading | undefined> {
  if (visitedAsRead(input)) return undefined;
  const { LinkPreparer } = await import('../pipeline/link-preparer.js');
  // Unfurl off: nothing is fetched. The preparer reads links as canonicalLink does (controls escaped).
  const { subject, details } = await new LinkPreparer({ unfurl: false }).prepare(input);
  const key = typeof details.visited === 'string' ? 'visited' : typeof details.visitedCut === 'string' ? 'visitedCut' : undefined;
  if (key === undefined) return undefined;
  // With unfurling off the only target after the link is the visited one; none when a cut form
  // stands for the very page of the link's own reading, which is then what is matched for it.
  const target = subject.targets[1] ?? subject.targets[0]!;
  return { key, url: details[key] as string, host: target.canonical.host, registrableDomain: target.registrableDomain, expressions: target.expressions };
}

export async function describeUrl(input: string): Promise<Record<string, unknown>> {
  try {
    const url = canonicalLink(input);
    const visited = await browserReading(input);
    return {
      input,
      canonical: url.canonical,
      host: url.host,
      registrableDomain: registrableDomainOf(url),
      expressions: lookupExpressions(url),
      ...(visited && {
        [visited.key]: visited.url,
        visitedHost: visited.host,
        visitedRegistrableDomain: visited.registrableDomain,
        visitedExpressions: visited.expressions,
      }),
    };
  } catch (thrown) {
    const error = toScanError(thrown);
    return { input, error: { code: error.code, message: error.message } };
  }
}

async function runCanonicalize(urls: string[], flags: CanonicalizeFlags): Promise<void> {
  const out = new LineWriter();
  let lineNo = 0;
  for await (const input of inputLines(urls)) {
    lineNo++;
    if (flags.json) {
      const described = await describeUrl(input);
      if (described.error) process.exitCode = 1;
      await out.line(JSON.stringify(described));
      continue;
    }
    try {
      const { canonical } = canonicalLink(input);
      const visited = await browserReading(input);
      await out.line(terminalSafe(visited ? `${canonical} ${visited.key}: ${visited.url}` : canonical));
    } catch (thrown) {
      const error = toScanError(thrown);
      process.exitCode = 1;
      await out.line('');
      process.stderr.write(`line ${lineNo}: ${error.code}: ${terminalSafe(error.message)}\n`);
    }
  }
  await out.flush();
}

export function registerCanonicalizeCommand(program: Command): void {
  program
    .command('canonicalize')
    .argument('[url...]', 'URLs (none or "-": one per line on stdin)')
    .option('--json', 'one JSON object per line: input, canonical, host, registrableDomain, expressions (or error); where a browser visits another URL, also visited (visitedCut when cut), visitedHost, visitedRegistrableDomain, visitedExpressions')
    .description('print the Safe Browsing canonical form of each URL, followed by " visited: <url>" where a browser visits another URL (both are matched); line N answers input N (an invalid URL: empty line, error on stderr, exit 1)')
    .action((urls: string[], flags: CanonicalizeFlags) => runCanonicalize(urls, flags));
}
