import { describe, expect, it } from 'vitest';
import { canonicalize } from '../links/canonicalize.js';
import { canonicalEntry } from '../lists/list-entry.js';
import { compileList, ListMatcher } from '../lists/list-matcher.js';
import { UnfurlCache } from '../links/unfurl-cache.js';
import type { UnfurlOptions, UnfurlResult } from '../links/unfurl.js';
import { LinkPreparer } from './link-preparer.js';

const blocklist = (...entries: string[]) =>
  new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, entries.map((entry) => canonicalEntry(entry)))]);

describe('LinkPreparer without unfurling', () => {
  it.each([
    ['http://google.com%2F@evil.example/login'],
    ['http://google.com%3F@evil.example/login'],
    ['google.com%2F@evil.example/login'],
  ])('%s: matches the host a browser visits (evil.example), not only the Safe Browsing reading (google.com)', async (link) => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.subject.targets[0]!.canonical.host).toBe('google.com');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain('http://evil.example/login');
    expect(prepared.subject.targets.find((t) => t.canonical.host === 'evil.example')?.registrableDomain).toBe('evil.example');
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    expect(prepared.details).toMatchObject({ host: 'google.com', hadUserinfo: true, visited: 'http://evil.example/login' });
  });

  it.each([['not a url at all'], ['http://a b.com/'], ['http://1.2.3.4.5/'], ['http://%zz/'], ['http://999999999999/']])(
    '%s: no URL a browser could visit is the partial error invalid_url, as with unfurling on, never a clean item',
    async (link) => {
      const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
      expect(prepared.errors).toEqual([{ code: 'invalid_url', message: 'the URL cannot be parsed for fetching', detail: { url: link } }]);
      // Its Safe Browsing reading is still there to match, marked as no page a browser reaches (no URL model scores it).
      expect(prepared.subject.targets.map((t) => [t.hop, t.canonical.canonical, t.visitable])).toEqual([[0, canonicalize(link).canonical, false]]);
    },
  );

  it.each([['http://example.com/a'], ['http://google.com%2F@evil.example/login'], ['ftp://files.example.com/a']])(
    '%s: a link a browser can read (or one never fetched) is not marked unvisitable',
    async (link) => {
      const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
      expect(prepared.subject.targets.map((t) => t.visitable)).toEqual(prepared.subject.targets.map(() => undefined));
    },
  );

  it.each([
    ['a raw control character in the path', 'http://evil.example/\x01x', 'http://evil.example/%01x'],
    ['a control character before the scheme', '\x01http://evil.example/login', 'http://evil.example/login'],
    ['both, before a %2F@ link', '\x01http://good.example%2F@evil.example/a\x02b', 'http://evil.example/a%02b'],
  ])('%s: the link is matched as a browser visits it, not refused', async (_name, link, visited) => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.errors).toBeUndefined();
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain(visited);
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'domain_match', entry: 'evil.example' })]);
  });

  it('adds no second target when both readings agree', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare('HTTP://User@Example.com:80/a/./b#x');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['http://example.com/a/b']);
    expect(prepared.details.visited).toBeUndefined();
  });

  it('matches IPv4 hosts written with long runs of leading zeros', async () => {
    for (const link of ['http://0000000000001.2.3.4/', 'http://0x00000000000001020304/']) {
      const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
      expect(prepared.subject.targets[0]!.canonical).toMatchObject({ host: '1.2.3.4', hostIsIp: true });
      expect(blocklist('1.2.3.4').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    }
  });
});

