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

function entryHits(entry: ListEntry, target: MatchTarget): string[] {
  if (entry.kind === 'url') return entry.value === target.canonical.canonical ? [entry.value] : [];
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
      fc.property(rawListsArbitrary, fc.array(url, { minLength: 1, maxLength: 4 }), (lists, urls) => {
        const targets = urls.map((u, hop) => targetOf(u, hop));
        expect(matcherHits(lists, targets)).toEqual(bruteForce(lists, targets));
      }),
      { numRuns: 400, seed: 20261123 },
    );
  });
  it('equals a brute-force scan over entries with the targets the pipeline builds (host suffixes kept)', () => {
    fc.assert(
      fc.property(rawListsArbitrary, fc.array(url, { minLength: 1, maxLength: 4 }), (lists, urls) => {
        const targets = urls.map((u, hop) => linkTarget(hop, canonicalize(u)));
        expect(targets.map((t) => t.expressions)).toEqual(urls.map((u) => targetOf(u).expressions));
        expect(matcherHits(lists, targets)).toEqual(bruteForce(lists, targets));
      }),
      { numRuns: 400, seed: 20261124 },
    );
  });
});
