import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { contentCodings, readBodyPrefix } from './body-cap.js';

function chunked(data: Buffer, size = 4096): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return Readable.from(chunks);
}

describe('readBodyPrefix', () => {
  it('reads a small identity body whole', async () => {
    const prefix = await readBodyPrefix(chunked(Buffer.from('hello')), { maxDecodedBytes: 1024 });
    expect(prefix).toEqual({ bytes: Buffer.from('hello'), rawBytes: 5, truncated: false });
  });

  it('cuts an identity body at the cap and destroys the source', async () => {
    const source = chunked(Buffer.alloc(100_000, 'a'));
    const prefix = await readBodyPrefix(source, { maxDecodedBytes: 10_000 });
    expect(prefix.bytes.length).toBe(10_000);
    expect(prefix.truncated).toBe(true);
    expect(source.destroyed).toBe(true);
  });

  it.each([
    ['gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['x-gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateSync(b)],
    ['br', (b: Buffer) => zlib.brotliCompressSync(b)],
    ['GZIP ', (b: Buffer) => zlib.gzipSync(b)],
  ])('decodes %s and counts decoded bytes against the cap', async (encoding, encode) => {
    const small = await readBodyPrefix(chunked(encode(Buffer.from('<meta>'))), { contentEncoding: encoding, maxDecodedBytes: 1024 });
    expect(small.bytes.toString()).toBe('<meta>');
    expect(small.truncated).toBe(false);
    const bomb = encode(Buffer.alloc(16 * 1024 * 1024, 0));
    const capped = await readBodyPrefix(chunked(bomb), { contentEncoding: encoding, maxDecodedBytes: 1000 });
    expect(capped.bytes.length).toBe(1000);
    expect(capped.truncated).toBe(true);
  });

  it('caps raw bytes too: a stream that decodes to nothing cannot run forever', async () => {
    const emptyMember = zlib.gzipSync(Buffer.alloc(0)); // ~20 bytes, decodes to 0 bytes
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += emptyMember.length * 100;
        this.push(Buffer.concat(new Array(100).fill(emptyMember)));
      },
    });
    const prefix = await readBodyPrefix(endless, { contentEncoding: 'gzip', maxDecodedBytes: 1024, maxRawBytes: 64 * 1024 });
    expect(prefix.bytes.length).toBe(0);
    expect(prefix.truncated).toBe(true);
    expect(prefix.rawBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(sent).toBeLessThan(1024 * 1024);
    expect(endless.destroyed).toBe(true);
  });

  it('reports corrupt data and unknown encodings instead of throwing', async () => {
    const corrupt = await readBodyPrefix(chunked(Buffer.from('not gzip')), { contentEncoding: 'gzip', maxDecodedBytes: 1024 });
    expect(corrupt.decodeError).toBeDefined();
    expect(corrupt.networkError).toBeUndefined();
    const unknown = await readBodyPrefix(chunked(Buffer.from('x')), { contentEncoding: 'zstd', maxDecodedBytes: 1024 });
    expect(unknown).toMatchObject({ rawBytes: 0, decodeError: expect.stringMatching(/zstd/) });
  });

  it.each([
    ['identity', undefined, (b: Buffer) => b],
    ['gzip', 'gzip', (b: Buffer) => zlib.gzipSync(b)],
  ])('reports a connection failing mid-body (%s) as a network error, not a decode error, keeping what was read', async (_name, encoding, encode) => {
    const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const body = encode(Buffer.from('<html><head>'));
    const failing = new Readable({ read() {} });
    failing.push(body.subarray(0, body.length - 2)); // a gzip stream cut before its end
    setTimeout(() => failing.destroy(reset), 20);
    const prefix = await readBodyPrefix(failing, { contentEncoding: encoding, maxDecodedBytes: 1024 });
    expect(prefix.networkError).toBe(reset);
    expect(prefix.decodeError).toBeUndefined();
    expect(prefix.truncated).toBe(true);
    expect(prefix.bytes.toString()).toMatch(/^<html>/);
  });

  it('keeps what the decoder had not emitted yet when the connection fails right after the data', async () => {
    // zlib decodes off the event loop: a reset on the next turn arrives before its output does.
    const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const body = zlib.gzipSync(Buffer.from('<html><meta http-equiv="refresh" content="0;url=https://evil.example/">'));
    let sent = false;
    const failing = new Readable({
      read() {
        if (sent) return;
        sent = true;
        this.push(body.subarray(0, body.length - 8)); // no gzip trailer: the stream is cut
        setImmediate(() => failing.destroy(reset));
      },
    });
    const prefix = await readBodyPrefix(failing, { contentEncoding: 'gzip', maxDecodedBytes: 1024 });
    expect({ networkError: prefix.networkError, decodeError: prefix.decodeError, truncated: prefix.truncated }).toEqual({ networkError: reset, decodeError: undefined, truncated: true });
    expect(prefix.bytes.toString()).toContain('url=https://evil.example/');
  });

  it.each([
    ['identity', undefined, (b: Buffer) => b],
    ['gzip', 'gzip', (b: Buffer) => zlib.gzipSync(b)],
  ])('never pauses the body (%s): pausing an undici body pauses its HTTP parser', async (_name, encoding, encode) => {
    // undici 7 asserts (and the process dies) when a paused parser sees the server's FIN; it pauses
    // when push() returns false, so the body must never fill up.
    const data = encode(randomBytes(1024 * 1024)); // incompressible: a megabyte on the wire
    let offset = 0;
    let refused = 0;
    // As undici's: a 64 KiB high-water mark, socket reads of up to 64 KiB, several in a burst
    // (a loopback server sends faster than zlib decodes).
    const body = new Readable({ highWaterMark: 64 * 1024, read() {} });
    const feed = () => {
      for (let burst = 0; burst < 4 && !body.destroyed; burst++) {
        if (offset >= data.length) return void body.push(null);
        if (!body.push(data.subarray(offset, (offset += 64 * 1024)))) refused++;
      }
      if (!body.destroyed) setImmediate(feed);
    };
    setImmediate(feed);
    const prefix = await readBodyPrefix(body, { contentEncoding: encoding, maxDecodedBytes: 64 * 1024 });
    expect({ refused, length: prefix.bytes.length, truncated: prefix.truncated, destroyed: body.destroyed }).toEqual({ refused: 0, length: 64 * 1024, truncated: true, destroyed: true });
  });

  it.each([undefined, 'gzip'])('settles for a body destroyed before it is read (%s)', async (encoding) => {
    const body = new Readable({ read() {} });
    body.destroy();
    const prefix = await readBodyPrefix(body, { contentEncoding: encoding, maxDecodedBytes: 1024 });
    expect(prefix).toMatchObject({ bytes: Buffer.alloc(0), truncated: true, networkError: expect.any(Error) });
  });

  it('knows which encodings it decodes, in the order they were applied', () => {
    expect(contentCodings(undefined)).toEqual([]);
    expect(contentCodings('identity')).toEqual([]);
    expect(contentCodings('compress')).toBeUndefined();
    expect(contentCodings('gzip, br')).toEqual(['gzip', 'br']);
    expect(contentCodings(['x-gzip', 'Deflate'])).toEqual(['gzip', 'deflate']);
    expect(contentCodings('gzip, gzip, gzip, gzip')).toBeUndefined(); // more than MAX_CONTENT_CODINGS
  });
});

