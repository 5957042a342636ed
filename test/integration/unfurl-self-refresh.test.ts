import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * A refresh of the page itself, over real HTTP. A cookie gate sets a cookie and reloads; the
 * reload, carrying the cookie, is sent on (a browser reaches the landing page, so must the
 * chain). A reload that sends the same request again (no cookie changed by the page) ends the
 * chain at the page, quietly; one that changes a cookie every time ends as an HTTP redirect loop
 * that does so ends.
 */

let server: TestServer;
let options: UnfurlOptions;
/** Cookie header of every request, in arrival order ('' when none). */
const cookiesSent: string[] = [];

const meta = (content: string) => `<html><head><meta http-equiv="refresh" content="${content}"></head><body>checking your browser...</body></html>`;

function gate(res: http.ServerResponse, cookie: string, body: string, refreshHeader?: string): void {
  res.setHeader('set-cookie', cookie);
  if (refreshHeader !== undefined) res.setHeader('refresh', refreshHeader);
  html(res, body);
}

beforeAll(async () => {
  server = await startServer((req, res) => {
    const cookie = req.headers.cookie ?? '';
    cookiesSent.push(cookie);
    const url = new URL(req.url ?? '/', 'http://x');
    const passed = /(^|; )ok=1(;|$)/.test(cookie);
    const counter = Number(/(?:^|; )n=(\d+)/.exec(cookie)?.[1] ?? 0);
    switch (url.pathname) {
      case '/gate-reload':
        if (passed) return redirect(res, 302, '/landing');
        return gate(res, 'ok=1; Path=/', meta('0'));
      case '/gate-self-url':
        if (passed) return redirect(res, 302, '/landing');
        return gate(res, 'ok=1; Path=/', meta(`0;url=${server.origin}/gate-self-url`));
      case '/gate-header':
        if (passed) return redirect(res, 302, '/landing');
        return gate(res, 'ok=1; Path=/', 'checking your browser...', '0');
      case '/auto-reload':
        return html(res, meta('30'));
      case '/auto-reload-zero':
        return html(res, meta('0'));
      case '/same-cookie-reload':
        // Sets the same cookie every time: only the first visit changes what a reload sends.
        return gate(res, 'ok=2; Path=/', meta('0'));
      case '/cookie-then-reload':
        // A cookie set by an earlier hop: the page's reload sends what its visit sent.
        res.setHeader('set-cookie', 'ok=3; Path=/');
        return redirect(res, 302, '/auto-reload-zero');
      case '/gate-or-elsewhere':
        // Firefox acts on the first refresh (a reload, carrying the cookie), Chromium and WebKit on
        // the sooner one.
        if (passed) return redirect(res, 302, '/landing');
        return gate(res, 'ok=1; Path=/', `<meta http-equiv="refresh" content="5"><meta http-equiv="refresh" content="0;url=/elsewhere">`);
      case '/refresh-forever':
        return gate(res, `n=${counter + 1}; Path=/`, meta('0'));
      case '/redirect-forever':
        res.setHeader('set-cookie', `n=${counter + 1}; Path=/`);
        return redirect(res, 302, '/redirect-forever');
      default:
        return html(res, `landing ${url.pathname}`);
    }
  });
  options = unfurlOptionsFor(server);
});

afterAll(async () => {
  await server.close();
});

async function visit(path: string, extra: UnfurlOptions = {}) {
  const before = server.requests.length;
  const result = await unfurl(`${server.origin}${path}`, { ...options, ...extra });
  const warnings = result.warnings.filter((warning) => !warning.startsWith('PRIVATE-ADDRESS'));
  return { result, warnings, requested: server.requests.slice(before), cookies: cookiesSent.slice(before) };
}

describe('unfurl: a cookie gate that refreshes itself', () => {
  it.each([
    ['content="0"', '/gate-reload', 'meta-refresh'],
    ['content="0;url=<self>"', '/gate-self-url', 'meta-refresh'],
    ['a Refresh: 0 header', '/gate-header', 'refresh-header'],
  ])('reaches the landing page behind a gate reloading with %s', async (_name, path, kind) => {
    const { result, warnings, requested, cookies } = await visit(path);
    expect(result.error).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(requested).toEqual([path, path, '/landing']);
    expect(cookies).toEqual(['', 'ok=1', 'ok=1']);
    expect(result.chain.map((h) => h.status)).toEqual([200, 302, 200]);
    expect(result.chain[0]!.redirect).toEqual({ kind, location: `${server.origin}${path}`, delaySeconds: 0 });
    expect(result.final).toMatchObject({ url: `${server.origin}/landing`, fetched: true });
  });
});

describe('unfurl: a reload that changed cookies among other refreshes', () => {
  it('is a page of its own: Chromium\'s refresh is followed, the reload named in a warning', async () => {
    const { result, warnings, requested } = await visit('/gate-or-elsewhere');
    expect(result.error).toBeUndefined();
    expect(requested).toEqual(['/gate-or-elsewhere', '/elsewhere']);
    expect(result.chain[0]!.redirect).toEqual({
      kind: 'meta-refresh',
      location: `${server.origin}/elsewhere`,
      delaySeconds: 0,
      alternate: `${server.origin}/gate-or-elsewhere`,
    });
    expect(warnings).toEqual([
      `refreshes at ${server.origin}/gate-or-elsewhere send browsers to different pages: Chromium and WebKit to ${server.origin}/elsewhere (followed), Firefox to ${server.origin}/gate-or-elsewhere (matched, not fetched)`,
    ]);
  });
});

describe('unfurl: a reload that sends the same request again ends the chain quietly', () => {
  it.each(['/auto-reload', '/auto-reload-zero'])('%s (no Set-Cookie) ends at the page, without error', async (path) => {
    const { result, warnings, requested } = await visit(path);
    expect(result.error).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(requested).toEqual([path]);
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]!.redirect).toBeUndefined();
    expect(result.final).toMatchObject({ url: `${server.origin}${path}`, fetched: true });
  });

  it('reloads a page that set a cookie once, and ends when the reload changes none', async () => {
    const { result, requested, cookies } = await visit('/same-cookie-reload');
    expect(result.error).toBeUndefined();
    expect(requested).toEqual(['/same-cookie-reload', '/same-cookie-reload']);
    expect(cookies).toEqual(['', 'ok=2']);
    expect(result.chain[1]!.redirect).toBeUndefined();
  });

  it('does not reload a page for a cookie set by an earlier hop', async () => {
    const { result, requested } = await visit('/cookie-then-reload');
    expect(result.error).toBeUndefined();
    expect(requested).toEqual(['/cookie-then-reload', '/auto-reload-zero']);
    expect(result.chain[1]!.redirect).toBeUndefined();
  });
});

describe('unfurl: a page that changes a cookie and refreshes itself forever', () => {
  it('is reloaded once, then the chain ends at it without an error (an HTTP loop changing a cookie ends at the redirect limit)', async () => {
    const http = await visit('/redirect-forever', { maxRedirects: 4 });
    const refresh = await visit('/refresh-forever', { maxRedirects: 4 });
    expect(http.result.error?.code).toBe('too_many_redirects');
    expect(http.result.chain).toHaveLength(5);
    expect(refresh.result.error).toBeUndefined();
    expect(refresh.result.chain).toHaveLength(2);
    expect(refresh.cookies).toEqual(['', 'n=1']);
    expect(refresh.result.chain[1]!.redirect).toBeUndefined();
    expect(refresh.result.final).toMatchObject({ url: `${server.origin}/refresh-forever` });
  });
});
