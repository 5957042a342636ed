import type http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { cacheable } from '../../src/links/unfurl-cache.js';
import { html, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

let server: TestServer;
let options: UnfurlOptions;
let endlessBodyClosed: Promise<void>;
let markEndlessBodyClosed: () => void;

const MIB = 1024 * 1024;
// Highly compressible: 64 MiB of spaces, a few tens of KB on the wire.
const gzipBomb = zlib.gzipSync(Buffer.alloc(64 * MIB, ' '), { level: 9 });
const brotliBomb = zlib.brotliCompressSync(Buffer.alloc(64 * MIB, ' '));

/** Writes chunks for as long as the client reads them; returns when the client goes away. */
function streamForever(res: http.ServerResponse, chunk: Buffer, onClose: () => void): void {
  res.on('close', onClose);
  const write = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', write);
  };
  write();
}

beforeAll(async () => {
  endlessBodyClosed = new Promise((resolve) => (markEndlessBodyClosed = resolve));
  server = await startServer((req, res) => {
    switch (new URL(req.url ?? '/', 'http://x').pathname) {
      case '/slow':
        return; // never answers
      case '/slow-body':
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.write('<html>'); // headers, then nothing
      case '/reset-body':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write('<html>');
        return void setTimeout(() => req.socket.destroy(), 50);
      case '/meta-then-stall':
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.write('<meta http-equiv="refresh" content="0;url=/landing">');
      case '/endless-html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return streamForever(res, Buffer.alloc(16 * 1024, 'a'), () => markEndlessBodyClosed());
      case '/endless-binary':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return streamForever(res, Buffer.alloc(16 * 1024, 0), () => undefined);
      case '/gzip-bomb':
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': String(gzipBomb.length) });
        return res.end(gzipBomb);
      case '/brotli-bomb':
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'br', 'content-length': String(brotliBomb.length) });
        return res.end(brotliBomb);
      case '/late-meta':
        // The refresh sits after the scan window: it must not be seen.
        return html(res, `<html>${' '.repeat(70 * 1024)}<meta http-equiv="refresh" content="0;url=/landing"></html>`);
      case '/early-meta-big-page':
        return html(res, `<meta http-equiv="refresh" content="0;url=/landing">${'x'.repeat(1024 * 1024)}`);
      case '/zstd':
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'zstd' });
        return res.end('not really zstd');
      case '/gzip-meta-then-garbage': {
        // The refresh, flushed but not finished, then bytes no deflate block starts with.
        const head = zlib.gzipSync('<meta http-equiv="refresh" content="0;url=/landing">', { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
        res.write(head);
        // Apart, so the refresh is decoded before the garbage fails the decoder.
        setTimeout(() => res.end(Buffer.alloc(64, 0xff)), 50);
        return;
      }
      case '/corrupt-gzip':
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
        return res.end(Buffer.from('this is not gzip at all'));
      default:
        return html(res, 'landing');
    }
  });
  options = unfurlOptionsFor(server);
});

afterAll(async () => {
  await server.close();
});

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe('unfurl: timeouts', () => {
  it('a server that never answers gives fetch_timeout after the hop timeout', async () => {
    const { value: result, ms } = await timed(() => unfurl(`${server.origin}/slow`, { ...options, hopTimeoutMs: 300 }));
    expect(result.error?.code).toBe('fetch_timeout');
    expect(result.chain).toEqual([]);
    expect(result.final).toMatchObject({ url: `${server.origin}/slow`, fetched: false });
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(1_500);
  });

  it('the total timeout stops a long chain of slow hops with fetch_timeout', async () => {
    const slowChain = await startServer((req, res) => {
      const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? '0');
      setTimeout(() => redirect(res, 302, `/?n=${n + 1}`), 120);
    });
    try {
      const { value: result, ms } = await timed(() =>
        unfurl(`${slowChain.origin}/?n=0`, { allowPrivateAddressesFor: [`127.0.0.1:${slowChain.port}`], hopTimeoutMs: 1_000, totalTimeoutMs: 500 }),
      );
      expect(result.error?.code).toBe('fetch_timeout');
      expect(result.chain.length).toBeGreaterThanOrEqual(2);
      expect(result.chain.length).toBeLessThanOrEqual(5);
      expect(ms).toBeLessThan(1_200);
    } finally {
      await slowChain.close();
    }
  });

  it('a body that stalls after the headers ends the chain with fetch_timeout at the hop deadline, keeping the hop', async () => {
    const { value: result, ms } = await timed(() => unfurl(`${server.origin}/slow-body`, { ...options, hopTimeoutMs: 300 }));
    // The unread rest may hold a meta refresh: the chain is incomplete, so never cached.
    expect(result.error).toMatchObject({ code: 'fetch_timeout', detail: { url: `${server.origin}/slow-body` } });
    expect(result.chain).toMatchObject([{ status: 200, body: { bytesRead: 6, truncated: true } }]);
    expect(result.chain[0]!.body?.decodeError).toBeUndefined();
    expect(result.final).toMatchObject({ url: `${server.origin}/slow-body`, fetched: true });
    expect(cacheable({ ...result, privateAddressOverride: false })).toBe(false);
    expect(ms).toBeLessThan(1_500);
  });

  it('a connection reset mid-body is fetch_failed, not a decode error', async () => {
    const result = await unfurl(`${server.origin}/reset-body`, options);
    expect(result.error).toMatchObject({ code: 'fetch_failed' });
    expect(result.chain).toMatchObject([{ status: 200, body: { truncated: true } }]);
    expect(result.chain[0]!.body?.decodeError).toBeUndefined();
    expect(cacheable({ ...result, privateAddressOverride: false })).toBe(false);
  });

  it('a body that stalls after its meta refresh is followed like a complete page', async () => {
    const result = await unfurl(`${server.origin}/meta-then-stall`, { ...options, hopTimeoutMs: 300 });
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => h.redirect?.kind ?? 'final')).toEqual(['meta-refresh', 'final']);
  });
});

