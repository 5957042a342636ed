import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateJob } from '../../src/jobs/validate-job.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { compileList, ListMatcher } from '../../src/lists/list-matcher.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { DEFAULT_POLICY } from '../../src/policy/policy-config.js';
import { createLinkBlocklistSignalType } from '../../src/signals/link-blocklist/index.js';
import { SignalRegistry } from '../../src/signals/registry.js';
import { html, lookupAnswering, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * Links of app schemes that open a web page, scanned end to end through real local servers: an
 * Android `intent:` link's S.browser_fallback_url (where Chrome goes when no app takes the intent),
 * a browser wrapper (`microsoft-edge:<URL>`), and a port written with leading zeros are matched
 * against a blocklist and unfurled as the page a browser opens.
 */
/** The link budget of the stalling tests, scaled down from 5 s a hop and 20 s a link. */
const HOP_MS = 1_000;
const TOTAL_MS = 3_000;
const STALL_MS = 900;

describe('links of app schemes and odd ports, scanned', () => {
  let server: TestServer;
  const requested: string[] = [];

  beforeAll(async () => {
    server = await startServer((req, res) => {
      requested.push(`${req.headers.host?.split(':')[0]} ${req.url}`);
      if (req.url === '/r') return redirect(res, 302, `http://kit.test:${server.port}/phish`);
      const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '');
      if (hop) return redirect(res, 302, `/hop/${Number(hop[1]) + 1}`);
      if (req.url === '/slow') return void setTimeout(() => html(res, '<html>slow</html>'), 700);
      // Each hop answers just under the scaled-down hop timeout below (STALL_MS of HOP_MS).
      const stall = /^\/stall\/(\d+)$/.exec(req.url ?? '');
      if (stall) return void setTimeout(() => redirect(res, 302, `/stall/${Number(stall[1]) + 1}`), STALL_MS);
      return html(res, '<html>page</html>');
    });
  });

  afterAll(async () => {
    await server.close();
  });

  const scan = async (link: string, blocked: string, options: { maxRedirects?: number; hopTimeoutMs?: number; totalTimeoutMs?: number } = {}) => {
    const lists = new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, [canonicalEntry(blocked)])]);
    const links = new LinkPreparer({ unfurlOptions: { ...unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup), ...options } });
    const pipeline = new ScanPipeline({ preparers: [links], registry: new SignalRegistry([createLinkBlocklistSignalType({ current: () => lists })]), policy: DEFAULT_POLICY });
    const job = validateJob({ schemaVersion: 1, contentId: 'c-1', surface: 'send', items: [link] });
    return pipeline.scan(job, { jobId: 'job-1', attempt: 1, finalAttempt: false });
  };
  const fallback = (url: string) => `intent://go#Intent;scheme=noapp;S.browser_fallback_url=${encodeURIComponent(url)};end`;

  it("blocks an intent: link whose fallback URL is blocklisted, and unfurls the fallback", async () => {
    requested.length = 0;
    const verdict = await scan(fallback(`http://evil.test:${server.port}/login`), 'evil.test');
    expect(verdict.decision).toBe('block');
    expect(verdict.signals).toEqual([expect.objectContaining({ source: 'blocklist', evidence: expect.objectContaining({ entry: 'evil.test', hop: 1, url: 'http://evil.test/login' }) })]);
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { canonical: 'intent://go/', opens: [`http://evil.test:${server.port}/login`] } });
    expect(verdict.items[0]!.details.notFetched).toBeUndefined();
    expect(requested).toEqual(['evil.test /login']);
  });

  it('blocks an intent: link whose fallback redirects to a blocklisted page', async () => {
    requested.length = 0;
    const verdict = await scan(fallback(`http://clean.test:${server.port}/r`), 'kit.test');
    expect(verdict.decision).toBe('block');
    expect(verdict.signals).toEqual([expect.objectContaining({ source: 'blocklist', evidence: expect.objectContaining({ entry: 'kit.test', url: 'http://kit.test/phish' }) })]);
    expect((verdict.items[0]!.details.chain as Array<{ url: string; status: number }>).map((hop) => [hop.url, hop.status])).toEqual([
      [`http://clean.test:${server.port}/r`, 302],
      [`http://kit.test:${server.port}/phish`, 200],
    ]);
    expect(requested).toEqual(['clean.test /r', 'kit.test /phish']);
  });

  it('blocks an intent: link naming no host by its fallback URL', async () => {
    requested.length = 0;
    const verdict = await scan(`intent:#Intent;S.browser_fallback_url=${encodeURIComponent(`http://evil.test:${server.port}/login`)};end`, 'evil.test');
    expect(verdict.decision).toBe('block');
    expect(requested).toEqual(['evil.test /login']);
  });

  it.each([
    [(port: number) => `intent:http://evil.test:${port}/login#Intent;end`, 'evil.test', ['evil.test /login']],
    [(port: number) => `intent:HTTP://clean.test:${port}/r#Intent;package=com.x;end`, 'kit.test', ['clean.test /r', 'kit.test /phish']],
  ])('blocks an intent: link whose data URL is given whole, with no scheme pair (%#), and unfurls it', async (link, blocked, fetched) => {
    requested.length = 0;
    const verdict = await scan(link(server.port), blocked);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details.opens).toEqual([link(server.port).replace(/^intent:HTTP/, 'http').replace(/^intent:/, '').replace(/#.*/, '')]);
    expect(requested).toEqual(fetched);
  });

  it('blocks and unfurls the page a microsoft-edge: wrapper opens', async () => {
    requested.length = 0;
    const verdict = await scan(`microsoft-edge:http://clean.test:${server.port}/r`, 'kit.test');
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { canonical: 'http://clean.test/r', final: 'http://kit.test/phish' } });
    expect(requested).toEqual(['clean.test /r', 'kit.test /phish']);
  });

  it('blocks and unfurls a link whose port has leading zeros', async () => {
    requested.length = 0;
    const verdict = await scan(`http://evil.test:00000000${server.port}/x`, 'evil.test');
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { canonical: 'http://evil.test/x' } });
    expect(verdict.errors).toEqual([]);
    expect(requested).toEqual(['evil.test /x']);
  });

  it.each([
    [(url: string) => `intent://go#Intent;scheme=noapp;S.browser_fallback%5Furl=${encodeURIComponent(url)};end`],
    [(url: string) => `intent://go#Intent;scheme=noapp;S.%62rowser_fallback_url=${encodeURIComponent(url)};end`],
    [(url: string) => `intent://go#Intent;scheme=noapp;S.browser_fallback_url=${encodeURIComponent(url)};endx;S.browser_fallback_url=https%3A%2F%2Fclean.test%2F;end`],
    [(url: string) => `intent://go#Intent;scheme=noapp;S.browser_fallback_url=${encodeURIComponent(url)};SEL;S.browser_fallback_url=https%3A%2F%2Fclean.test%2F;end`],
  ])('blocks an intent: link whose fallback is hidden from a naive reading (%#)', async (link) => {
    requested.length = 0;
    const verdict = await scan(link(`http://evil.test:${server.port}/login`), 'evil.test');
    expect(verdict.decision).toBe('block');
    expect((verdict.items[0]!.details.opens as string[])[0]).toBe(`http://evil.test:${server.port}/login`);
    expect(requested[0]).toBe('evil.test /login');
  });

  describe('the unfurl budgets of the web URLs of an intent: link', () => {
    const preparer = (options: { maxRedirects?: number; totalTimeoutMs?: number }) =>
      new LinkPreparer({ unfurlOptions: { ...unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup), ...options } });
    const of = (host: string) => requested.filter((request) => request.startsWith(`${host} `));

    it("gives the fallback and the data URL each the link's whole redirect limit: neither spends the other's, at most twice the hops of one link", async () => {
      requested.length = 0;
      const link = (fallbackPath: string, dataPath: string) =>
        `intent://data.test:${server.port}${dataPath}#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://fb.test:${server.port}${fallbackPath}`)};end`;
      const prepared = await preparer({ maxRedirects: 3 }).prepare(link('/r', '/hop/0'));
      // The data URL redirects forever: the 4 requests of a link with 3 redirects, whatever the fallback took.
      expect(of('fb.test')).toEqual(['fb.test /r']);
      expect(of('kit.test')).toEqual(['kit.test /phish']);
      expect(of('data.test')).toEqual(['data.test /hop/0', 'data.test /hop/1', 'data.test /hop/2', 'data.test /hop/3']);
      expect(requested).toHaveLength(6);
      // The chain in the order of `opens`: the fallback's hops, then the data URL's.
      expect((prepared.details.chain as Array<{ url: string }>).map((hop) => new URL(hop.url).host.split(':')[0])).toEqual(['fb.test', 'kit.test', 'data.test', 'data.test', 'data.test', 'data.test']);
      expect(prepared.errors).toEqual([expect.objectContaining({ code: 'too_many_redirects' })]);
      // Where the data URL sent the browser last is matched, not fetched, as a redirect target beyond the limit is.
      expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain('http://data.test/hop/4');

      requested.length = 0;
      const looping = await preparer({ maxRedirects: 3 }).prepare(link('/hop/0', '/r'));
      // The fallback redirecting to the limit leaves the data URL its own: its redirect is followed.
      expect(of('fb.test')).toEqual(['fb.test /hop/0', 'fb.test /hop/1', 'fb.test /hop/2', 'fb.test /hop/3']);
      expect(of('data.test')).toEqual(['data.test /r']);
      expect(of('kit.test')).toEqual(['kit.test /phish']);
      expect((looping.details.chain as unknown[]).length).toBe(6);
      expect(looping.errors).toEqual([expect.objectContaining({ code: 'too_many_redirects' })]);
      expect(looping.subject.targets.map((t) => t.canonical.canonical)).toContain('http://kit.test/phish');
    });

    it('gives the decoys (fallbacks Android skips) one more redirect limit among them, after the two pages: at most 3 x (maxRedirects + 1) requests', async () => {
      requested.length = 0;
      const fallbackTo = (url: string) => `S.browser_fallback_url=${encodeURIComponent(url)}`;
      const link =
        `intent://data.test:${server.port}/hop/0#Intent;scheme=http;${fallbackTo(`http://fb.test:${server.port}/hop/0`)};end;` +
        `${fallbackTo(`http://d1.test:${server.port}/hop/0`)};${fallbackTo(`http://d2.test:${server.port}/r`)}`;
      const prepared = await preparer({ maxRedirects: 3 }).prepare(link);
      expect(prepared.details.opens).toEqual([`http://fb.test:${server.port}/hop/0`, `http://data.test:${server.port}/hop/0`, `http://d1.test:${server.port}/hop/0`, `http://d2.test:${server.port}/r`]);
      expect(of('fb.test')).toHaveLength(4);
      expect(of('data.test')).toHaveLength(4);
      // The first decoy spends the decoys' 4 requests: the second is matched, never fetched.
      expect(requested.slice(8)).toEqual(['d1.test /hop/0', 'd1.test /hop/1', 'd1.test /hop/2', 'd1.test /hop/3']);
      expect(requested).toHaveLength(12);
      expect(prepared.errors).toEqual([expect.objectContaining({ code: 'too_many_redirects' })]);
      expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain('http://d2.test/r');
      // The chain keeps twice the hops of one link, the decoys' last.
      expect((prepared.details.chain as unknown[]).length).toBe(8);
      expect(prepared.details.chainOmitted).toBe(4);
    });

    it("a decoy data URL redirecting to the limit cannot spend the budget of the fallback Chrome opens: its redirect to a blocklisted page blocks", async () => {
      requested.length = 0;
      const link = `intent://decoy.test:${server.port}/hop/0#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://clean.test:${server.port}/r`)};end`;
      const verdict = await scan(link, 'kit.test');
      expect(verdict.decision).toBe('block');
      expect(verdict.signals).toContainEqual(expect.objectContaining({ source: 'blocklist', evidence: expect.objectContaining({ entry: 'kit.test', url: 'http://kit.test/phish' }) }));
      expect(of('clean.test')).toEqual(['clean.test /r']);
      expect(of('kit.test')).toEqual(['kit.test /phish']);
      expect(verdict.items[0]!.details.opens).toEqual([`http://clean.test:${server.port}/r`, `http://decoy.test:${server.port}/hop/0`]);
    });

    it.each([
      ['a fallback stalling each hop hides no data URL Chrome opens itself (package=com.android.chrome)', (port: number) => `intent://data.test:${port}/r#Intent;scheme=http;package=com.android.chrome;S.browser_fallback_url=${encodeURIComponent(`http://fb.test:${port}/stall/0`)};end`],
      ['a data URL stalling each hop hides no fallback', (port: number) => `intent://data.test:${port}/stall/0#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://fb.test:${port}/r`)};end`],
    ])("%s: each page has the link's whole deadline, the link takes one unfurl's time", async (_name, link) => {
      requested.length = 0;
      const started = performance.now();
      // Each hop of the stalling page takes 0.9 s of the hop's 1 s: it uses up the link's 3 s.
      const verdict = await scan(link(server.port), 'kit.test', { hopTimeoutMs: HOP_MS, totalTimeoutMs: TOTAL_MS });
      const elapsed = performance.now() - started;
      expect(verdict.decision).toBe('block');
      expect(verdict.signals).toContainEqual(expect.objectContaining({ source: 'blocklist', evidence: expect.objectContaining({ entry: 'kit.test', url: 'http://kit.test/phish' }) }));
      expect(of('kit.test')).toEqual(['kit.test /phish']);
      expect(elapsed).toBeLessThan(TOTAL_MS + 1_000);
    });

    it('unfurls the fallback and the data URL at the same time, each with the whole deadline; the decoys get what is left', async () => {
      requested.length = 0;
      const link = `intent://data.test:${server.port}/slow#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://fb.test:${server.port}/slow`)};end;S.browser_fallback_url=${encodeURIComponent(`http://decoy.test:${server.port}/slow`)}`;
      const started = performance.now();
      const prepared = await preparer({ totalTimeoutMs: 1_000 }).prepare(link);
      const elapsed = performance.now() - started;
      // Each page takes 700 ms: the two take one link's 1 s together; the decoy gets the 0.3 s left.
      expect(elapsed).toBeLessThan(1_300);
      expect(requested.slice(0, 2).sort()).toEqual(['data.test /slow', 'fb.test /slow']);
      expect(requested[2]).toBe('decoy.test /slow');
      expect(prepared.errors).toEqual([expect.objectContaining({ code: 'fetch_timeout' })]);
      expect((prepared.details.chain as Array<{ url: string }>).map((hop) => hop.url)).toEqual([`http://fb.test:${server.port}/slow`, `http://data.test:${server.port}/slow`]);
    });
  });
});
