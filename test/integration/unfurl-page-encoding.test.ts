import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnfurlOptions } from '../../src/links/unfurl.js';
import { startServer, unfurlOptionsFor, visitServer, type TestServer } from './unfurl-servers.js';

/**
 * Pages read in their own character encoding, as browsers read them, over real HTTP: a refresh in
 * a UTF-16 page is found, and a refresh URL is requested as a browser requests it (its query
 * percent-encoded in the page's encoding, its path in UTF-8).
 */

interface Page {
  contentType?: string;
  body: Buffer;
  gzip?: boolean;
}

const refresh = (url: string) => `<html><head><meta http-equiv="refresh" content="0;url=${url}"></head><body>x</body></html>`;
const utf16le = (text: string) => Buffer.from(text, 'utf16le');
const utf16be = (text: string) => utf16le(text).swap16();
const latin1 = (text: string) => Buffer.from(text, 'latin1');
const BOM_LE = Buffer.from([0xff, 0xfe]);
const BOM_BE = Buffer.from([0xfe, 0xff]);
const BOM_UTF8 = Buffer.from([0xef, 0xbb, 0xbf]);

const pages: Record<string, Page> = {
  '/utf16le-bom': { contentType: 'text/html', body: Buffer.concat([BOM_LE, utf16le(refresh('/target'))]) },
  '/utf16le-header': { contentType: 'text/html; charset=utf-16le', body: utf16le(refresh('/target')) },
  '/utf16-header': { contentType: 'text/html; charset="UTF-16"', body: utf16le(refresh('/target')) },
  '/utf16be-bom': { body: Buffer.concat([BOM_BE, utf16be(refresh('/target'))]) },
  '/utf16le-gzip': { contentType: 'text/html; charset=utf-16le', body: Buffer.concat([BOM_LE, utf16le(refresh('/target'))]), gzip: true },
  // A BOM decides over the header.
  '/bom-over-header': { contentType: 'text/html; charset=utf-16le', body: Buffer.concat([BOM_UTF8, Buffer.from(refresh('/target'))]) },
  // A meta charset naming UTF-16 in an ASCII page means UTF-8.
  '/meta-utf16': { contentType: 'text/html', body: Buffer.from(`<meta charset="utf-16">${refresh('/target')}`) },
  '/cp1252-header': { contentType: 'text/html; charset=windows-1252', body: latin1(refresh('/caf\xe9?q=\xe9')) },
  '/cp1252-latin1-label': { contentType: 'text/html; charset=ISO-8859-1', body: latin1(refresh('/caf\xe9?q=\xe9&euro=\x80')) },
  '/cp1252-meta': { contentType: 'text/html', body: latin1(`<meta charset="windows-1252">${refresh('/caf\xe9?q=\xe9')}`) },
  '/iso8859-15-pragma': {
    contentType: 'text/html',
    body: latin1(`<!-- <meta charset=utf-8> --><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">${refresh('/p?q=\xa4')}`),
  },
  '/cp1251-header': { contentType: 'text/html; charset=windows-1251', body: latin1(refresh('/\xe6?q=\xe6&x=\xe9')) },
  '/undeclared-legacy': { contentType: 'text/html', body: latin1(refresh('/caf\xe9?q=\xe9')) },
  '/undeclared-utf8': { contentType: 'text/html', body: Buffer.from(refresh('/café?q=é')) },
  '/utf8-header': { contentType: 'text/html; charset=utf-8', body: Buffer.from(refresh('/café?q=é€')) },
  '/cp1252-unmappable': { contentType: 'text/html; charset=windows-1252', body: Buffer.from(refresh('/x?q=&#1078;')) },
  '/cp1252-base': { contentType: 'text/html; charset=windows-1252', body: latin1(`<base href="/dir/?b=\xe9">${refresh('#top')}`) },
};

let server: TestServer;
let options: UnfurlOptions;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const page = pages[new URL(req.url ?? '/', 'http://x').pathname];
    if (page === undefined) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('landing');
    }
    const body = page.gzip ? zlib.gzipSync(page.body) : page.body;
    res.writeHead(200, {
      ...(page.contentType !== undefined && { 'content-type': page.contentType }),
      ...(page.gzip && { 'content-encoding': 'gzip' }),
      'content-length': String(body.length),
    });
    res.end(body);
  });
  options = unfurlOptionsFor(server);
});

afterAll(async () => {
  await server.close();
});

async function visit(path: string) {
  const visited = await visitServer(server, path, options);
  expect(visited.result.error).toBeUndefined();
  return visited;
}

describe('unfurl: UTF-16 pages', () => {
  it.each([
    ['/utf16le-bom', 'utf-16le'],
    ['/utf16le-header', 'utf-16le'],
    ['/utf16-header', 'utf-16le'],
    ['/utf16be-bom', 'utf-16be'],
    ['/utf16le-gzip', 'utf-16le'],
  ])('follows the meta refresh of %s', async (path, encoding) => {
    const { result, requested } = await visit(path);
    expect(requested).toEqual([path, '/target']);
    expect(result.chain[0]!.body?.encoding).toBe(encoding);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${server.origin}/target`, delaySeconds: 0 });
  });

  it('lets a byte order mark decide over the Content-Type charset', async () => {
    const { result, requested } = await visit('/bom-over-header');
    expect(result.chain[0]!.body?.encoding).toBe('utf-8');
    expect(requested).toEqual(['/bom-over-header', '/target']);
  });

  it('reads a <meta charset> naming UTF-16 in an ASCII page as UTF-8, as browsers do', async () => {
    const { result, requested } = await visit('/meta-utf16');
    expect(result.chain[0]!.body?.encoding).toBe('utf-8');
    expect(requested).toEqual(['/meta-utf16', '/target']);
  });
});

describe('unfurl: refresh URLs in the page encoding (query) and UTF-8 (path)', () => {
  it.each([
    ['/cp1252-header', 'windows-1252', '/caf%C3%A9?q=%E9'],
    ['/cp1252-latin1-label', 'windows-1252', '/caf%C3%A9?q=%E9&euro=%80'],
    ['/cp1252-meta', 'windows-1252', '/caf%C3%A9?q=%E9'],
    ['/iso8859-15-pragma', 'iso-8859-15', '/p?q=%A4'],
    ['/cp1251-header', 'windows-1251', '/%D0%B6?q=%E6&x=%E9'],
    // Nothing declared: bytes that are not UTF-8 are read as windows-1252, UTF-8 as UTF-8.
    ['/undeclared-legacy', 'windows-1252', '/caf%C3%A9?q=%E9'],
    ['/undeclared-utf8', 'utf-8', '/caf%C3%A9?q=%C3%A9'],
    ['/utf8-header', 'utf-8', '/caf%C3%A9?q=%C3%A9%E2%82%AC'],
    // A character windows-1252 cannot encode is sent as its decimal reference, `&#1078;`.
    ['/cp1252-unmappable', 'windows-1252', '/x?q=%26%231078%3B'],
  ])('%s (%s) refreshes to %s', async (path, encoding, expected) => {
    const { result, requested } = await visit(path);
    expect(result.chain[0]!.body?.encoding).toBe(encoding);
    expect(result.chain[0]!.redirect?.location).toBe(`${server.origin}${expected}`);
    expect(requested).toEqual([path, expected]);
  });

  it('parses <base href> in the page encoding too', async () => {
    const { result } = await visit('/cp1252-base');
    expect(result.chain[0]!.redirect?.location).toBe(`${server.origin}/dir/?b=%E9#top`);
  });
});
