import type { Command } from 'commander';
import { toScanError } from '../errors.js';
import { canonicalize } from '../links/canonicalize.js';
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
 */

interface CanonicalizeFlags {
  json?: boolean;
}

/** A link's canonical form as the scanner reads it: raw control characters escaped, as browsers do. */
function canonicalLink(input: string) {
  return canonicalize(input, { controlCharacters: 'escape' });
}

export function describeUrl(input: string): Record<string, unknown> {
  try {
    const url = canonicalLink(input);
    return {
      input,
      canonical: url.canonical,
      host: url.host,
      registrableDomain: registrableDomainOf(url),
      expressions: lookupExpressions(url),
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
      const described = describeUrl(input);
      if (described.error) process.exitCode = 1;
      await out.line(JSON.stringify(described));
      continue;
    }
    try {
      await out.line(terminalSafe(canonicalLink(input).canonical));
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
    .option('--json', 'one JSON object per line: input, canonical, host, registrableDomain, expressions (or error)')
    .description('print the Safe Browsing canonical form of each URL; line N answers input N (an invalid URL: empty line, error on stderr, exit 1)')
    .action((urls: string[], flags: CanonicalizeFlags) => runCanonicalize(urls, flags));
}
