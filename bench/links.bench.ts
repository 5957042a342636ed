/**
 * `npm run bench:links [-- --urls N --entries M --rounds R]`
 *
 * Link matching cost per URL: canonicalize + lookup expressions + registrable domain + match
 * against a blocklist of M entries (mixed kinds: URLs, expressions, domains), over N generated
 * real-looking URLs (hosts, subdomains, paths, queries, percent-escapes, IDN, IP literals; fixed
 * seed). Baseline in the same run, same URLs: plain `new URL()` + `tldts.parse()`. Prints both
 * rates and the cost ratio. Target: matching costs no more than 3x the baseline per URL.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parse as parseDomain } from 'tldts';
import { canonicalize } from '../src/links/canonicalize.js';
import { lookupExpressions } from '../src/links/expressions.js';
import { registrableDomain, registrableDomainOf } from '../src/links/registrable-domain.js';
import { linkTarget } from '../src/pipeline/link-preparer.js';
import { encodeEntryInfo } from '../src/lists/list-entry.js';
import { CompiledListBuilder, ListMatcher } from '../src/lists/list-matcher.js';
import { seededRandom } from '../test/harness/seeded-random.js';

const SYLLABLES = ['ka', 'lo', 'mi', 'net', 'shop', 'pay', 'secure', 'login', 'acc', 'ver', 'cdn', 'img', 'mail', 'ex', 'go', 'bit', 'tr', 'zon', 'app', 'web'];
const TLDS = ['com', 'com', 'com', 'net', 'org', 'io', 'de', 'co.uk', 'com.au', 'fr', 'ru', 'github.io', 'blogspot.com', 'xyz', 'top', 'info'];
const IDN_LABELS = ['münchen', 'bücher', 'пример', '例え', 'straße', 'café'];
const PATH_WORDS = ['index.html', 'login', 'account', 'verify', 'img', 'a', 'b', 'wp-admin', 'update.php', 'static', 'js', 'app.js', 'files', 'docs', 'x'];
const ESCAPES = ['%20', '%2F', '%7E', '%41', '%e2%82%ac', '%25', '%3F'];

type Random = () => number;
const pick = <T>(rand: Random, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const int = (rand: Random, max: number): number => Math.floor(rand() * max);

function label(rand: Random): string {
  let text = '';
  for (let i = 0, n = 1 + int(rand, 4); i < n; i++) text += pick(rand, SYLLABLES);
  const roll = rand();
  return roll < 0.3 ? `${text}${int(rand, 1000)}` : roll < 0.4 ? `${text}-${pick(rand, SYLLABLES)}` : text;
}

function hostname(rand: Random): string {
  const roll = rand();
  if (roll < 0.04) return `${1 + int(rand, 222)}.${int(rand, 256)}.${int(rand, 256)}.${1 + int(rand, 254)}`;
  if (roll < 0.05) return `0x${(int(rand, 0xdfffffff) + 0x01000000).toString(16)}`;
  if (roll < 0.06) return `[2001:db8::${int(rand, 0xffff).toString(16)}]`;
  const base = rand() < 0.05 ? pick(rand, IDN_LABELS) : label(rand);
  const subdomains = Array.from({ length: int(rand, 4) }, () => (rand() < 0.3 ? pick(rand, ['www', 'm', 'login', 'cdn']) : label(rand)));
  const host = [...subdomains, base, pick(rand, TLDS)].join('.');
  return rand() < 0.05 ? host.toUpperCase() : host;
}

function pathOf(rand: Random): string {
  const segments = Array.from({ length: int(rand, 6) }, () => {
    let word = pick(rand, PATH_WORDS);
    if (rand() < 0.1) word += pick(rand, ESCAPES);
    if (rand() < 0.02) word = '..';
    return word;
  });
  return `/${segments.join('/')}${rand() < 0.3 ? '/' : ''}`;
}

function queryOf(rand: Random): string {
  if (rand() < 0.5) return '';
  const params = Array.from({ length: 1 + int(rand, 4) }, () => `${pick(rand, ['id', 'q', 'ref', 'utm_source', 'token', 'u'])}=${rand() < 0.1 ? pick(rand, ESCAPES) : int(rand, 1e6).toString(36)}`);
  return `?${params.join('&')}`;
}

export function generateUrls(count: number, seed: number): string[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const scheme = rand() < 0.7 ? 'https' : 'http';
    const port = rand() < 0.03 ? `:${pick(rand, [8080, 8443, 443, 80])}` : '';
    const fragment = rand() < 0.05 ? '#top' : '';
    return `${scheme}://${hostname(rand)}${port}${pathOf(rand)}${queryOf(rand)}${fragment}`;
  });
}

/**
 * A blocklist of `size` distinct entries in canonical form: a third domains, a third expressions,
 * a third URLs. Every 1000th entry comes from the scanned URLs, so a few percent of them hit
 * (a domain entry hits every URL of its domain).
 */