describe('unfurl: body cap (decoded bytes)', () => {
  it('stops reading an endless HTML body at the cap, in bounded time, and closes it', async () => {
    const { value: result, ms } = await timed(() => unfurl(`${server.origin}/endless-html`, { ...options, maxBodyBytes: 32 * 1024 }));
    expect(result.error).toBeUndefined();
    expect(result.chain[0]!.body).toMatchObject({ bytesRead: 32 * 1024, truncated: true });
    expect(result.chain[0]!.body!.rawBytes).toBeLessThan(1 * MIB);
    expect(ms).toBeLessThan(2_000);
    await endlessBodyClosed; // the server saw the connection go away
  });

  it('never reads a non-HTML body', async () => {
    const { value: result, ms } = await timed(() => unfurl(`${server.origin}/endless-binary`, options));
    expect(result.error).toBeUndefined();
    expect(result.chain).toMatchObject([{ status: 200, contentType: 'application/octet-stream' }]);
    expect(result.chain[0]!.body).toBeUndefined();
    expect(ms).toBeLessThan(2_000);
  });

  it.each([
    ['gzip', '/gzip-bomb', () => gzipBomb.length],
    ['brotli', '/brotli-bomb', () => brotliBomb.length],
  ])('a %s bomb (64 MiB decoded) is capped on decoded bytes', async (_name, path, compressedSize) => {
    expect(compressedSize()).toBeLessThan(256 * 1024);
    const { value: result, ms } = await timed(() => unfurl(`${server.origin}${path}`, options));
    expect(result.error).toBeUndefined();
    const body = result.chain[0]!.body!;
    expect(body.bytesRead).toBe(64 * 1024);
    expect(body.truncated).toBe(true);
    expect(body.rawBytes).toBeLessThanOrEqual(compressedSize());
    expect(ms).toBeLessThan(2_000);
  });

  it('does not see a meta refresh beyond the scan window', async () => {
    const result = await unfurl(`${server.origin}/late-meta`, options);
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]!.redirect).toBeUndefined();
    expect(result.chain[0]!.body?.truncated).toBe(true);
  });

  it('follows a meta refresh at the top of a large page without reading the rest', async () => {
    const result = await unfurl(`${server.origin}/early-meta-big-page`, options);
    expect(result.chain.map((h) => h.redirect?.kind ?? 'final')).toEqual(['meta-refresh', 'final']);
    expect(result.chain[0]!.body!.bytesRead).toBe(64 * 1024);
  });

  it('a page whose body cannot be decoded (an unsupported or corrupt encoding) ends the chain with body_undecodable: a refresh in it is not known to be absent', async () => {
    const zstd = await unfurl(`${server.origin}/zstd`, options);
    expect(zstd.error).toMatchObject({ code: 'body_undecodable', detail: { url: `${server.origin}/zstd`, reason: expect.stringMatching(/zstd/) } });
    expect(zstd.chain).toHaveLength(1);
    expect(zstd.chain[0]!.body?.decodeError).toMatch(/zstd/);
    const corrupt = await unfurl(`${server.origin}/corrupt-gzip`, options);
    expect(corrupt.error?.code).toBe('body_undecodable');
    expect(corrupt.chain[0]!.body?.decodeError).toBeDefined();
  });

  it('a refresh decoded before the body turned out corrupt is still followed', async () => {
    const result = await unfurl(`${server.origin}/gzip-meta-then-garbage`, options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => h.redirect?.kind ?? 'final')).toEqual(['meta-refresh', 'final']);
    expect(result.chain[0]!.body?.decodeError).toBeDefined();
  });
});
