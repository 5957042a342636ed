import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, lookupAnswering, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * Cookies within one unfurl chain: a site that sets a cookie and redirects to itself (a cookie
 * check) is followed as a browser follows it; nothing carries over to another unfurl.
 */

let server: TestServer;
let options: UnfurlOptions;
/** Cookie header of every request, in arrival order ('' when none). */
const cookiesSent: string[] = [];

function redirectSetting(res: http.ServerResponse, location: string, ...cookies: string[]): void {
  res.setHeader('set-cookie', cookies);
  redirect(res, 302, location);
}

beforeAll(async () => {
  server = await startServer((req, res) => {
    const cookie = req.headers.cookie ?? '';
    cookiesSent.push(cookie);
    const url = new URL(req.url ?? '/', 'http://x');
    const host = (req.headers.host ?? '').split(':')[0];
    switch (url.pathname) {
      case '/cookie-check':
        if (cookie.includes('check=1')) return html(res, 'landing');
        return redirectSetting(res, '/cookie-check', 'check=1; Path=/');
      case '/same-cookie-loop':
        // Sets the same cookie every time: the second visit sends what the first one did.
        return redirectSetting(res, '/same-cookie-loop', 'check=1; Path=/');
      case '/scoped':
        return redirectSetting(res, '/other/page', 'narrow=1; Path=/scoped', 'wide=1; Path=/', 'gone=1; Path=/');
      case '/other/page':
        return redirectSetting(res, '/after-delete', 'gone=; Path=/; Max-Age=0');
      case '/after-delete':
        return redirect(res, 302, `http://b.test:${server.port}/final`);
      case '/final':
        return html(res, `final on ${host}`);
      default:
        return html(res, 'page');
    }
  });
  options = unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup);
});

afterAll(async () => {
  await server.close();
});

describe('unfurl: cookies within one chain', () => {
  it('follows a cookie check (set a cookie, redirect to itself) instead of calling it a loop', async () => {
    const before = cookiesSent.length;
    const result = await unfurl(`${server.origin}/cookie-check`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => h.status)).toEqual([302, 200]);
    expect(cookiesSent.slice(before)).toEqual(['', 'check=1']);
    expect(result.final).toMatchObject({ url: `${server.origin}/cookie-check`, fetched: true });
  });

  it('still reports a loop when the revisit sends the same cookies', async () => {
    const result = await unfurl(`${server.origin}/same-cookie-loop`, options);
    expect(result.error?.code).toBe('redirect_loop');
    expect(result.chain.map((h) => h.status)).toEqual([302, 302]);
  });

  it('never carries cookies over to another unfurl', async () => {
    await unfurl(`${server.origin}/cookie-check`, options);
    const before = cookiesSent.length;
    const [a, b] = await Promise.all([unfurl(`${server.origin}/cookie-check`, options), unfurl(`${server.origin}/cookie-check`, options)]);
    expect(a.chain.map((h) => h.status)).toEqual([302, 200]);
    expect(b.chain.map((h) => h.status)).toEqual([302, 200]);
    expect(cookiesSent.slice(before).sort()).toEqual(['', '', 'check=1', 'check=1']);
  });

  it('sends cookies by path and host, and drops a cookie deleted by Max-Age=0', async () => {
    const before = cookiesSent.length;
    const result = await unfurl(`http://a.test:${server.port}/scoped`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => `${new URL(h.url).hostname}${new URL(h.url).pathname}`)).toEqual(['a.test/scoped', 'a.test/other/page', 'a.test/after-delete', 'b.test/final']);
    // /other/page is not under Path=/scoped; `gone` is deleted by Max-Age=0; b.test gets none of
    // a.test's host-only cookies.
    expect(cookiesSent.slice(before)).toEqual(['', 'wide=1; gone=1', 'wide=1', '']);
  });
});