function buildList(size: number, urls: string[], seed: number): ListMatcher {
  const rand = seededRandom(seed);
  const builder = new CompiledListBuilder({ name: 'bench', version: '1', role: 'block', action: 'block' }, size);
  const info = encodeEntryInfo({ label: 'bench' }, '2026-01-01T00:00:00.000Z').value;
  // Entries taken from the scanned URLs may repeat: add until `size` are distinct.
  for (let i = 0; builder.size < size; i++) {
    // `i` in the host keeps the entries distinct.
    const source = i % 1000 === 0 ? canonicalize(pick(rand, urls)) : canonicalize(`http://${label(rand)}${i}.${pick(rand, TLDS)}${pathOf(rand)}`);
    if (i % 3 === 0) builder.add('domain', registrableDomain(source.host) ?? source.host, info);
    // The full host with one of its path prefixes (`co.uk/` would block a whole suffix).
    else if (i % 3 === 1) builder.add('expression', pick(rand, lookupExpressions(source).filter((e) => e.startsWith(`${source.host}/`))), info);
    else builder.add('url', source.canonical, info);
  }
  return new ListMatcher([builder.build()]);
}

function timeBaseline(urls: string[]): { seconds: number; checksum: number } {
  let checksum = 0;
  const started = performance.now();
  for (const text of urls) {
    const url = new URL(text);
    checksum += parseDomain(url.hostname).domain?.length ?? 0;
  }
  return { seconds: (performance.now() - started) / 1000, checksum };
}

function timeMatching(urls: string[], matcher: ListMatcher): { seconds: number; matches: number } {
  let matches = 0;
  const started = performance.now();
  for (const text of urls) {
    const canonical = canonicalize(text);
    matches += matcher.matchTargets([linkTarget(0, canonical)]).matches.length;
  }
  return { seconds: (performance.now() - started) / 1000, matches };
}

/** Microseconds per URL of each stage alone, over the same URLs (where the time goes). */
function stageBreakdown(urls: string[], matcher: ListMatcher): Record<string, number> {
  const perUrl = (fn: () => void) => {
    const started = performance.now();
    fn();
    return ((performance.now() - started) * 1000) / urls.length;
  };
  const canonical = urls.map((url) => canonicalize(url));
  const expressions = canonical.map((c) => lookupExpressions(c));
  const domains = canonical.map((c) => registrableDomainOf(c));
  const targets = canonical.map((c, i) => ({ hop: 0, canonical: c, expressions: expressions[i]!, registrableDomain: domains[i]! }));
  return {
    canonicalize: perUrl(() => urls.forEach((url) => canonicalize(url))),
    expressions: perUrl(() => canonical.forEach((c) => lookupExpressions(c))),
    registrableDomain: perUrl(() => canonical.forEach((c) => registrableDomainOf(c))),
    match: perUrl(() => targets.forEach((t) => matcher.matchTargets([t]))),
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      urls: { type: 'string', default: '100000' },
      entries: { type: 'string', default: '1000000' },
      rounds: { type: 'string', default: '5' },
      seed: { type: 'string', default: '20261123' },
    },
  });
  const count = Number(values.urls);
  const rounds = Number(values.rounds);
  const seed = Number(values.seed);
  const urls = generateUrls(count, seed);
  const started = performance.now();
  const matcher = buildList(Number(values.entries), urls, seed + 1);
  const buildSeconds = (performance.now() - started) / 1000;
  console.log(`links bench: ${count} URLs, blocklist of ${matcher.lists[0]!.size} entries (built in ${buildSeconds.toFixed(1)} s), ${rounds} alternating rounds`);
  console.log(`  sample: ${urls.slice(0, 3).join('  ')}`);

  timeBaseline(urls.slice(0, 10_000)); // warm-up
  timeMatching(urls.slice(0, 10_000), matcher);
  const baseline: number[] = [];
  const matching: number[] = [];
  let matches = 0;
  for (let round = 1; round <= rounds; round++) {
    baseline.push(timeBaseline(urls).seconds);
    const run = timeMatching(urls, matcher);
    matching.push(run.seconds);
    matches = run.matches;
    console.log(`  round ${round}: baseline ${(count / baseline.at(-1)!).toFixed(0)} URLs/s, matching ${(count / matching.at(-1)!).toFixed(0)} URLs/s`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratio = median(matching) / median(baseline);
  const stages = Object.entries(stageBreakdown(urls, matcher)).map(([stage, us]) => `${stage} ${us.toFixed(2)}`);
  console.log(`baseline new URL() + tldts.parse(): ${(count / median(baseline)).toFixed(0)} URLs/s (${((median(baseline) / count) * 1e6).toFixed(2)} us/URL)`);
  console.log(`canonicalize + expressions + registrable domain + match: ${(count / median(matching)).toFixed(0)} URLs/s (${((median(matching) / count) * 1e6).toFixed(2)} us/URL), ${matches} matches`);
  console.log(`  stages alone, us/URL: ${stages.join(', ')}`);
  console.log(`cost ratio (median): ${ratio.toFixed(2)}x the baseline per URL (target <= 3.00: ${ratio <= 3 ? 'met' : 'NOT met'})`);
}
