import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, lookupAnswering, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * Location and Refresh headers as browsers read them: raw UTF-8 bytes as UTF-8 (undici decodes
 * header bytes as Latin-1), and repeated identical Location headers as one.
 */

let server: TestServer;
let options: UnfurlOptions;

/** A header string that Node writes out byte for byte: the UTF-8 bytes of `text`. */
const rawUtf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

beforeAll(async () => {
  server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    switch (path) {
      case '/idn-location':
        res.writeHead(302, { location: rawUtf8(`http://bücher.example:${server.port}/login`), 'content-length': '0' });
        return res.end();
      case '/utf8-path-location':
        res.writeHead(302, { location: rawUtf8('/café'), 'content-length': '0' });
        return res.end();
      case '/latin1-location':
        // 0xE9 alone is not UTF-8: browsers and we keep the Latin-1 reading (é).
        res.writeHead(302, { location: '/caf\xe9', 'content-length': '0' });
        return res.end();
      case '/utf8-refresh':
        res.writeHead(200, { refresh: rawUtf8('0; url=/café'), 'content-type': 'text/plain', 'content-length': '0' });
        return res.end();
      case '/two-same-locations':
        res.setHeader('location', ['/landing', '/landing']);
        res.writeHead(302, { 'content-length': '0' });
        return res.end();
      case '/two-different-locations':
        res.setHeader('location', ['/landing', '/elsewhere']);
        res.writeHead(302, { 'content-length': '0' });
        return res.end();
      default:
        return html(res, 'landing');
    }
  });
  options = unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup);
});

afterAll(async () => {
  await server.close();
});

describe('unfurl: header encodings', () => {
  it('follows a Location to an IDN host written in raw UTF-8 to that host', async () => {
    const result = await unfurl(`${server.origin}/idn-location`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.redirect).toEqual({ kind: 'http', location: `http://xn--bcher-kva.example:${server.port}/login` });
    expect(result.final).toMatchObject({ url: `http://xn--bcher-kva.example:${server.port}/login`, fetched: true });
  });

  it('reads a raw UTF-8 path in Location as UTF-8, and bytes that are not UTF-8 as Latin-1', async () => {
    const utf8 = await unfurl(`${server.origin}/utf8-path-location`, options);
    expect(utf8.final).toMatchObject({ url: `${server.origin}/caf%C3%A9`, fetched: true });
    const latin1 = await unfurl(`${server.origin}/latin1-location`, options);
    expect(latin1.final).toMatchObject({ url: `${server.origin}/caf%C3%A9`, fetched: true });
  });

  it('reads a raw UTF-8 Refresh header as UTF-8', async () => {
    const result = await unfurl(`${server.origin}/utf8-refresh`, options);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'refresh-header', location: `${server.origin}/caf%C3%A9`, delaySeconds: 0 });
  });

  it('follows two identical Location headers, and refuses two different ones as Chrome does', async () => {
    const same = await unfurl(`${server.origin}/two-same-locations`, options);
    expect(same.error).toBeUndefined();
    expect(same.final).toMatchObject({ url: `${server.origin}/landing`, fetched: true });
    const different = await unfurl(`${server.origin}/two-different-locations`, options);
    expect(different.error?.code).toBe('bad_redirect');
  });
});
