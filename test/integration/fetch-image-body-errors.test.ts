import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { fetchImage, maxEncodedImageBytes, type FetchImageOptions } from '../../src/links/fetch-image.js';
import { startServer, type TestServer } from './unfurl-servers.js';

/** A network failure while an image body is read is transient (retried), never a corrupt image. */

let server: TestServer;
let options: FetchImageOptions;

beforeAll(async () => {
  server = await startServer((req, res) => {
    switch (req.url) {
      case '/stall.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': '100000' });
        return void res.write(Buffer.alloc(1000)); // then nothing
      case '/reset.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': '100000' });
        res.write(Buffer.alloc(1000));
        return void setTimeout(() => req.socket.destroy(), 50);
      case '/empty-members.png': {
        // Gzip members that decode to nothing, past what any 1 MB image encodes to.
        const member = zlib.gzipSync(Buffer.alloc(0));
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' });
        return void res.end(Buffer.concat(Array.from({ length: Math.ceil(maxEncodedImageBytes(1_000_000) / member.length) + 10 }, () => member)));
      }
      case '/corrupt-gzip.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' });
        return void res.end('this is not gzip at all');
      default:
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' });
        return void res.end(zlib.gzipSync(Buffer.alloc(100)));
    }
  });
  options = { maxBytes: 1_000_000, timeoutMs: 500, allowPrivateAddressesFor: [`127.0.0.1:${server.port}`] };
});

afterAll(async () => {
  await server.close();
});

async function failureOf(path: string): Promise<ScanError> {
  const error = await fetchImage(`${server.origin}${path}`, options).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ScanError);
  return error as ScanError;
}

describe('fetchImage: errors while reading the body', () => {
  it('a body that stalls is fetch_timeout (transient)', async () => {
    const error = await failureOf('/stall.png');
    expect(error).toMatchObject({ code: 'fetch_timeout', permanent: false, detail: expect.objectContaining({ url: `${server.origin}/stall.png` }) });
  });

  it('a connection reset mid-body is fetch_failed (transient)', async () => {
    const error = await failureOf('/reset.png');
    expect(error).toMatchObject({ code: 'fetch_failed', permanent: false });
  });

  it('an encoded body longer than any image of maxBytes encodes to is payload_too_large, not a truncated image passed on', async () => {
    const error = await failureOf('/empty-members.png');
    expect(error).toMatchObject({ code: 'payload_too_large', permanent: true });
  });

  it('data the decompressor refuses is still image_corrupt (permanent)', async () => {
    const error = await failureOf('/corrupt-gzip.png');
    expect(error).toMatchObject({ code: 'image_corrupt', permanent: true });
  });

  it('a whole gzip-encoded body is read', async () => {
    const image = await fetchImage(`${server.origin}/ok.png`, options);
    expect(image.bytes).toEqual(Buffer.alloc(100));
  });
});
