/**
 * Requests look like a current desktop Chrome's navigations: a server that cloaks by User-Agent,
 * Accept-Language or the Sec-Fetch-* headers showed the unfurler (`abuse-scan-unfurler`, no
 * Accept-Language) a harmless page and browsers the phishing page.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { CHROME_MAJOR_VERSION, DEFAULT_USER_AGENT } from '../../src/links/user-agent.js';
import { html, redirect, startServer, type TestServer } from './unfurl-servers.js';
import { localHttpsOptions, startHttpsServer, trustTestCertificate, type TestHttpsServer } from './unfurl-https-servers.js';

const httpHeaders: IncomingHttpHeaders[] = [];
let plain: TestServer;
let secure: TestHttpsServer;
let untrust: () => void;

/** What a cloaking kit checks: a Chrome User-Agent and an Accept-Language, else the harmless page. */
function looksLikeABrowser(headers: IncomingHttpHeaders): boolean {
  return /Chrome\/\d+/.test(headers['user-agent'] ?? '') && !/bot|abuse-scan|compatible;/i.test(headers['user-agent'] ?? '') && headers['accept-language'] !== undefined;
}

beforeAll(async () => {
  untrust = trustTestCertificate();
  plain = await startServer((req, res) => {
    httpHeaders.push(req.headers);
    if (req.url === '/cloaked') return looksLikeABrowser(req.headers) ? redirect(res, 302, '/phish') : html(res, '<title>harmless</title>');
    return html(res, 'page');
  });
  secure = await startHttpsServer((req, res) => {
    const origin = `https://${req.headers.host}`;
    switch (req.url) {
      case '/start':
        return redirect(res, 302, '/refreshing');
      case '/refreshing':
        return html(res, `<meta http-equiv="refresh" content="0; url=${origin}/after-refresh">`);
      case '/to-other-site':
        return html(res, `<meta http-equiv="refresh" content="0; url=https://other.example.com:${secure.port}/landing">`);
      default:
        return html(res, 'page');
    }
  });
});

afterAll(async () => {
  untrust();
  await plain.close();
  await secure.close();
});

function options(overrides: Partial<UnfurlOptions> = {}): UnfurlOptions {
  return localHttpsOptions(plain, secure, { asDefaultPorts: false, hopTimeoutMs: 2_000, totalTimeoutMs: 5_000, ...overrides });
}

describe('unfurl: request headers', () => {
  it("sends Chrome's navigation headers over http, without the secure-only ones", async () => {
    const before = httpHeaders.length;
    await unfurl(`${plain.origin}/page`, options());
    const headers = httpHeaders[before]!;
    expect(headers['user-agent']).toBe(DEFAULT_USER_AGENT);
    expect(DEFAULT_USER_AGENT).toBe(`Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${CHROME_MAJOR_VERSION}.0.0.0 Safari/537.36`);
    expect(headers).toMatchObject({
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
      'accept-language': 'en-US,en;q=0.9',
      'accept-encoding': 'gzip, deflate',
      'upgrade-insecure-requests': '1',
    });
    expect(Object.keys(headers).filter((name) => name.startsWith('sec-'))).toEqual([]);
  });

  it('sends Sec-Fetch-* and the client hints over https: a clicked link, then a refresh', async () => {
    const before = secure.headers.length;
    const result = await unfurl(`https://kit.example.com:${secure.port}/start`, options());
    expect(result.chain.map((hop) => new URL(hop.url).pathname)).toEqual(['/start', '/refreshing', '/after-refresh']);
    const [start, refreshing, afterRefresh] = secure.headers.slice(before);
    const clicked = {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-user': '?1',
      'sec-fetch-dest': 'document',
      'sec-ch-ua': `"Chromium";v="${CHROME_MAJOR_VERSION}", "Google Chrome";v="${CHROME_MAJOR_VERSION}", "Not_A Brand";v="99"`,
      'sec-ch-ua-mobile': '?0',
      'sec-ch-ua-platform': '"Windows"',
      'accept-encoding': 'gzip, deflate, br',
      'user-agent': DEFAULT_USER_AGENT,
    };
    expect(start).toMatchObject(clicked);
    // A redirect of the clicked link's navigation: still cross-site, still the user's.
    expect(refreshing).toMatchObject(clicked);
    // A refresh is the page's navigation, to its own origin here, not the user's.
    expect(afterRefresh).toMatchObject({ 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
    expect(afterRefresh!['sec-fetch-user']).toBeUndefined();
  });

  it("rates a refresh to another site's page same-site or cross-site from the refreshing page", async () => {
    const before = secure.headers.length;
    await unfurl(`https://kit.example.com:${secure.port}/to-other-site`, options());
    // other.example.com and kit.example.com share the site example.com.
    expect(secure.headers.slice(before).map((headers) => headers['sec-fetch-site'])).toEqual(['cross-site', 'same-site']);
  });

  it('sends the configured User-Agent, without the client hints that would contradict it', async () => {
    const before = secure.headers.length;
    await unfurl(`https://kit.example.com:${secure.port}/page`, options({ userAgent: 'ExampleScanner/2.0 (+https://example.com/scanner)' }));
    const headers = secure.headers[before]!;
    expect(headers['user-agent']).toBe('ExampleScanner/2.0 (+https://example.com/scanner)');
    expect(headers['sec-ch-ua']).toBeUndefined();
    expect(headers['sec-fetch-mode']).toBe('navigate');
  });

  it('refuses a User-Agent that is not printable ASCII or too long', async () => {
    await expect(unfurl(`${plain.origin}/page`, options({ userAgent: 'a\r\nx-injected: 1' }))).rejects.toThrow(/userAgent option may hold only printable ASCII/);
    await expect(unfurl(`${plain.origin}/page`, options({ userAgent: 'a'.repeat(513) }))).rejects.toThrow(/longer than 512/);
  });

  it('is shown the page a browser gets by a server cloaking on User-Agent and Accept-Language', async () => {
    const result = await unfurl(`${plain.origin}/cloaked`, options());
    expect(result.chain.map((hop) => [new URL(hop.url).pathname, hop.status])).toEqual([
      ['/cloaked', 302],
      ['/phish', 200],
    ]);
  });
});
