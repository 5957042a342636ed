import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { fetchImage, type FetchImageOptions } from '../../src/links/fetch-image.js';
import { maxHrefLength } from '../../src/links/unfurl.js';
import { lookupAnswering, lookupNeverAnswering, startServer, startSibling, type TestServer } from './unfurl-servers.js';

/**
 * The image fetch path under the same adversarial checks as the unfurler: every hop guarded (DNS
 * included), no other scheme, decoded-size cap, whole-fetch deadline.
 */

let cdn: TestServer;
let internal: TestServer;
let options: FetchImageOptions;
let sibling: Awaited<ReturnType<typeof startSibling>>;

const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });

async function failureOf(url: string, extra: Partial<FetchImageOptions> = {}): Promise<ScanError> {
  const error = await fetchImage(url, { ...options, ...extra }).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ScanError);
  return error as ScanError;
}

beforeAll(async () => {
  internal = await startServer((_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end('internal'));
  cdn = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    if (to) return void res.writeHead(302, { location: to.replace('INTERNAL', String(internal.port)), connection: 'close' }).end();
    switch (url.pathname) {
      case '/bomb.png':
        return void res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' }).end(bomb);
      case '/trickle.png': {
        res.writeHead(200, { 'content-type': 'image/png' });
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('x')), 20);
        return;
      }
      default:
        return void res.writeHead(200, { 'content-type': 'image/png' }).end('image');
    }
  });
  sibling = await startSibling(cdn.port);
  options = { maxBytes: 1024 * 1024, timeoutMs: 2_000, allowPrivateAddressesFor: [`127.0.0.1:${cdn.port}`] };
});

afterAll(async () => {
  await cdn.close();
  await internal.close();
  await sibling.close();
});

describe('fetchImage: redirects are guarded hop by hop', () => {
  it.each([
    ['127.0.0.1 on another port', 'http://127.0.0.1:INTERNAL/a.png', 'loopback'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['[::ffff:7f00:1]', 'http://[::ffff:7f00:1]:INTERNAL/', 'loopback'],
    ['a 6to4 address embedding 10.0.0.1', 'http://[2002:a00:1::]/', 'private'],
    ['a NAT64 address embedding 127.0.0.1', 'http://[64:ff9b::7f00:1]/', 'loopback'],
  ])('a redirect to %s is blocked_address, the internal server never reached', async (_name, target, range) => {
    const before = internal.connections();
    const error = await failureOf(`${cdn.origin}/?to=${encodeURIComponent(target)}`);
    expect(error).toMatchObject({ code: 'blocked_address', permanent: true, detail: { range } });
    expect(internal.connections()).toBe(before);
  });

  it.each([['file:///etc/passwd'], ['gopher://127.0.0.1:6379/_INFO'], ['ftp://example.com/a.png'], ['data:image/png;base64,AAAA']])(
    'a redirect to %s is unsupported_scheme',
    async (target) => {
      const error = await failureOf(`${cdn.origin}/?to=${encodeURIComponent(target)}`);
      expect(error).toMatchObject({ code: 'unsupported_scheme', permanent: true });
    },
  );
});

describe('fetchImage: DNS answers are checked where the socket connects', () => {
  it('a name resolving to a private address is refused without a connection', async () => {
    const { lookup } = lookupAnswering(['127.0.0.1']);
    const before = internal.connections();
    const error = await failureOf(`http://images.example:${internal.port}/a.png`, { lookup });
    expect(error).toMatchObject({ code: 'blocked_address', detail: { host: 'images.example', range: 'loopback' } });
    expect(internal.connections()).toBe(before);
  });

  it('of several answers only an allowed one is connected to (all answers go through the filter, Happy Eyeballs included)', async () => {
    const { lookup, calls } = lookupAnswering(['127.0.0.2', '127.0.0.1']);
    const before = sibling.connections();
    const image = await fetchImage(`http://images.example:${cdn.port}/a.png`, { ...options, lookup });
    expect(image.bytes.toString()).toBe('image');
    expect(sibling.connections()).toBe(before);
    expect(calls.length).toBeGreaterThan(0);
  });

  it('a name that re-resolves to a refused address for the next connection (rebinding) is refused then', async () => {
    // First answer allowed (the override), then 127.0.0.2: each new socket looks up again, and is checked again.
    const { lookup } = lookupAnswering(['127.0.0.1'], ['127.0.0.2']);
    const before = sibling.connections();
    const error = await failureOf(`http://rebind.example:${cdn.port}/?to=${encodeURIComponent('/again.png')}`, { lookup });
    expect(error).toMatchObject({ code: 'blocked_address', detail: { host: 'rebind.example', address: '127.0.0.2' } });
    expect(sibling.connections()).toBe(before);
  });
});

describe('fetchImage: limits', () => {
  it('a redirect target longer than the href of a link within the URL limit is url_too_long, not requested', async () => {
    const target = `/img/${'a'.repeat(2000)}.png`;
    const error = await failureOf(`${cdn.origin}/r?to=${encodeURIComponent(target)}`, { maxUrlLength: 100 });
    expect(error.code).toBe('url_too_long');
    expect(error.detail).toMatchObject({ maxLength: maxHrefLength(100) });
    expect(cdn.requests.some((path) => path.startsWith('/img/'))).toBe(false);
  });

  it('a gzip bomb is payload_too_large, capped on decoded bytes, in bounded time', async () => {
    expect(bomb.length).toBeLessThan(256 * 1024);
    const started = performance.now();
    const error = await failureOf(`${cdn.origin}/bomb.png`);
    expect(error).toMatchObject({ code: 'payload_too_large', detail: { limit: 1024 * 1024 } });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('a server trickling bytes is stopped by the whole-fetch deadline, not the per-chunk timeout', async () => {
    const started = performance.now();
    const error = await failureOf(`${cdn.origin}/trickle.png`, { timeoutMs: 400 });
    expect(error).toMatchObject({ code: 'fetch_timeout', permanent: false });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it.each([
    ['the job signal', { timeoutMs: 5_000 }, true],
    ['the whole-fetch deadline', { timeoutMs: 300 }, false],
  ])('%s ends a fetch whose connection is still being set up at once', async (_name, extra, byJob) => {
    const job = new AbortController();
    const timer = byJob ? setTimeout(() => job.abort(new ScanError('fetch_failed', 'job given up')), 300) : undefined;
    const started = performance.now();
    const error = await fetchImage('http://hang.example/a.png', { ...options, ...extra, lookup: lookupNeverAnswering }, job.signal).catch((e: unknown) => e);
    clearTimeout(timer);
    expect(error).toMatchObject(byJob ? { message: 'job given up' } : { code: 'fetch_timeout' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('fetchImage: a local IPv6 server stays refused without an override', () => {
  it('[::1] is blocked_address', async () => {
    const v6 = http.createServer((_req, res) => res.end('x'));
    await new Promise<void>((resolve) => v6.listen(0, '::1', resolve));
    const { port } = v6.address() as AddressInfo;
    try {
      const error = await failureOf(`http://[::1]:${port}/a.png`);
      expect(error).toMatchObject({ code: 'blocked_address', detail: { range: 'loopback' } });
    } finally {
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });
});
