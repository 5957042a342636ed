import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/** Meta refresh tags as browsers tokenize and resolve them, over real HTTP. */

let server: TestServer;
let options: UnfurlOptions;

const encodings: Record<string, (page: Buffer) => [string | string[], Buffer]> = {
  'raw-deflate': (page) => ['deflate', zlib.deflateRawSync(page)],
  'gzip-gzip': (page) => ['gzip, gzip', zlib.gzipSync(zlib.gzipSync(page))],
  'two-headers': (page) => [['gzip', 'br'], zlib.brotliCompressSync(zlib.gzipSync(page))],
};

beforeAll(async () => {
  server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    switch (path) {
      case '/unquoted':
        return html(res, `<meta http-equiv=refresh content=0;url=${server.origin}/landing?via=unquoted>`);
      case '/gt-in-quotes':
        return html(res, `<meta http-equiv="refresh" content="0; url=${server.origin}/landing?q=a>b">`);
      case '/base':
        return html(res, `<head><base href="${server.origin}/kit/"><meta http-equiv="refresh" content="0;url=step2"></head>`);
      case '/noscript':
        return html(res, `<noscript><meta http-equiv="refresh" content="0;url=/decoy"></noscript>
          <template><meta http-equiv="refresh" content="0;url=/decoy"></template>
          <title><meta http-equiv="refresh" content="0;url=/decoy"></title>
          <textarea><meta http-equiv="refresh" content="0;url=/decoy"></textarea>`);
      case '/encoded': {
        // A refresh behind codings browsers decode: a scanner that does not is blind to it.
        const page = Buffer.from('<meta http-equiv="refresh" content="0;url=/landing">');
        const [encoding, body] = encodings[new URL(req.url ?? '/', 'http://x').searchParams.get('as')!]!(page);
        res.setHeader('content-encoding', encoding); // an array: one header per coding
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(body.length) });
        return res.end(body);
      }
      case '/landing':
      case '/kit/step2':
        return html(res, 'landing');
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
    }
  });
  options = unfurlOptionsFor(server);
});

afterAll(async () => {
  await server.close();
});

describe('unfurl: meta refresh read as browsers read it', () => {
  it('follows an unquoted content value that holds "=" (url=...)', async () => {
    const result = await unfurl(`${server.origin}/unquoted`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${server.origin}/landing?via=unquoted`, delaySeconds: 0 });
    expect(result.final).toMatchObject({ url: `${server.origin}/landing?via=unquoted`, fetched: true });
  });

  it('follows a quoted content value that holds ">"', async () => {
    const result = await unfurl(`${server.origin}/gt-in-quotes`, options);
    expect(result.error).toBeUndefined();
    expect(result.final).toMatchObject({ url: `${server.origin}/landing?q=a%3Eb`, fetched: true });
  });

  it('resolves the refresh URL against <base href>, the document base URL', async () => {
    const result = await unfurl(`${server.origin}/base`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/base', '/kit/step2']);
  });

  it('does not follow a refresh in <noscript>, <template>, <title> or <textarea>', async () => {
    const before = server.requests.length;
    const result = await unfurl(`${server.origin}/noscript`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]!.redirect).toBeUndefined();
    expect(server.requests.slice(before)).toEqual(['/noscript']);
  });
});

describe('unfurl: a meta refresh behind Content-Encoding', () => {
  it.each(Object.keys(encodings))('is followed when sent as %s', async (as) => {
    const result = await unfurl(`${server.origin}/encoded?as=${as}`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.body?.decodeError).toBeUndefined();
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/encoded', '/landing']);
  });
});
