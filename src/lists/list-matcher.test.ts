import { describe, expect, it } from 'vitest';
import { targetOf } from '../../test/harness/link-targets.js';
import { canonicalEntry, EntryError, type ListEntry } from './list-entry.js';
import { compileList, ListMatcher } from './list-matcher.js';

const entries = (...texts: string[]): ListEntry[] => texts.map((text) => canonicalEntry(text));

function matcherOf(block: string[], allow: string[] = [], action: 'block' | 'review' = 'block') {
  return new ListMatcher([
    compileList({ name: 'phish', version: '7', role: 'block', action }, entries(...block)),
    compileList({ name: 'allow-partners', version: '2', role: 'allow', action: 'block' }, entries(...allow)),
  ]);
}

describe('ListMatcher', () => {
  it('matches an exact canonical URL, and only that URL', () => {
    const matcher = matcherOf(['http://evil.example/login?x=1']);
    expect(matcher.matchTargets([targetOf('HTTP://EVIL.example/a/../login?x=1#frag')]).matches).toEqual([
      expect.objectContaining({ kind: 'url_match', list: 'phish', listVersion: '7', entry: 'http://evil.example/login?x=1', hop: 0 }),
    ]);
    expect(matcher.matchTargets([targetOf('http://evil.example/login?x=2')]).matches).toEqual([]);
  });

  it('matches an http(s) url entry under both schemes (HTTPS upgrades), naming the entry as stored', () => {
    const matcher = new ListMatcher([
      compileList({ name: 'phish', version: '7', role: 'block', action: 'block' }, [{ ...canonicalEntry('https://phish.example/login'), label: 'kit-9' }]),
    ]);
    for (const link of ['phish.example/login', 'http://phish.example/login', 'HTTPS://phish.example:8443/login', 'http://user@PHISH.example/a/../login#x']) {
      expect(matcher.matchTargets([targetOf(link)]).matches, link).toEqual([
        expect.objectContaining({ kind: 'url_match', entry: 'https://phish.example/login', entryKind: 'url', expression: 'https://phish.example/login', entryInfo: { label: 'kit-9' } }),
      ]);
    }
    expect(matcher.matchTargets([targetOf('http://phish.example/login')]).matches[0]!.url).toBe('http://phish.example/login');
    // Only the scheme: not another path, query, host, nor a scheme other than http(s).
    for (const link of ['http://phish.example/login?x=1', 'http://phish.example/login/', 'http://www.phish.example/login', 'ftp://phish.example/login', 'wss://phish.example/login']) {
      expect(matcher.matchTargets([targetOf(link)]).matches, link).toEqual([]);
    }
    // An http entry hits the https form just the same; both forms stored are both named.
    const both = matcherOf(['http://evil.example/x', 'https://evil.example/x']);
    expect(both.matchTargets([targetOf('https://evil.example/x')]).matches.map((m) => m.entry)).toEqual(['https://evil.example/x', 'http://evil.example/x']);
    expect(matcherOf(['http://evil.example/x']).matchTargets([targetOf('https://evil.example/x')]).matches.map((m) => m.entry)).toEqual(['http://evil.example/x']);
  });

  it('lets an http(s) url allowlist entry win under both schemes, naming the entry as stored', () => {
    const matcher = matcherOf(['partner.example'], ['http://partner.example/landing']);
    const result = matcher.matchTargets([targetOf('https://partner.example/landing', 0), targetOf('https://partner.example/other', 1)]);
    expect(result.allowed).toEqual([{ hop: 0, url: 'https://partner.example/landing', list: 'allow-partners', entry: 'http://partner.example/landing', entryKind: 'url' }]);
    expect(result.matches.map((m) => m.hop)).toEqual([1]);
    // The evidence's stored info is found under the entry it names.
    const allowlist = matcher.lists.find((l) => l.name === 'allow-partners')!;
    expect(allowlist.urls.has(result.allowed[0]!.entry)).toBe(true);
  });

  it('never hits a cut target with a url entry (scheme twin included), only by expression and domain', () => {
    // `https://evil.example/a/b/` cut from a longer URL: the whole URL reached is another page.
    const cut = { ...targetOf('https://evil.example/a/b/', 1), cut: true };
    const urlEntries = ['https://evil.example/a/b/', 'http://evil.example/a/b/'];
    expect(matcherOf(urlEntries).matchTargets([cut]).matches).toEqual([]);
    expect(matcherOf(urlEntries).matchTargets([targetOf('https://evil.example/a/b/')]).matches).toHaveLength(2);
    expect(matcherOf([...urlEntries, 'evil.example/a/', 'evil.example']).matchTargets([cut]).matches).toEqual([
      expect.objectContaining({ kind: 'expression_match', entry: 'evil.example/a/', hop: 1 }),
      expect.objectContaining({ kind: 'domain_match', entry: 'evil.example', hop: 1 }),
    ]);
    // Nor does a url allowlist entry cover it; an expression one does.
    expect(matcherOf(['evil.example'], urlEntries).matchTargets([cut])).toMatchObject({ matches: [expect.objectContaining({ kind: 'domain_match' })], allowed: [] });
    expect(matcherOf(['evil.example'], ['evil.example/a/b/']).matchTargets([cut])).toMatchObject({ matches: [], allowed: [expect.objectContaining({ entry: 'evil.example/a/b/' })] });
  });

  it('matches host-suffix and path-prefix expressions', () => {
    const matcher = matcherOf(['evil.example/', 'b.example/phish/']);
    const sub = matcher.matchTargets([targetOf('https://a.b.evil.example/x/y.html')]).matches;
    expect(sub).toEqual([expect.objectContaining({ kind: 'expression_match', entry: 'evil.example/', expression: 'evil.example/' })]);
    expect(matcher.matchTargets([targetOf('http://b.example/phish/deep/page')]).matches).toHaveLength(1);
    expect(matcher.matchTargets([targetOf('http://b.example/other/page')]).matches).toEqual([]);
  });

  it('matches a registrable domain on every subdomain, IDN entries in punycode', () => {
    const matcher = matcherOf(['bücher.de', 'evil.github.io']);
    expect(canonicalEntry('bücher.de')).toEqual({ kind: 'domain', value: 'xn--bcher-kva.de' });
    expect(matcher.matchTargets([targetOf('http://shop.xn--bcher-kva.de/')]).matches).toEqual([
      expect.objectContaining({ kind: 'domain_match', entry: 'xn--bcher-kva.de' }),
    ]);
    expect(matcher.matchTargets([targetOf('http://www.BÜCHER.de/x')]).matches).toHaveLength(1);
    // Private suffixes count: one GitHub Pages owner, not all of them.
    expect(matcher.matchTargets([targetOf('https://evil.github.io/')]).matches).toHaveLength(1);
    expect(matcher.matchTargets([targetOf('https://good.github.io/')]).matches).toEqual([]);
  });

  it('matches IP hosts in any notation through their expression; a bare IP entry is an expression', () => {
    expect(canonicalEntry('1.2.3.4')).toEqual({ kind: 'expression', value: '1.2.3.4/' });
    const matcher = matcherOf(['1.2.3.4', '10.0.0.1/admin/']);
    expect(matcher.matchTargets([targetOf('http://0x01020304/any')]).matches).toEqual([expect.objectContaining({ kind: 'expression_match', entry: '1.2.3.4/' })]);
    expect(matcher.matchTargets([targetOf('http://10.0.0.1/admin/x')]).matches).toHaveLength(1);
    expect(matcher.matchTargets([targetOf('http://10.0.0.1/')]).matches).toEqual([]);
  });

  it('looks at every hop and names the hop that matched', () => {
    const matcher = matcherOf(['127.0.0.1/middle']);
    const result = matcher.matchTargets([targetOf('http://127.0.0.1/start', 0), targetOf('http://127.0.0.1/middle', 1), targetOf('http://127.0.0.1/final', 2)]);
    expect(result.matches).toEqual([expect.objectContaining({ hop: 1, url: 'http://127.0.0.1/middle', expression: '127.0.0.1/middle' })]);
  });

  it('lets an allowlist win for the URL it covers, not for other hops', () => {
    const matcher = matcherOf(['evil.example', 'short.example/'], ['login.evil.example/']);
    const result = matcher.matchTargets([targetOf('http://short.example/abc', 0), targetOf('http://login.evil.example/x', 1), targetOf('http://www.evil.example/', 2)]);
    expect(result.matches.map((m) => m.hop)).toEqual([0, 2]);
    expect(result.allowed).toEqual([expect.objectContaining({ hop: 1, list: 'allow-partners', entry: 'login.evil.example/' })]);
  });

  it('reports the list action, entry info and versions', () => {
    const list = compileList({ name: 'suspicious', version: '3', role: 'block', action: 'review' }, [
      { kind: 'domain', value: 'evil.example', label: 'kit-42', reason: 'phishing kit', addedBy: 'alice', addedAt: '2026-01-01T00:00:00.000Z' },
    ]);
    const matcher = new ListMatcher([list]);
    expect(matcher.matchTargets([targetOf('http://evil.example/')]).matches[0]).toMatchObject({
      action: 'review',
      entryInfo: { label: 'kit-42', reason: 'phishing kit', addedBy: 'alice', addedAt: '2026-01-01T00:00:00.000Z' },
    });
    expect(matcher.versions()).toEqual({ suspicious: '3' });
  });
});