describe('LinkPreparer: the visited form over the URL limit', () => {
  // The browser's href percent-encodes what the link has raw: `ж` (1 character) is `%D0%B6` (6).
  const hidden = (path: string) => `http://good.example%2F@evil.example${path}${'ж'.repeat(1500)}`;

  it('matches the host a browser visits, cut to fit, when the href is over the limit and the link is not', async () => {
    const link = hidden('/');
    expect(link.length).toBeLessThan(8192);
    expect(new URL(link).href.length).toBeGreaterThan(8192);
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.errors).toBeUndefined();
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual([expect.stringMatching(/^http:\/\/good\.example\//), 'http://evil.example/']);
    expect(prepared.subject.targets[1]!.registrableDomain).toBe('evil.example');
    expect(prepared.details).toMatchObject({ hadUserinfo: true, visitedCut: 'http://evil.example/' });
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'domain_match', entry: 'evil.example', hop: 1 })]);
  });

  it('keeps the directories of the path it cuts, never the exact path or query', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(`${hidden('/phish/kit/')}?q=1`);
    expect(prepared.subject.targets.map((t) => t.canonical.canonical).at(-1)).toBe('http://evil.example/phish/kit/');
    expect(blocklist('evil.example/phish/').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    expect(blocklist('http://evil.example/phish/kit/?q=1').matchTargets(prepared.subject.targets).matches).toEqual([]);
  });

  it('marks the cut target: an exact url entry naming the cut form is not hit, nor its expressions lost', async () => {
    const link = `https://good.example%2F@evil.example/a/b/${'ж'.repeat(30)}`;
    const prepared = await new LinkPreparer({ unfurl: false, maxUrlLength: 100 }).prepare(link);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      [expect.stringMatching(/^https:\/\/good\.example\//), undefined],
      ['https://evil.example/a/b/', true],
    ]);
    expect(blocklist('https://evil.example/a/b/').matchTargets(prepared.subject.targets).matches).toEqual([]);
    expect(blocklist('evil.example/a/b/').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'expression_match', hop: 1 })]);
    // A short link to that very page is no cut: it is matched exactly.
    const whole = await new LinkPreparer({ unfurl: false, maxUrlLength: 100 }).prepare('https://good.example%2F@evil.example/a/b/');
    expect(whole.subject.targets.map((t) => t.cut)).toEqual([undefined, undefined]);
    expect(blocklist('https://evil.example/a/b/').matchTargets(whole.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'url_match', hop: 1 })]);
  });

  it('honours its configured limit: a longer limit matches the whole visited form', async () => {
    const prepared = await new LinkPreparer({ unfurl: false, maxUrlLength: 16384 }).prepare(hidden('/'));
    expect(prepared.subject.targets[1]!.canonical.canonical).toBe(`http://evil.example/${'%D0%B6'.repeat(1500)}`);
    expect(prepared.details.visitedCut).toBeUndefined();
    expect(prepared.details.visited).toBe(`http://evil.example/${'%D0%B6'.repeat(1500)}`);
  });

  it('reports url_too_long when not even the visited host fits, never drops it silently', async () => {
    // Punycode makes the host longer than the link spells it.
    const link = 'http://a%2F@例え日本語漢字中文測試網站域名.example/';
    const prepared = await new LinkPreparer({ unfurl: false, maxUrlLength: link.length }).prepare(link);
    expect(prepared.subject.targets.map((t) => t.canonical.host)).toEqual(['a']);
    expect(prepared.errors).toEqual([expect.objectContaining({ code: 'url_too_long', detail: expect.objectContaining({ maxLength: link.length }) })]);
  });
});

describe('LinkPreparer: links at the job URL limit', () => {
  it.each(['ж', '例', '😀', 'a'])('a link of %s up to the limit in characters is matched whole and by host', async (char) => {
    const prefix = 'https://evil.example/';
    for (const maxUrlLength of [8192, 16384]) {
      const link = prefix + char.repeat(Math.floor((maxUrlLength - prefix.length) / char.length));
      const prepared = await new LinkPreparer({ unfurl: false, maxUrlLength }).prepare(link);
      expect(prepared.subject.targets[0]!.canonical.host).toBe('evil.example');
      expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ entry: 'evil.example', hop: 0 })]);
      expect(prepared.errors).toBeUndefined();
    }
  });
});

