/**
 * An http:// link is fetched as browsers fetch it: over https for a host under an HSTS-preloaded
 * suffix (every browser; never over http), and over https first with a fallback to http for
 * Chrome's HTTPS-Upgrades. A server answering port 80 with a harmless page and port 443 with a
 * redirect to a phishing page showed the unfurler the harmless page, every victim the other one.
 * Test servers listen on ephemeral ports: httpsUpgradePortsForTesting maps them as 80 and 443.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, redirect, startServer, unusedPort, type TestServer } from './unfurl-servers.js';
import { hostOf, localHttpsOptions, startHttpsServer, trustTestCertificate, type TestHttpsServer } from './unfurl-https-servers.js';

/** `host path` of each request to the http server. */
const httpRequests: string[] = [];
let plain: TestServer;
let secure: TestHttpsServer;
let untrust: () => void;

beforeAll(async () => {
  untrust = trustTestCertificate();
  plain = await startServer((req, res) => {
    httpRequests.push(`${hostOf(req)} ${req.url}`);
    if (req.url === '/to-upgradable') return redirect(res, 302, `http://next.example.com:${plain.port}/next`);
    return html(res, `<title>harmless page over http at ${hostOf(req)}</title>`);
  });
  secure = await startHttpsServer((req, res) => {
    const host = hostOf(req);
    const origin = `https://${host}:${secure.port}`;
    switch (req.url) {
      case '/login':
        return redirect(res, 302, `${origin}/phish`);
      case '/phish':
        return html(res, '<title>phishing page over https</title>');
      case '/next':
        return redirect(res, 302, `${origin}/phish`);
      case '/to-http':
        // An https page sending browsers to its own http form.
        return redirect(res, 301, `http://${host}:${plain.port}/to-http`);
      case '/refresh-to-http':
        return html(res, `<meta http-equiv="refresh" content="5; url=http://${host}:${plain.port}/refresh-to-http">`);
      case '/slow':
        // Answers after Chrome's 3 s fallback timer.
        return void setTimeout(() => html(res, 'slow https page'), 4_000).unref();
      case '/several-locations':
        res.setHeader('location', ['/phish', '/other']);
        res.writeHead(302, { 'content-length': '0' });
        return res.end();
      default:
        return html(res, `https page ${req.url}`);
    }
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

function newRequests<T>(list: T[], from: number): T[] {
  return list.slice(from);
}

describe('unfurl: HSTS-preloaded suffixes', () => {
  it('fetches an http link to a .app host over https only, following where https leads', async () => {
    const [httpBefore, httpsBefore] = [httpRequests.length, secure.requests.length];
    const result = await unfurl(`http://phish-kit.app:${plain.port}/login`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://phish-kit.app:${secure.port}/login`, 302],
      [`https://phish-kit.app:${secure.port}/phish`, 200],
    ]);
    expect(result.chain[0]!.upgradedFrom).toBe(`http://phish-kit.app:${plain.port}/login`);
    expect(result.chain[0]!.canonical).toBe('https://phish-kit.app/login');
    expect(result.final).toMatchObject({ url: `https://phish-kit.app:${secure.port}/phish`, fetched: true });
    expect(newRequests(httpRequests, httpBefore)).toEqual([]);
    expect(newRequests(secure.requests, httpsBefore)).toEqual(['phish-kit.app /login', 'phish-kit.app /phish']);
  });

  it('never falls back to http: a TLS failure ends the chain', async () => {
    const httpBefore = httpRequests.length;
    // The test certificate is not for kit.dev.
    const result = await unfurl(`http://kit.dev:${plain.port}/login`, options());
    expect(result.error).toMatchObject({ code: 'tls_failed' });
    expect(result.chain).toEqual([]);
    expect(result.final).toMatchObject({ url: `https://kit.dev:${secure.port}/login`, fetched: false });
    expect(newRequests(httpRequests, httpBefore)).toEqual([]);
  });

  it('upgrades a redirect to an http URL of such a host', async () => {
    const httpBefore = httpRequests.length;
    const start = await startServer((_req, res) => redirect(res, 302, `http://www.phish-kit.app:${plain.port}/login`));
    try {
      const result = await unfurl(`${start.origin}/`, options({ allowPrivateAddressesFor: [`127.0.0.1:${plain.port}`, `127.0.0.1:${secure.port}`, `127.0.0.1:${start.port}`] }));
      expect(result.error).toBeUndefined();
      expect(result.chain.map((hop) => hop.url)).toEqual([`${start.origin}/`, `https://www.phish-kit.app:${secure.port}/login`, `https://www.phish-kit.app:${secure.port}/phish`]);
      expect(newRequests(httpRequests, httpBefore)).toEqual([]);
    } finally {
      await start.close();
    }
  });
});

describe("unfurl: Chrome's HTTPS-Upgrades", () => {
  it('fetches an http link on the default port over https first (port 80 harmless, 443 a redirect)', async () => {
    const [httpBefore, tlsBefore] = [httpRequests.length, secure.secureConnections()];
    const result = await unfurl(`http://kit.example.com:${plain.port}/login`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://kit.example.com:${secure.port}/login`, 302],
      [`https://kit.example.com:${secure.port}/phish`, 200],
    ]);
    expect(result.chain[0]!.upgradedFrom).toBe(`http://kit.example.com:${plain.port}/login`);
    expect(secure.secureConnections() - tlsBefore).toBe(2);
    expect(newRequests(httpRequests, httpBefore)).toEqual([]);
    expect(result.warnings.filter((w) => !w.includes('OVERRIDDEN'))).toEqual([]);
  });

  it('falls back to http when TLS fails, as Chrome does, with a warning', async () => {
    const httpBefore = httpRequests.length;
    // The test certificate is not for kit.example.net.
    const result = await unfurl(`http://kit.example.net:${plain.port}/page`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status, hop.upgradedFrom])).toEqual([[`http://kit.example.net:${plain.port}/page`, 200, undefined]]);
    expect(newRequests(httpRequests, httpBefore)).toEqual(['kit.example.net /page']);
    expect(result.warnings.join('\n')).toMatch(/https upgrade of http:\/\/kit\.example\.net:\d+\/page failed \(tls_failed\): fetched it over http/);
  });

  it('falls back to http when nothing listens for https', async () => {
    const closed = await unusedPort();
    const result = await unfurl(`http://kit.example.com:${plain.port}/page`, options({ httpsUpgradePortsForTesting: { http: plain.port, https: closed }, allowPrivateAddressesFor: [`127.0.0.1:${plain.port}`, `127.0.0.1:${closed}`] }));
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => hop.url)).toEqual([`http://kit.example.com:${plain.port}/page`]);
    expect(result.warnings.join('\n')).toMatch(/failed \(fetch_failed\)/);
  });

  it("falls back to http when https gives no answer within Chrome's 3 s timer", async () => {
    const started = performance.now();
    const result = await unfurl(`http://kit.example.com:${plain.port}/slow`, options());
    const elapsed = performance.now() - started;
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => hop.url)).toEqual([`http://kit.example.com:${plain.port}/slow`]);
    expect(result.warnings.join('\n')).toMatch(/failed \(fetch_timeout\)/);
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(elapsed).toBeLessThan(4_000);
  });

  it('falls back to http when the upgraded navigation fails at a redirect browsers refuse', async () => {
    const result = await unfurl(`http://kit.example.com:${plain.port}/several-locations`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://kit.example.com:${secure.port}/several-locations`, 302],
      [`http://kit.example.com:${plain.port}/several-locations`, 200],
    ]);
    expect(result.warnings.join('\n')).toMatch(/failed \(bad_redirect\)/);
  });

  it('upgrades an http redirect target', async () => {
    const httpBefore = httpRequests.length;
    // 127.0.0.1 is not upgraded (not a public address); next.example.com is.
    const result = await unfurl(`${plain.origin}/to-upgradable`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`${plain.origin}/to-upgradable`, 302],
      [`https://next.example.com:${secure.port}/next`, 302],
      [`https://next.example.com:${secure.port}/phish`, 200],
    ]);
    expect(result.chain[0]!.redirect?.location).toBe(`http://next.example.com:${plain.port}/next`);
    expect(newRequests(httpRequests, httpBefore)).toEqual(['127.0.0.1 /to-upgradable']);
  });

  it('fetches over http an https page that sends browsers to its own http form (no loop)', async () => {
    const result = await unfurl(`http://kit.example.com:${plain.port}/to-http`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://kit.example.com:${secure.port}/to-http`, 301],
      [`http://kit.example.com:${plain.port}/to-http`, 200],
    ]);
  });

  it('fetches over http the http form an https link redirects to', async () => {
    const result = await unfurl(`https://kit.example.com:${secure.port}/to-http`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([
      [`https://kit.example.com:${secure.port}/to-http`, 301],
      [`http://kit.example.com:${plain.port}/to-http`, 200],
    ]);
  });

  it('ends at an https page whose refresh reloads it by its http form (browsers upgrade it)', async () => {
    const httpBefore = httpRequests.length;
    const result = await unfurl(`http://kit.example.com:${plain.port}/refresh-to-http`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status])).toEqual([[`https://kit.example.com:${secure.port}/refresh-to-http`, 200]]);
    expect(result.final).toMatchObject({ url: `https://kit.example.com:${secure.port}/refresh-to-http`, fetched: true });
    expect(newRequests(httpRequests, httpBefore)).toEqual([]);
  });

  it('upgrades an http link on another port to https on that same port, as Chrome does (a redirector serving TLS there)', async () => {
    // Not the test http port: the port is kept, as browsers keep it. Plain http to a TLS port fails
    // (fetch_failed, an allow), while Chrome reaches the redirect and the page behind it.
    const [httpBefore, httpsBefore] = [httpRequests.length, secure.requests.length];
    const result = await unfurl(`http://kit.example.com:${secure.port}/login`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.status, hop.upgradedFrom])).toEqual([
      [`https://kit.example.com:${secure.port}/login`, 302, `http://kit.example.com:${secure.port}/login`],
      [`https://kit.example.com:${secure.port}/phish`, 200, undefined],
    ]);
    expect(newRequests(httpRequests, httpBefore)).toEqual([]);
    expect(newRequests(secure.requests, httpsBefore)).toEqual(['kit.example.com /login', 'kit.example.com /phish']);
  });

  it('falls back to http on another port that serves only http, on that port', async () => {
    const other = await startServer((req, res) => html(res, `page at ${hostOf(req)}`));
    try {
      const result = await unfurl(`http://kit.example.com:${other.port}/`, options({ allowPrivateAddressesFor: [`127.0.0.1:${plain.port}`, `127.0.0.1:${secure.port}`, `127.0.0.1:${other.port}`] }));
      expect(result.error).toBeUndefined();
      expect(result.chain.map((hop) => [hop.url, hop.status, hop.upgradedFrom])).toEqual([[`http://kit.example.com:${other.port}/`, 200, undefined]]);
      expect(result.warnings.join('\n')).toMatch(/https upgrade of http:\/\/kit\.example\.com:\d+\/ failed \(\w+\): fetched it over http/);
    } finally {
      await other.close();
    }
  });

  it('leaves alone hosts Chrome does not upgrade: single labels, reserved names, private addresses', async () => {
    const other = await startServer((req, res) => html(res, `page at ${hostOf(req)}`));
    try {
      const allow = [`127.0.0.1:${plain.port}`, `127.0.0.1:${secure.port}`, `127.0.0.1:${other.port}`];
      const tlsBefore = secure.secureConnections();
      for (const input of [`http://intranet:${plain.port}/`, `http://intranet:${other.port}/`, `http://kit.test:${plain.port}/`, `http://kit.localhost:${plain.port}/`, `${plain.origin}/`, `${other.origin}/`]) {
        const result = await unfurl(input, options({ allowPrivateAddressesFor: allow }));
        expect(result.error, input).toBeUndefined();
        expect(result.chain.map((hop) => hop.url), input).toEqual([new URL(input).href]);
        expect(result.warnings.filter((w) => !w.includes('OVERRIDDEN')), input).toEqual([]);
      }
      expect(secure.secureConnections()).toBe(tlsBefore);
    } finally {
      await other.close();
    }
  });

  it('leaves https links as they are', async () => {
    const [httpBefore, httpsBefore] = [httpRequests.length, secure.requests.length];
    const result = await unfurl(`https://kit.example.com:${secure.port}/login`, options());
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [hop.url, hop.upgradedFrom])).toEqual([
      [`https://kit.example.com:${secure.port}/login`, undefined],
      [`https://kit.example.com:${secure.port}/phish`, undefined],
    ]);
    expect(newRequests(httpRequests, httpBefore)).toEqual([]);
    expect(newRequests(secure.requests, httpsBefore)).toEqual(['kit.example.com /login', 'kit.example.com /phish']);
  });

  it('refuses a private address for the https attempt as for any fetch, without falling back', async () => {
    // The guard allows 127.0.0.1 on the http port only: the https attempt is refused.
    const result = await unfurl(`http://kit.example.com:${plain.port}/page`, options({ allowPrivateAddressesFor: [`127.0.0.1:${plain.port}`] }));
    expect(result.error).toMatchObject({ code: 'blocked_address' });
    expect(result.chain).toEqual([]);
  });
});
