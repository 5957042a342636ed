import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnfurlOptions } from '../../src/links/unfurl.js';
import { html, startServer, unfurlOptionsFor, visitServer, type TestServer } from './unfurl-servers.js';

/**
 * A redirect status without a Location header is, in Fetch, a response like any other: browsers
 * render its body, so a meta refresh (or Refresh header) in it takes them on. Over real HTTP.
 */

let server: TestServer;
let options: UnfurlOptions;

const MAX_BODY_BYTES = 4096;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const status = Number(url.searchParams.get('s') ?? '302');
    switch (url.pathname) {
      case '/no-location':
        return html(res, '<html><head><meta http-equiv="refresh" content="0;url=/target"></head></html>', status);
      case '/empty-location':
        res.setHeader('location', url.searchParams.get('twice') === null ? '' : ['', ' ']);
        return html(res, '<meta http-equiv="refresh" content="0;url=/target">', status);
      case '/refresh-header':
        res.writeHead(status, { refresh: '0; url=/target', 'content-type': 'text/plain', 'content-length': '0' });
        return res.end();
      case '/padded':
        // The refresh lies past the body cap: never read, never followed.
        return html(res, `${' '.repeat(MAX_BODY_BYTES)}<meta http-equiv="refresh" content="0;url=/target">`, status);
      case '/plain':
        res.writeHead(status, { 'content-type': 'text/plain' });
        return res.end('<meta http-equiv="refresh" content="0;url=/target">');
      default:
        return html(res, 'landing');
    }
  });
  options = { ...unfurlOptionsFor(server), maxBodyBytes: MAX_BODY_BYTES };
});

afterAll(async () => {
  await server.close();
});

async function visit(path: string) {
  const { result, requested } = await visitServer(server, path, options);
  return { result, paths: requested.map((p) => new URL(p, 'http://x').pathname) };
}

describe('unfurl: a redirect status without Location is a page', () => {
  it.each([301, 302, 303, 307, 308])('follows the meta refresh in the body of a %i without Location', async (status) => {
    const { result, paths } = await visit(`/no-location?s=${status}`);
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/no-location', '/target']);
    expect(result.chain.map((hop) => hop.status)).toEqual([status, 200]);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${server.origin}/target`, delaySeconds: 0 });
    expect(result.chain[0]!.body).toMatchObject({ truncated: false, encoding: 'utf-8' });
    expect(result.final).toMatchObject({ url: `${server.origin}/target`, fetched: true });
  });

  it('takes an empty Location (every copy) for none, as Chromium does', async () => {
    for (const path of ['/empty-location', '/empty-location?twice']) {
      const { result, paths } = await visit(path);
      expect(result.error).toBeUndefined();
      expect(paths).toEqual(['/empty-location', '/target']);
    }
  });

  it('follows a Refresh header on a redirect status without Location', async () => {
    const { result, paths } = await visit('/refresh-header');
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/refresh-header', '/target']);
    expect(result.chain[0]!.redirect?.kind).toBe('refresh-header');
  });

  it('reads its body within the body cap, like any page', async () => {
    const { result, paths } = await visit('/padded');
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/padded']);
    expect(result.chain[0]!.body).toMatchObject({ bytesRead: MAX_BODY_BYTES, truncated: true });
    expect(result.chain[0]!.redirect).toBeUndefined();
  });

  it('does not read a body that is not HTML', async () => {
    const { result, paths } = await visit('/plain');
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/plain']);
    expect(result.chain[0]!.body).toBeUndefined();
  });
});