describe('readBodyPrefix: codings a browser decodes', () => {
  const page = Buffer.from('<html><meta http-equiv="refresh" content="0;url=https://evil.example/">');

  it.each<[string, string | string[], (b: Buffer) => Buffer]>([
    ['raw deflate sent as deflate', 'deflate', (b) => zlib.deflateRawSync(b)],
    ['stacked gzip, gzip', 'gzip, gzip', (b) => zlib.gzipSync(zlib.gzipSync(b))],
    ['two Content-Encoding headers', ['gzip', 'gzip'], (b) => zlib.gzipSync(zlib.gzipSync(b))],
    ['gzip, then br', 'gzip, br', (b) => zlib.brotliCompressSync(zlib.gzipSync(b))],
    ['deflate (raw), then gzip', 'deflate,gzip', (b) => zlib.gzipSync(zlib.deflateRawSync(b))],
  ])('decodes %s', async (_name, encoding, encode) => {
    const prefix = await readBodyPrefix(chunked(encode(page), 7), { contentEncoding: encoding, maxDecodedBytes: 1024 });
    expect({ text: prefix.bytes.toString(), truncated: prefix.truncated, decodeError: prefix.decodeError }).toEqual({ text: page.toString(), truncated: false, decodeError: undefined });
  });

  it('reads raw deflate whose first chunk is a single byte', async () => {
    const prefix = await readBodyPrefix(chunked(zlib.deflateRawSync(page), 1), { contentEncoding: 'deflate', maxDecodedBytes: 1024 });
    expect(prefix.bytes.toString()).toBe(page.toString());
  });

  it('caps the decoded output of stacked codings, bombs included, in bounded time', async () => {
    const bomb = zlib.gzipSync(zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0), { level: 9 }), { level: 9 });
    const started = performance.now();
    const prefix = await readBodyPrefix(chunked(bomb), { contentEncoding: 'gzip, gzip', maxDecodedBytes: 1000 });
    expect(prefix.bytes.length).toBe(1000);
    expect(prefix.truncated).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('caps what each decoder reads: an inner stream that decodes to nothing ends', async () => {
    // The outer gzip expands a little wire into many empty inner members.
    const empties = Buffer.concat(new Array(200_000).fill(zlib.gzipSync(Buffer.alloc(0))));
    const started = performance.now();
    const prefix = await readBodyPrefix(chunked(zlib.gzipSync(empties, { level: 9 })), { contentEncoding: 'gzip, gzip', maxDecodedBytes: 1024, maxRawBytes: 64 * 1024 });
    expect(prefix.bytes.length).toBe(0);
    expect(prefix.truncated).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses more than three codings as unsupported', async () => {
    const prefix = await readBodyPrefix(chunked(page), { contentEncoding: 'gzip, gzip, gzip, gzip', maxDecodedBytes: 1024 });
    expect(prefix).toMatchObject({ rawBytes: 0, truncated: true, decodeError: expect.stringMatching(/unsupported Content-Encoding/) });
  });
});
