import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, EntryError, type ListEntry, type ListRole } from './list-entry.js';
import { compileList, ListMatcher, type MatchTarget } from './list-matcher.js';
import { targetOf } from '../../test/harness/link-targets.js';
import { canonicalize } from '../links/canonicalize.js';
import { linkTarget } from '../pipeline/link-preparer.js';

/** The matcher must equal a brute-force scan over every entry of every list. */

const labels = fc.constantFrom('evil', 'a', 'b', 'www', 'login', 'xn--bcher-kva', 'bücher');
const tlds = fc.constantFrom('example', 'com', 'co.uk', 'github.io', 'de');
const host = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.array(labels, { minLength: 1, maxLength: 4 }), tlds).map(([ls, tld]) => `${ls.join('.')}.${tld}`) },
  { weight: 1, arbitrary: fc.constantFrom('1.2.3.4', '10.0.0.1', '0x01020304') },
);
const path = fc.array(fc.constantFrom('a', 'b', 'phish', 'x.html', ''), { maxLength: 4 }).map((ps) => `/${ps.join('/')}`);
const query = fc.option(fc.constantFrom('q=1', 'id=2&x', ''), { nil: undefined });
const url = fc.tuple(fc.constantFrom('http', 'https'), host, path, query).map(([s, h, p, q]) => `${s}://${h}${p}${q === undefined ? '' : `?${q}`}`);
/** Links as met: mostly http(s), some without a scheme (read as http), some of another scheme. */
const link = fc.oneof(
  { weight: 4, arbitrary: url },
  { weight: 1, arbitrary: url.map((u) => u.replace(/^https?:\/\//, '')) },
  { weight: 1, arbitrary: url.map((u) => u.replace(/^https?:/, 'ftp:')) },
);

const entryText = fc.oneof(
  url,
  fc.tuple(host, path).map(([h, p]) => `${h}${p}`),
  host,
);

interface RawList {
  role: ListRole;
  entries: ListEntry[];
}

function toEntries(texts: string[]): ListEntry[] {
  // A list is a set: the same canonical entry twice is one entry.
  const out = new Map<string, ListEntry>();
  for (const text of texts) {
    try {
      const entry = canonicalEntry(text);
      out.set(`${entry.kind} ${entry.value}`, entry);
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
    }
  }
  return [...out.values()];
}

/** `scheme://rest` -> [scheme, rest]. */
function splitUrl(canonical: string): [string, string] {
  const at = canonical.indexOf('://');
  return [canonical.slice(0, at), canonical.slice(at + 3)];
}

const HTTP_SCHEMES = new Set(['http', 'https']);

/** A url entry hits its URL exactly, and an http(s) entry the same URL under the other of http and https. */
function urlEntryHits(value: string, canonical: string): boolean {
  if (value === canonical) return true;
  const [entryScheme, entryRest] = splitUrl(value);
  const [scheme, rest] = splitUrl(canonical);
  return HTTP_SCHEMES.has(entryScheme) && HTTP_SCHEMES.has(scheme) && entryRest === rest;
}

function entryHits(entry: ListEntry, target: MatchTarget): string[] {
  // A cut target (a longer URL cut to fit the limit) is not the page its canonical form names.
  if (entry.kind === 'url') return !target.cut && urlEntryHits(entry.value, target.canonical.canonical) ? [entry.value] : [];
  if (entry.kind === 'domain') return entry.value === target.registrableDomain ? [entry.value] : [];
  return target.expressions.filter((e) => e === entry.value);
}

function bruteForce(lists: RawList[], targets: MatchTarget[]): string[] {
  const out: string[] = [];
  for (const target of targets) {
    const allowed = lists.some((l) => l.role === 'allow' && l.entries.some((e) => entryHits(e, target).length > 0));
    if (allowed) continue;
    lists.forEach((list, i) => {
      if (list.role !== 'block') return;
      for (const entry of list.entries) for (const hit of entryHits(entry, target)) out.push(`L${i} ${entry.kind} ${hit} ${target.hop}`);
    });
  }
  return out.sort();
}

/** Up to three lists, mostly blocklists, of raw entry texts (the invalid ones are dropped). */
const rawListsArbitrary = fc
  .array(fc.record({ role: fc.constantFrom<ListRole>('block', 'block', 'allow'), texts: fc.array(entryText, { maxLength: 12 }) }), { minLength: 1, maxLength: 3 })
  .map((raw): RawList[] => raw.map((l) => ({ role: l.role, entries: toEntries(l.texts) })));

/** `http://x` <-> `https://x`. */
const flip = (u: string) => (u.startsWith('https:') ? `http:${u.slice(6)}` : `https:${u.slice(5)}`);

/** Links to look up: the drawn ones, and a few url entries under their other scheme (else rarely drawn). */
function linksFor(lists: RawList[], urls: string[]): string[] {
  const twins = lists.flatMap((l) => l.entries.filter((e) => e.kind === 'url' && /^https?:/.test(e.value)).map((e) => flip(e.value)));
  return [...urls, ...twins.slice(0, 3)];
}

/** What the matcher finds, in the brute force's terms. */
function matcherHits(lists: RawList[], targets: MatchTarget[]): string[] {
  const matcher = new ListMatcher(lists.map((l, i) => compileList({ name: `L${i}`, version: '1', role: l.role, action: 'block' }, l.entries)));
  return matcher
    .matchTargets(targets)
    .matches.map((m) => `${m.list} ${m.entryKind} ${m.expression} ${m.hop}`)
    .sort();
}

describe('ListMatcher (property)', () => {
  it('equals a brute-force scan over entries', () => {
    fc.assert(
      fc.property(rawListsArbitrary, fc.array(link, { minLength: 1, maxLength: 4 }), (lists, urls) => {
        const targets = linksFor(lists, urls).map((u, hop) => targetOf(u, hop));
        expect(matcherHits(lists, targets)).toEqual(bruteForce(lists, targets));
      }),
      { numRuns: 400, seed: 20261123 },
    );
  });
  it('equals a brute-force scan over entries with the targets the pipeline builds (host suffixes kept)', () => {
    fc.assert(
      fc.property(rawListsArbitrary, fc.array(link, { minLength: 1, maxLength: 4 }), (lists, urls) => {
        const links = linksFor(lists, urls);
        const targets = links.map((u, hop) => linkTarget(hop, canonicalize(u)));
        expect(targets.map((t) => t.expressions)).toEqual(links.map((u) => targetOf(u).expressions));
        expect(matcherHits(lists, targets)).toEqual(bruteForce(lists, targets));
      }),
      { numRuns: 400, seed: 20261124 },
    );
  });

  it('equals a brute-force scan over entries with cut targets among them (url entries never hit those)', () => {
    fc.assert(
      fc.property(rawListsArbitrary, fc.array(fc.tuple(link, fc.boolean()), { minLength: 1, maxLength: 4 }), (lists, drawn) => {
        const links = linksFor(lists, drawn.map(([u]) => u));
        // The url-entry twins linksFor adds are cut too: else those entries are rarely met cut.
        const targets = links.map((u, hop) => linkTarget(hop, canonicalize(u), drawn[hop]?.[1] ?? true));
        expect(matcherHits(lists, targets)).toEqual(bruteForce(lists, targets));
      }),
      { numRuns: 400, seed: 20261127 },
    );
  });

  it('an http(s) url entry and a list naming it under the other scheme match the same links, allowlists alike', () => {
    fc.assert(
      fc.property(fc.array(url, { minLength: 1, maxLength: 6 }), fc.array(link, { minLength: 1, maxLength: 4 }), fc.constantFrom<ListRole>('block', 'allow'), (entryUrls, urls, role) => {
        const targets = urls.map((u, hop) => linkTarget(hop, canonicalize(u)));
        // With an allowlist, a blocklist that hits every target (each host's expression) shows which targets it let through.
        const everything: RawList = { role: 'block', entries: targets.map((t): ListEntry => ({ kind: 'expression', value: `${t.canonical.host}/` })) };
        const asGiven: RawList[] = [{ role, entries: toEntries(entryUrls) }, everything];
        const flipped: RawList[] = [{ role, entries: toEntries(entryUrls.map(flip)) }, everything];
        const strip = (hits: string[]) => hits.map((h) => h.replace(/ url https?:\/\//, ' url '));
        expect(strip(matcherHits(flipped, targets))).toEqual(strip(matcherHits(asGiven, targets)));
      }),
      { numRuns: 300, seed: 20261125 },
    );
  });

  it('an accepted expression entry hits every URL under it: subdomains, and pages under a path prefix', () => {
    const sub = fc.array(fc.constantFrom('x', 'www', 'a.b', 'deep.er.still'), { maxLength: 2 }).map((ls) => ls.map((l) => `${l}.`).join(''));
    const below = fc.array(fc.constantFrom('p', 'q/r', 'page.html', 'w/x/y/z.php'), { minLength: 1, maxLength: 2 }).map((ps) => ps.join('/'));
    const expressionText = fc.tuple(
      fc.array(labels, { minLength: 1, maxLength: 6 }).map((ls) => ls.join('.')),
      tlds,
      fc.array(fc.constantFrom('a', 'b', 'wp-content', '2024'), { maxLength: 5 }),
      fc.boolean(),
    ).map(([ls, tld, dirs, slash]) => `${ls}.${tld}/${dirs.join('/')}${slash && dirs.length > 0 ? '/' : ''}`);
    fc.assert(
      fc.property(expressionText, sub, below, (text, subdomain, rest) => {
        let entry: ListEntry;
        try {
          entry = { ...canonicalEntry(text) };
        } catch (error) {
          if (!(error instanceof EntryError)) throw error;
          // Refused only for depth, naming an expression that is accepted.
          const working = /the longest expression that works is (\S+)$/.exec((error as Error).message)?.[1];
          expect(working, (error as Error).message).toBeDefined();
          expect(canonicalEntry(working!)).toEqual({ kind: 'expression', value: working });
          return;
        }
        const slash = entry.value.indexOf('/');
        const [entryHost, entryPath] = [entry.value.slice(0, slash), entry.value.slice(slash)];
        const under = `https://${subdomain}${entryHost}${entryPath}${entryPath.endsWith('/') ? rest : ''}`;
        const matcher = new ListMatcher([compileList({ name: 'l', version: '1', role: 'block', action: 'block' }, [entry])]);
        expect(matcher.matchTargets([targetOf(under)]).matches.map((m) => m.entry), `${entry.value} over ${under}`).toEqual([entry.value]);
      }),
      { numRuns: 500, seed: 20261126 },
    );
  });
});