describe('LinkPreparer: a derived URL over the limit is cut at its canonical path', () => {
  const lists = (block: string[], allow: string[]) =>
    new ListMatcher([
      compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, block.map((entry) => canonicalEntry(entry))),
      compileList({ name: 'allow-x', version: '1', role: 'allow', action: 'block' }, allow.map((entry) => canonicalEntry(entry))),
    ]);
  const pad = 'ж'.repeat(1400);

  it('never cuts to a directory of the raw href that the page is not under (`..%2F` resolves first)', async () => {
    // A browser visits evil.example/<pad>/login; `/safe/` is only in the raw href, before `..%2F`.
    const link = `http://x%2F@evil.example/safe/..%2F${pad}/login`;
    expect(new URL(link).href.length).toBeGreaterThan(8192);
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      [expect.stringMatching(/^http:\/\/x\//), undefined],
      ['http://evil.example/', true],
    ]);
    expect(prepared.details.visitedCut).toBe('http://evil.example/');
    const result = lists(['evil.example/'], ['evil.example/safe/']).matchTargets(prepared.subject.targets);
    expect(result.allowed).toEqual([]);
    expect(result.matches).toEqual([expect.objectContaining({ entry: 'evil.example/', hop: 1 })]);
  });

  it('matches whole a visited form whose href is over the limit and its canonical form is not', async () => {
    const link = `http://x%2F@evil.example/${pad}%2F..%2Fphish/login`;
    expect(new URL(link).href.length).toBeGreaterThan(8192);
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      [expect.stringMatching(/^http:\/\/x\//), undefined],
      ['http://evil.example/phish/login', undefined],
    ]);
    expect(prepared.details).toMatchObject({ visited: 'http://evil.example/phish/login' });
    expect(lists(['evil.example/phish/'], []).matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ entry: 'evil.example/phish/', hop: 1 })]);
    expect(lists(['http://evil.example/phish/login'], []).matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'url_match', hop: 1 })]);
  });

  it('cuts a long path to its canonical directories and drops the query', async () => {
    const link = `http://x%2F@evil.example/a/b%2F..%2Fkit/${pad}?q=1`;
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.subject.targets.at(-1)).toMatchObject({ cut: true, canonical: { canonical: 'http://evil.example/a/kit/', path: '/a/kit/' } });
    expect(prepared.subject.targets.at(-1)!.canonical.query).toBeUndefined();
    expect(lists(['evil.example/a/kit/'], []).matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    expect(lists(['evil.example/a/b/'], []).matchTargets(prepared.subject.targets).matches).toEqual([]);
  });

  it('keeps a cut-to-root target when another target of its host is allowlisted by path', async () => {
    // Safe Browsing reads /safe/x (`///..` drops the ж run); a browser visits /<ж...>/safe/x.
    const link = `http://evil.example/${'ж'.repeat(2000)}///../safe/x`;
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      ['http://evil.example/safe/x', undefined],
      ['http://evil.example/', true],
    ]);
    const result = lists(['evil.example/'], ['evil.example/safe/']).matchTargets(prepared.subject.targets);
    expect(result.allowed).toEqual([expect.objectContaining({ hop: 0 })]);
    expect(result.matches).toEqual([expect.objectContaining({ entry: 'evil.example/', hop: 1 })]);
  });

  it('adds a cut form once, and none when the link itself is that page matched whole', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(`https://evil.example/${'ж'.repeat(2000)}`);
    expect(prepared.subject.targets.map((t) => t.cut)).toEqual([undefined]);
  });
});

describe('LinkPreparer.prepareOffline (a link the job deadline cut or never started)', () => {
  // Any fetch would fail the test: offline preparation never unfurls.
  const noFetch = new UnfurlCache({ prefix: 'never', unfurl: () => Promise.reject(new Error('fetched')) });
  const preparer = new LinkPreparer({ unfurlCache: noFetch });

  it('gives both readings of the link as targets, unfurled never, and says why', () => {
    const prepared = preparer.prepareOffline('http://google.com%2F@evil.example/login', 'cut');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['http://google.com/@evil.example/login', 'http://evil.example/login']);
    expect(prepared.subject.unfurl).toBeUndefined();
    expect(prepared.details).toMatchObject({ host: 'google.com', visited: 'http://evil.example/login', notFetched: 'cut' });
    expect(prepared.details.chain).toBeUndefined();
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    expect(noFetch.stats.misses).toBe(0);
  });

  it('keeps what prepare says of links never fetched, and the partial errors of their own URL', () => {
    expect(preparer.prepareOffline('ftp://files.example.com/a', 'cut').details.notFetched).toBe('ftp: links are judged without fetching');
    expect(new LinkPreparer({ unfurl: false }).prepareOffline('http://example.com/', 'cut').details.notFetched).toBeUndefined();
    expect(preparer.prepareOffline('http://a b.com/', 'cut')).toMatchObject({ errors: [{ code: 'invalid_url' }], subject: { targets: [{ hop: 0, visitable: false }] } });
    expect(() => preparer.prepareOffline({ url: 'https://img.example/a.png' }, 'cut')).toThrow(expect.objectContaining({ code: 'unsupported_item' }));
  });
});

