/**
 * Chrome's fallback to http after a failed https upgrade is a redirect within the same
 * navigation: it counts toward the redirect limit (a chain of http-only hosts, each upgraded and
 * falling back, once went on for thousands of hops), it is never taken from the chain's own
 * limits (too_many_redirects, redirect_loop), what the abandoned https attempt visited is no loop
 * for the fallback's redirects, and where that attempt was sent is still matched.
 * Test servers listen on ephemeral ports: httpsUpgradePortsForTesting maps them as 80 and 443.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { html, redirect, startServer, unusedPort, type TestServer } from './unfurl-servers.js';
import { hostOf, localHttpsOptions, startHttpsServer, trustTestCertificate, type TestHttpsServer } from './unfurl-https-servers.js';

let plain: TestServer;
let secure: TestHttpsServer;
let untrust: () => void;
/** Requests to www.example.com over https: the first one answers after Chrome's fallback timer. */
let wwwRequests = 0;

beforeAll(async () => {
  untrust = trustTestCertificate();
  plain = await startServer((req, res) => {
    const host = hostOf(req);
    const chained = /^h(\d+)\.example\.com$/.exec(host);
    // h0 -> h1 -> ... -> h11, each over http only (https is refused: see chainOptions).
    if (chained) return Number(chained[1]) < 11 ? redirect(res, 302, `http://h${Number(chained[1]) + 1}.example.com:${plain.port}/`) : html(res, 'the end of the chain');
    if (host === 'shop.example.com') return redirect(res, 301, `https://www.example.com:${secure.port}/`);
    if (host === 'store.example.com') return redirect(res, 301, `https://www.example.net:${secure.port}/`);
    return html(res, `<title>harmless page over http at ${host}</title>`);
  });
  secure = await startHttpsServer((req, res) => {
    const host = hostOf(req);
    if (host === 'shop.example.com') return redirect(res, 301, `https://www.example.com:${secure.port}/`);
    if (host === 'www.example.com') {
      wwwRequests++;
      if (wwwRequests === 1) return void setTimeout(() => html(res, 'www page'), 3_500).unref();
      return html(res, 'www page');
    }
    // The test certificate is not for *.example.net: a TLS failure.
    if (host === 'store.example.com') return redirect(res, 301, `https://www.example.net:${secure.port}/`);
    if (host === 'kit.example.com' && req.url === '/') return redirect(res, 302, `https://phish.example.net:${secure.port}/login`);
    if (req.url === '/login') return redirect(res, 302, '/phish');
    return html(res, `https page ${req.url}`);
  });
});

afterAll(async () => {
  untrust();
  await plain.close();
  await secure.close();
});

function options(overrides: Partial<UnfurlOptions> = {}): UnfurlOptions {
  return localHttpsOptions(plain, secure, overrides);
}

/** Nothing listens for https: every upgrade is refused at once and falls back. */
async function chainOptions(overrides: Partial<UnfurlOptions> = {}): Promise<UnfurlOptions> {
  const closed = await unusedPort();
  return options({ httpsUpgradePortsForTesting: { http: plain.port, https: closed }, allowPrivateAddressesFor: [`127.0.0.1:${plain.port}`, `127.0.0.1:${closed}`], ...overrides });
}

const own = (warnings: readonly string[]) => warnings.filter((warning) => !warning.includes('OVERRIDDEN'));

describe('https upgrade fallbacks and the redirect limit', () => {
  it('keeps the whole redirect limit for http-only hosts, and ends there: 12 chained end with too_many_redirects after 11 hops', async () => {
    const before = plain.requests.length;
    const result = await unfurl(`http://h0.example.com:${plain.port}/`, await chainOptions({ maxRedirects: 10, totalTimeoutMs: 3_000 }));
    expect(result.error).toMatchObject({ code: 'too_many_redirects' });
    // A fallback from an attempt that failed at its first URL only replaces the upgrade: each host
    // costs its one redirect, as before https-first fetching, so h0..h10 are fetched (10 redirects).
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual(Array.from({ length: 11 }, (_, i) => [`http://h${i}.example.com:${plain.port}/`, 302]));
    expect(plain.requests.length - before).toBe(11);
    expect(own(result.warnings)).toHaveLength(11);
  });

  it('bounds a verdict by the redirect limit: the chain, its targets and warnings', async () => {
    for (const maxRedirects of [3, 10]) {
      const preparer = new LinkPreparer({ unfurlOptions: await chainOptions({ maxRedirects, totalTimeoutMs: 3_000 }) });
      const prepared = await preparer.prepare(`http://h0.example.com:${plain.port}/`);
      expect(prepared.errors).toEqual([expect.objectContaining({ code: 'too_many_redirects' })]);
      const chain = prepared.details.chain as unknown[];
      expect(chain.length).toBeGreaterThan(0);
      expect(chain.length).toBeLessThanOrEqual(maxRedirects + 1);
      expect(prepared.subject.unfurl!.chain.length).toBeLessThanOrEqual(maxRedirects + 1);
      // The input, then each host once (its http and https forms are one target each).
      expect(prepared.subject.targets.length).toBeLessThanOrEqual(2 * (maxRedirects + 2));
      expect(JSON.stringify(prepared.details).length).toBeLessThan(8_000);
    }
  });

  it('never falls back from too_many_redirects met in the https attempt', async () => {
    // https: /login -> /phish (2 redirects with the upgrade's start), limit 1.
    const before = plain.requests.length;
    const result = await unfurl(`http://kit.example.com:${plain.port}/login`, options({ maxRedirects: 0 }));
    expect(result.error).toMatchObject({ code: 'too_many_redirects' });
    expect(result.chain.map((hop) => hop.url)).toEqual([`https://kit.example.com:${secure.port}/login`]);
    expect(plain.requests.length - before).toBe(0);
    expect(own(result.warnings)).toEqual([]);
  });
});

