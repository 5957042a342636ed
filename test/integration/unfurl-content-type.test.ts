import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnfurlOptions } from '../../src/links/unfurl.js';
import { html, startServer, unfurlOptionsFor, visitServer, type TestServer } from './unfurl-servers.js';

/**
 * A page's Content-Type read as browsers read it (Fetch "extract a MIME type"), over real HTTP:
 * every header and comma-separated value counts, the last one that parses wins. A page a browser
 * renders as HTML has its meta refresh followed, and is read in the charset of that type.
 * `/page?as=<name>` serves a refresh page with the Content-Type header(s) of `types[name]`.
 */

const refresh = (url: string) => `<html><head><meta http-equiv="refresh" content="0;url=${url}"></head><body>x</body></html>`;

const types: Record<string, string | string[]> = {
  'two-headers': ['text/plain', 'text/html'],
  'comma-list': 'text/plain, text/html',
  'html-then-junk': 'text/html, foo',
  'html-then-any': ['text/html', '*/*'],
  'html-then-text': 'text/html, text/plain',
  'quoted-comma': 'text/plain; charset="x, text/html"',
};

let server: TestServer;
let options: UnfurlOptions;

function page(res: http.ServerResponse, contentType: string | string[], body: Buffer): void {
  res.setHeader('content-type', contentType); // an array: one header per value
  res.setHeader('content-length', String(body.length));
  res.writeHead(200);
  res.end(body);
}

beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/page':
        return page(res, types[url.searchParams.get('as')!]!, Buffer.from(refresh('/landing')));
      case '/charset':
        // The second header's charset is the page's: `é` in the refresh URL is windows-1252 0xE9.
        return page(res, ['text/html; charset=utf-8', 'text/html; charset=windows-1252'], Buffer.from(refresh('/caf\xe9?q=\xe9'), 'latin1'));
      case '/charset-carried':
        // The charset carries over to a later value of the same type without one.
        return page(res, 'text/html; charset=windows-1252, text/html', Buffer.from(refresh('/caf\xe9?q=\xe9'), 'latin1'));
      default:
        return html(res, `landing ${url.pathname}`);
    }
  });
  options = unfurlOptionsFor(server);
});

afterAll(async () => {
  await server.close();
});

const visit = (path: string) => visitServer(server, path, options);

describe('unfurl: Content-Type read as browsers read it', () => {
  it.each([
    ['two-headers', 'text/html'],
    ['comma-list', 'text/html'],
    ['html-then-junk', 'text/html'],
    ['html-then-any', 'text/html'],
  ])('follows the meta refresh of a page served as %s (HTML to a browser)', async (as, contentType) => {
    const { result, requested } = await visit(`/page?as=${as}`);
    expect(result.error).toBeUndefined();
    expect(requested).toEqual([`/page?as=${as}`, '/landing']);
    expect(result.chain[0]).toMatchObject({ contentType, redirect: { kind: 'meta-refresh', location: `${server.origin}/landing` } });
    expect(result.final).toMatchObject({ url: `${server.origin}/landing`, fetched: true });
    // The landing page's own type, as extracted and serialized.
    expect(result.chain[1]!.contentType).toBe('text/html;charset=utf-8');
  });

  it.each([
    ['html-then-text', 'text/plain'],
    ['quoted-comma', 'text/plain;charset="x, text/html"'],
  ])('neither reads nor follows a page served as %s (text to a browser)', async (as, contentType) => {
    const { result, requested } = await visit(`/page?as=${as}`);
    expect(result.error).toBeUndefined();
    expect(requested).toEqual([`/page?as=${as}`]);
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]).toMatchObject({ contentType });
    expect(result.chain[0]!.body).toBeUndefined();
    expect(result.chain[0]!.redirect).toBeUndefined();
  });

  it.each(['/charset', '/charset-carried'])('reads %s in the charset of the type browsers extract', async (path) => {
    const { result, requested } = await visit(path);
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.contentType).toBe('text/html;charset=windows-1252');
    expect(result.chain[0]!.body?.encoding).toBe('windows-1252');
    expect(requested).toEqual([path, '/caf%C3%A9?q=%E9']);
  });
});