describe('LinkPreparer: what an unfurl adds to the verdict', () => {
  const hop = (i: number, redirect?: string) => ({
    url: `https://h${i}.example/`,
    canonical: `https://h${i}.example/`,
    status: redirect ? 302 : 200,
    address: '192.0.2.1',
    durationMs: 1,
    ...(redirect && { redirect: { kind: 'http' as const, location: redirect } }),
  });
  const preparerFor = (result: UnfurlResult, maxRedirects?: number) =>
    new LinkPreparer({ unfurlCache: new UnfurlCache({ prefix: 'test', unfurl: async () => result }), ...(maxRedirects !== undefined && { unfurlOptions: { maxRedirects } }) });

  it('matches every redirect target, fetched next or not (an https attempt abandoned for http)', async () => {
    const result: UnfurlResult = {
      input: 'http://kit.example/',
      chain: [
        { ...hop(0, 'https://phish.example/login'), url: 'https://kit.example/', canonical: 'https://kit.example/', upgradedFrom: 'http://kit.example/' },
        { ...hop(1), url: 'http://kit.example/', canonical: 'http://kit.example/' },
      ],
      final: { url: 'http://kit.example/', canonical: 'http://kit.example/', fetched: true },
      warnings: ['the https upgrade of http://kit.example/ failed at https://phish.example/login (tls_failed): fetched it over http, as Chrome falls back'],
      privateAddressOverride: false,
    };
    const prepared = await preparerFor(result).prepare('http://kit.example/');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['http://kit.example/', 'https://kit.example/', 'https://phish.example/login']);
    expect(blocklist('phish.example').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    expect(prepared.details.chain).toEqual([
      { url: 'https://kit.example/', upgradedFrom: 'http://kit.example/', status: 302, address: '192.0.2.1', durationMs: 1, redirect: 'http' },
      { url: 'http://kit.example/', status: 200, address: '192.0.2.1', durationMs: 1 },
    ]);
  });

  it('keeps at most maxRedirects + 1 hops and a few warnings a hop in the details, counting the rest', async () => {
    const chain = Array.from({ length: 40 }, (_, i) => hop(i, `https://h${i + 1}.example/`));
    const result: UnfurlResult = { input: 'https://h0.example/', chain, final: null, warnings: Array.from({ length: 500 }, (_, i) => `warning ${i}`), privateAddressOverride: false };
    const prepared = await preparerFor(result, 3).prepare('https://h0.example/');
    expect(prepared.details.chain).toHaveLength(4);
    expect(prepared.details.chainOmitted).toBe(36);
    expect((prepared.details.warnings as string[]).length).toBe(17);
    expect(prepared.details.warningsOmitted).toBe(483);
    // Matching still sees every URL reached.
    expect(prepared.subject.targets).toHaveLength(41);
  });
});