describe('canonicalEntry', () => {
  it.each([
    ['https://Evil.Example:443/a/./b/../c', 'url', 'https://evil.example/a/c'],
    ['EVIL.example/Phish/', 'expression', 'evil.example/Phish/'],
    ['evil.example', 'domain', 'evil.example'],
    ['evil.example.', 'domain', 'evil.example'],
    ['[::ffff:1.2.3.4]', 'expression', '1.2.3.4/'],
  ])('%s -> %s %s', (text, kind, value) => {
    expect(canonicalEntry(text)).toEqual({ kind, value });
  });

  it.each([
    // A backslash is a path separator (canonicalization reads it as `/`): never a whole-domain entry.
    ['evil11.example\\x', 'expression', 'evil11.example/x'],
    ['evil11.example\\', 'expression', 'evil11.example/'],
    ['Evil.example\\a\\b\\', 'expression', 'evil.example/a/b/'],
    ['evil.example:8080\\x', 'expression', 'evil.example/x'],
    ['http:\\\\evil.example\\x', 'url', 'http://evil.example/x'],
  ])('reads a backslash as a path: %s -> %s %s', (text, kind, value) => {
    expect(canonicalEntry(text)).toEqual({ kind, value });
    expect(canonicalEntry(text.replaceAll('\\', '/'))).toEqual({ kind, value });
  });

  it('refuses a backslash in an entry given as a domain', () => {
    expect(() => canonicalEntry('evil11.example\\x', 'domain')).toThrow(/a domain entry is a bare name/);
  });

  it.each([
    ['evil.example/wp-content/uploads/2024/05/', /a path prefix of more than 3 directories.*the longest expression that works is evil\.example\/wp-content\/uploads\/2024\/$/],
    ['a.b.c.d.evil.co.uk/', /a host of more than 5 labels: subdomains of a\.b\.c\.d\.evil\.co\.uk would not match.*the longest expression that works is c\.d\.evil\.co\.uk\/$/],
    ['a.b.c.d.evil.co.uk/login.html', /the longest expression that works is c\.d\.evil\.co\.uk\/login\.html$/],
    ['b.c.d.evil.co.uk/', /a host of more than 5 labels.*works is c\.d\.evil\.co\.uk\/$/],
    ['x.a.b.c.d.evil.co.uk/1/2/3/4/', /more than 5 labels.*; a path prefix of more than 3 directories.*works is c\.d\.evil\.co\.uk\/1\/2\/3\/$/],
    ['evil.example\\a\\b\\c\\d\\', /works is evil\.example\/a\/b\/c\/$/],
  ])('refuses %s, deeper than Safe Browsing lookups reach, naming the longest expression that works', (text, message) => {
    expect(() => canonicalEntry(text)).toThrow(EntryError);
    expect(() => canonicalEntry(text)).toThrow(message);
    // Still named for removal: lists written before this rule may hold it.
    expect(canonicalEntry(text, undefined, { toRemove: true }).kind).toBe('expression');
  });

  it.each([
    ['c.d.evil.co.uk/', 'c.d.evil.co.uk/'],
    ['evil.example/wp-content/uploads/2024/', 'evil.example/wp-content/uploads/2024/'],
    ['evil.example/a/b/c/d/e/page.html', 'evil.example/a/b/c/d/e/page.html'],
    ['evil.example/a/b/c/d/?q=1', 'evil.example/a/b/c/d/?q=1'],
    ['1.2.3.4/a/b/c/', '1.2.3.4/a/b/c/'],
    ['localhost/', 'localhost/'],
  ])('accepts %s: every URL under it is looked up under it', (text, value) => {
    expect(canonicalEntry(text)).toEqual({ kind: 'expression', value });
  });

  it.each([
    ['sub.evil.example', /not a registrable domain/],
    ['co.uk', /public suffix/],
    ['javascript:alert(1)', /unsupported_scheme/],
    ['http://', /invalid_host/],
    ['d.example"', /does not name a host/],
    ['"evil.example/path', /does not name a host/],
    ['ev<il.example', /does not name a host/],
  ])('refuses %s', (text, message) => {
    expect(() => canonicalEntry(text)).toThrow(message);
  });
});