describe('https upgrade fallbacks and redirect loops', () => {
  it('is no loop when the http page redirects where the abandoned https attempt went (slow answer)', async () => {
    wwwRequests = 0;
    const started = performance.now();
    const result = await unfurl(`http://shop.example.com:${plain.port}/`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://shop.example.com:${secure.port}/`, 301],
      [`http://shop.example.com:${plain.port}/`, 301],
      [`https://www.example.com:${secure.port}/`, 200],
    ]);
    expect(result.final).toMatchObject({ url: `https://www.example.com:${secure.port}/`, fetched: true });
    expect(own(result.warnings).join('\n')).toMatch(/https upgrade of http:\/\/shop\.example\.com:\d+\/ failed at https:\/\/www\.example\.com:\d+\/ \(fetch_timeout\)/);
    expect(performance.now() - started).toBeLessThan(4_500);
  });

  it('is no loop when the http page redirects where the abandoned https attempt failed TLS', async () => {
    const result = await unfurl(`http://store.example.com:${plain.port}/`, options());
    // Browsers fail there too (the certificate is not for www.example.net): no redirect_loop.
    expect(result.error).toMatchObject({ code: 'tls_failed' });
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://store.example.com:${secure.port}/`, 301],
      [`http://store.example.com:${plain.port}/`, 301],
    ]);
    expect(result.final).toMatchObject({ url: `https://www.example.net:${secure.port}/`, fetched: false });
  });
});

describe('https upgrade fallbacks in verdicts', () => {
  it('matches where the abandoned https attempt was sent, and the details say so', async () => {
    const preparer = new LinkPreparer({ unfurlOptions: options() });
    const prepared = await preparer.prepare(`http://kit.example.com:${plain.port}/`);
    expect(prepared.errors).toBeUndefined();
    const targets = prepared.subject.targets.map((target) => target.canonical.canonical);
    expect(targets).toContain('https://phish.example.net/login');
    expect(prepared.details.chain).toEqual([
      expect.objectContaining({ url: `https://kit.example.com:${secure.port}/`, upgradedFrom: `http://kit.example.com:${plain.port}/`, status: 302, redirect: 'http' }),
      { url: `http://kit.example.com:${plain.port}/`, status: 200, address: '127.0.0.1', durationMs: expect.any(Number) },
    ]);
    expect(own(prepared.details.warnings as string[]).join('\n')).toMatch(
      /https upgrade of http:\/\/kit\.example\.com:\d+\/ failed at https:\/\/phish\.example\.net:\d+\/login \(tls_failed\): fetched it over http/,
    );
    // The https form of the same link matches the same page.
    const direct = await preparer.prepare(`https://kit.example.com:${secure.port}/`);
    expect(direct.subject.targets.map((target) => target.canonical.canonical)).toContain('https://phish.example.net/login');
  });

  it('shows an upgrade in the details as upgradedFrom, not as a server redirect', async () => {
    const preparer = new LinkPreparer({ unfurlOptions: options() });
    const prepared = await preparer.prepare(`http://kit.example.com:${plain.port}/login`);
    expect(prepared.errors).toBeUndefined();
    expect(prepared.details.chain).toEqual([
      expect.objectContaining({ url: `https://kit.example.com:${secure.port}/login`, upgradedFrom: `http://kit.example.com:${plain.port}/login`, status: 302, redirect: 'http' }),
      expect.not.objectContaining({ upgradedFrom: expect.anything() }),
    ]);
    expect((prepared.details.chain as Array<{ url: string }>)[1]!.url).toBe(`https://kit.example.com:${secure.port}/phish`);
    expect(own((prepared.details.warnings as string[] | undefined) ?? [])).toEqual([]);
  });
});