describe('LinkPreparer: ports and app schemes', () => {
  it.each([['http://evil.example:000000000080/'], ['https://evil.example:000000000443/login'], ['evil.example:0000080/x'], ['http://evil.example:00000008443/x']])(
    '%s: a port with leading zeros is read as browsers read it, and the host matched',
    async (link) => {
      const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
      expect(prepared.errors).toBeUndefined();
      expect(prepared.details.host).toBe('evil.example');
      expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'domain_match', entry: 'evil.example' })]);
    },
  );

  /** A preparer whose unfurls end at once on the URL asked, recording the URLs asked. */
  const recording = () => {
    const asked: string[] = [];
    const unfurl = async (input: string): Promise<UnfurlResult> => {
      asked.push(input);
      const url = new URL(input).href;
      return { input, chain: [{ url, canonical: url, status: 200, address: '192.0.2.1', durationMs: 1 }], final: { url, canonical: url, fetched: true }, warnings: [], privateAddressOverride: false };
    };
    return { asked, preparer: new LinkPreparer({ unfurlCache: new UnfurlCache({ prefix: 'test', unfurl }) }) };
  };

  const fallbackLink = 'intent://go#Intent;scheme=noapp;S.browser_fallback_url=https%3A%2F%2Fevil.example%2Flogin;end';

  it('matches the S.browser_fallback_url of an intent: link, where Chrome goes when no app takes it, unfurling off', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(fallbackLink);
    expect(prepared.subject.targets.map((t) => [t.hop, t.canonical.canonical])).toEqual([
      [0, 'intent://go/'],
      [1, 'https://evil.example/login'],
    ]);
    expect(prepared.details).toMatchObject({ canonical: 'intent://go/', opens: ['https://evil.example/login'] });
    expect(prepared.details.notFetched).toBeUndefined();
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ entry: 'evil.example', hop: 1 })]);
  });

  it('unfurls the web URLs of an intent: link like a redirect target, Android\'s fallback (the page Chrome shows) first, and matches their chains', async () => {
    const { asked, preparer } = recording();
    const prepared = await preparer.prepare('intent://evil.example/a#Intent;scheme=https;S.browser_fallback_url=http%3A%2F%2Fother.example%2Fb;end');
    expect(asked).toEqual(['http://other.example/b', 'https://evil.example/a']);
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['intent://evil.example/a', 'http://other.example/b', 'https://evil.example/a']);
    expect((prepared.details.chain as Array<{ url: string }>).map((hop) => hop.url)).toEqual(['http://other.example/b', 'https://evil.example/a']);
    expect(prepared.details.opens).toEqual(['http://other.example/b', 'https://evil.example/a']);
    expect(prepared.details.final).toBe('http://other.example/b');
    expect(prepared.subject.unfurl?.input).toBe('http://other.example/b');
  });

  it('matches and unfurls the data URL of an intent: link with no scheme pair (`intent:http://...`), as Android reads it', async () => {
    const { asked, preparer } = recording();
    const prepared = await preparer.prepare('intent:http://evil.example/login#Intent;end');
    expect(asked).toEqual(['http://evil.example/login']);
    expect(prepared.details.opens).toEqual(['http://evil.example/login']);
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ entry: 'evil.example' })]);
  });

  it("gives Android's fallback and the data URL each the link's budget, at the same time, and the decoys one more after them; the chain within twice the link's hops", async () => {
    const asked: Array<{ input: string; maxRedirects?: number; totalTimeoutMs?: number }> = [];
    let running = 0;
    let mostRunning = 0;
    // Each unfurl makes a chain of 3 hops (2 redirects), whatever its limit (a bug): details keep the link's 2 x 4.
    const unfurl = async (input: string, options?: UnfurlOptions): Promise<UnfurlResult> => {
      asked.push({ input, maxRedirects: options?.maxRedirects, totalTimeoutMs: options?.totalTimeoutMs });
      mostRunning = Math.max(mostRunning, ++running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      const hops = [0, 1, 2].map((n) => ({ url: `${new URL(input).origin}/${n}`, canonical: `${new URL(input).origin}/${n}`, status: n < 2 ? 302 : 200, address: '192.0.2.1', durationMs: 1 }));
      return { input, chain: hops, final: { url: hops[2]!.url, canonical: hops[2]!.url, fetched: true }, warnings: [], privateAddressOverride: false };
    };
    const preparer = new LinkPreparer({ unfurlOptions: { maxRedirects: 3, totalTimeoutMs: 1_500 }, unfurlCache: new UnfurlCache({ prefix: 'test', unfurl }) });
    const prepared = await preparer.prepare(
      'intent://data.example/#Intent;scheme=https;S.browser_fallback_url=https%3A%2F%2Ffb.example%2F;end;S.browser_fallback_url=https%3A%2F%2Fd1.example%2F;S.browser_fallback_url=https%3A%2F%2Fd2.example%2F',
    );
    // The two pages Chrome may open, at once, each with the link's limit and deadline (the cache
    // key of the link's own settings); the decoys in turn, within one more limit and the time left.
    expect(mostRunning).toBe(2);
    expect(asked.map((a) => [a.input, a.maxRedirects])).toEqual([
      ['https://fb.example/', 3],
      ['https://data.example/', 3],
      ['https://d1.example/', 3],
      ['https://d2.example/', 0],
    ]);
    expect(asked.slice(0, 2).map((a) => a.totalTimeoutMs)).toEqual([1_500, 1_500]);
    expect(asked[2]!.totalTimeoutMs).toBeLessThan(1_500);
    expect(asked[3]!.totalTimeoutMs).toBeLessThanOrEqual(asked[2]!.totalTimeoutMs!);
    expect((prepared.details.chain as Array<{ url: string }>).map((hop) => hop.url)).toEqual([
      'https://fb.example/0', 'https://fb.example/1', 'https://fb.example/2',
      'https://data.example/0', 'https://data.example/1', 'https://data.example/2',
      'https://d1.example/0', 'https://d1.example/1',
    ]);
    expect(prepared.details.chainOmitted).toBe(4);
    expect(prepared.details.final).toBe('https://fb.example/2');
    expect(prepared.subject.unfurl?.input).toBe('https://fb.example/');
  });

  it('unfurls the first decoy of an intent: link with no page Chrome opens as the link itself', async () => {
    const asked: Array<{ input: string; options?: UnfurlOptions }> = [];
    const unfurl = async (input: string, options?: UnfurlOptions): Promise<UnfurlResult> => {
      asked.push({ input, options });
      const url = new URL(input).href;
      return { input, chain: [{ url, canonical: url, status: 200, address: '192.0.2.1', durationMs: 1 }], final: { url, canonical: url, fetched: true }, warnings: [], privateAddressOverride: false };
    };
    const preparer = new LinkPreparer({ unfurlOptions: { maxRedirects: 3 }, unfurlCache: new UnfurlCache({ prefix: 'test', unfurl }) });
    await preparer.prepare('intent://go#Intent;scheme=noapp;SEL;S.browser_fallback_url=https%3A%2F%2Fd1.example%2F;end');
    expect(asked.map((a) => [a.input, a.options?.maxRedirects, a.options?.totalTimeoutMs])).toEqual([['https://d1.example/', 3, undefined]]);
  });

  it('still judges an intent: link without a web URL without fetching', async () => {
    const { asked, preparer } = recording();
    const prepared = await preparer.prepare('intent://go#Intent;scheme=noapp;package=com.example;end');
    expect(asked).toEqual([]);
    expect(prepared.details.notFetched).toBe('intent: links are judged without fetching');
    expect(prepared.subject.targets).toHaveLength(1);
  });

  it('matches the fallback of an intent: link naming no host, its own URL a partial error', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare('intent:#Intent;S.browser_fallback_url=https%3A%2F%2Fevil.example%2Flogin;end');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['https://evil.example/login']);
    expect(prepared.errors).toEqual([expect.objectContaining({ code: 'invalid_host' })]);
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    // Never read as the host `intent` of an http link.
    expect(() => canonicalize('intent:#Intent;scheme=x;end')).toThrow(expect.objectContaining({ code: 'invalid_host' }));
    expect(canonicalize('intent:go#Intent;end').canonical).toBe('intent://go/');
  });

  it('keeps the web URLs of an intent: link when the deadline cut it', () => {
    const prepared = new LinkPreparer().prepareOffline(fallbackLink, 'cut');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['intent://go/', 'https://evil.example/login']);
    expect(prepared.details.notFetched).toBe('cut');
  });

  it.each([
    ['microsoft-edge:https://evil.example/login', 'https://evil.example/login'],
    ['x-safari-https://evil.example/login', 'https://evil.example/login'],
    ['googlechromes://evil.example/login', 'https://evil.example/login'],
  ])('%s: a browser wrapper is judged and unfurled as the web URL it opens', async (link, opened) => {
    const { asked, preparer } = recording();
    const prepared = await preparer.prepare(link);
    expect(prepared.errors).toBeUndefined();
    expect(asked).toEqual([opened]);
    expect(prepared.subject.input).toBe(link);
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual([opened]);
    expect(prepared.details).toMatchObject({ canonical: opened, host: 'evil.example', final: opened });
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
  });

  it('reads a wrapped %2F@ link as a browser visits it', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare('microsoft-edge:http://google.com%2F@evil.example/login');
    expect(prepared.details).toMatchObject({ host: 'google.com', visited: 'http://evil.example/login' });
  });
});
