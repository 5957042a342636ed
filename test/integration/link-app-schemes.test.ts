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
      return html(res, '<html>page</html>');
    });
  });

  afterAll(async () => {
    await server.close();
  });

  const scan = async (link: string, blocked: string) => {
    const lists = new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, [canonicalEntry(blocked)])]);
    const links = new LinkPreparer({ unfurlOptions: unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup) });
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

  describe('one unfurl budget for the web URLs of an intent: link', () => {
    const preparer = (options: { maxRedirects?: number; totalTimeoutMs?: number }) =>
      new LinkPreparer({ unfurlOptions: { ...unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup), ...options } });

    it('shares the redirect limit: the fallback and the data URL together make at most the hops of one link, the fallback first', async () => {
      requested.length = 0;
      // The fallback (unfurled first: the page Chrome shows) takes 2 hops (1 redirect) of the 4 a
      // link with 3 redirects has; the data URL redirects forever: two requests are left for it.
      const link = (fallbackPath: string, dataPath: string) =>
        `intent://data.test:${server.port}${dataPath}#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://fb.test:${server.port}${fallbackPath}`)};end`;
      const prepared = await preparer({ maxRedirects: 3 }).prepare(link('/r', '/hop/0'));
      expect(requested).toEqual(['fb.test /r', 'kit.test /phish', 'data.test /hop/0', 'data.test /hop/1']);
      expect((prepared.details.chain as unknown[]).length).toBe(4);
      expect(prepared.errors).toEqual([expect.objectContaining({ code: 'too_many_redirects' })]);
      // Where the data URL sent the browser last is matched, not fetched, as a redirect target beyond the limit is.
      expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain('http://data.test/hop/2');

      requested.length = 0;
      const looping = await preparer({ maxRedirects: 3 }).prepare(link('/hop/0', '/r'));
      // The fallback spends every hop: the data URL is matched, never fetched.
      expect(requested).toEqual(['fb.test /hop/0', 'fb.test /hop/1', 'fb.test /hop/2', 'fb.test /hop/3']);
      expect((looping.details.chain as unknown[]).length).toBe(4);
      expect(looping.errors).toEqual([expect.objectContaining({ code: 'too_many_redirects' })]);
      expect(looping.subject.targets.map((t) => t.canonical.canonical)).toContain('http://data.test/r');
    });

    it("a decoy data URL redirecting to the limit cannot spend the budget of the fallback Chrome opens: its redirect to a blocklisted page blocks", async () => {
      requested.length = 0;
      const link = `intent://decoy.test:${server.port}/hop/0#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://clean.test:${server.port}/r`)};end`;
      const verdict = await scan(link, 'kit.test');
      expect(verdict.decision).toBe('block');
      expect(verdict.signals).toContainEqual(expect.objectContaining({ source: 'blocklist', evidence: expect.objectContaining({ entry: 'kit.test', url: 'http://kit.test/phish' }) }));
      expect(requested.slice(0, 2)).toEqual(['clean.test /r', 'kit.test /phish']);
      expect(verdict.items[0]!.details.opens).toEqual([`http://clean.test:${server.port}/r`, `http://decoy.test:${server.port}/hop/0`]);
    });

    it("shares the deadline: the data URL gets what the fallback left of the link's time", async () => {
      requested.length = 0;
      const link = `intent://data.test:${server.port}/slow#Intent;scheme=http;S.browser_fallback_url=${encodeURIComponent(`http://fb.test:${server.port}/slow`)};end`;
      const started = performance.now();
      const prepared = await preparer({ totalTimeoutMs: 1_000 }).prepare(link);
      const elapsed = performance.now() - started;
      // Each page takes 700 ms: one link's 1 s is not enough for both (1.4 s when each had its own).
      expect(elapsed).toBeLessThan(1_300);
      expect(requested).toEqual(['fb.test /slow', 'data.test /slow']);
      expect(prepared.errors).toEqual([expect.objectContaining({ code: 'fetch_timeout' })]);
      expect((prepared.details.chain as Array<{ url: string }>).map((hop) => hop.url)).toEqual([`http://fb.test:${server.port}/slow`]);
    });
  });
});
