import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { unfurl } from '../../src/links/unfurl.js';
import { html, notFound, serveDuringTests } from './unfurl-servers.js';

/** Meta refresh tags as browsers tokenize and resolve them, over real HTTP. */

const encodings: Record<string, (page: Buffer) => [string | string[], Buffer]> = {
  'raw-deflate': (page) => ['deflate', zlib.deflateRawSync(page)],
  'gzip-gzip': (page) => ['gzip, gzip', zlib.gzipSync(zlib.gzipSync(page))],
  'two-headers': (page) => [['gzip', 'br'], zlib.brotliCompressSync(zlib.gzipSync(page))],
};

const served = serveDuringTests((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  switch (path) {
    case '/unquoted':
      return html(res, `<meta http-equiv=refresh content=0;url=${served.server.origin}/landing?via=unquoted>`);
    case '/gt-in-quotes':
      return html(res, `<meta http-equiv="refresh" content="0; url=${served.server.origin}/landing?q=a>b">`);
    case '/base':
      return html(res, `<head><base href="${served.server.origin}/kit/"><meta http-equiv="refresh" content="0;url=step2"></head>`);
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
      return notFound(res);
  }
});

describe('unfurl: meta refresh read as browsers read it', () => {
  it('follows an unquoted content value that holds "=" (url=...)', async () => {
    const result = await unfurl(`${served.server.origin}/unquoted`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${served.server.origin}/landing?via=unquoted`, delaySeconds: 0 });
    expect(result.final).toMatchObject({ url: `${served.server.origin}/landing?via=unquoted`, fetched: true });
  });

  it('follows a quoted content value that holds ">"', async () => {
    const result = await unfurl(`${served.server.origin}/gt-in-quotes`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.final).toMatchObject({ url: `${served.server.origin}/landing?q=a%3Eb`, fetched: true });
  });

  it('resolves the refresh URL against <base href>, the document base URL', async () => {
    const result = await unfurl(`${served.server.origin}/base`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/base', '/kit/step2']);
  });

  it('does not follow a refresh in <noscript>, <template>, <title> or <textarea>', async () => {
    const before = served.server.requests.length;
    const result = await unfurl(`${served.server.origin}/noscript`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]!.redirect).toBeUndefined();
    expect(served.server.requests.slice(before)).toEqual(['/noscript']);
  });
});

describe('unfurl: a meta refresh behind Content-Encoding', () => {
  it.each(Object.keys(encodings))('is followed when sent as %s', async (as) => {
    const result = await unfurl(`${served.server.origin}/encoded?as=${as}`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.body?.decodeError).toBeUndefined();
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/encoded', '/landing']);
  });
});
