import type http from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImage } from '../../src/links/fetch-image.js';
import { HostLimiter } from '../../src/links/guard/host-limiter.js';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { mapConcurrent } from '../../src/pipeline/map-concurrent.js';
import { html, lookupAnswering, startServer, type TestServer } from './unfurl-servers.js';

/**
 * The per-address limit against a real server: many different sites (registrable domains, each
 * with its own per-host budget) whose names all resolve to one 127.0.0.1 server, as an attacker's
 * domains pointed at a victim would. The server counts the connections open at once.
 */

const LIMIT = 3;
let server: TestServer;
let open = 0;
let maxOpen = 0;
/** Responses to `/hold` wait here until the test lets them go. */
const held: http.ServerResponse[] = [];

/** Counts a connection as open from its first request until it closes. */
function track(socket: Socket): void {
  if (seen.has(socket)) return;
  seen.add(socket);
  open++;
  maxOpen = Math.max(maxOpen, open);
  socket.once('close', () => open--);
}
const seen = new WeakSet<Socket>();

beforeAll(async () => {
  server = await startServer((req, res) => {
    track(req.socket);
    if (req.url === '/hold') return void held.push(res);
    // To another site on the same address.
    if (req.url === '/elsewhere') return void res.writeHead(302, { location: `http://b.example:${server.port}/page/landed` }).end();
    if (req.url?.startsWith('/img/')) return void setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end('image'), 30);
    setTimeout(() => html(res, '<html>page</html>'), 30);
  });
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await server.close();
});

function optionsWith(addressLimiter: HostLimiter, extra: Partial<UnfurlOptions> = {}): UnfurlOptions {
  return {
    allowPrivateAddressesFor: [`127.0.0.1:${server.port}`],
    lookup: lookupAnswering(['127.0.0.1']).lookup,
    hostLimiter: new HostLimiter(8),
    addressLimiter,
    hopTimeoutMs: 10_000,
    totalTimeoutMs: 20_000,
    ...extra,
  };
}

describe('per-address limit: many sites that resolve to one address', () => {
  it(`never has more than ${LIMIT} connections open to it, whatever the names, image fetches included`, async () => {
    const limiter = new HostLimiter(LIMIT);
    const options = optionsWith(limiter);
    maxOpen = open;
    const before = server.connections();
    // 30 links to 30 different registrable domains, 6 image URLs on 6 more, all at once.
    const links = Array.from({ length: 30 }, (_, i) => `http://site${i}.example:${server.port}/page/${i}`);
    const images = Array.from({ length: 6 }, (_, i) => `http://cdn${i}.example:${server.port}/img/${i}.png`);
    const [unfurled, fetched] = await Promise.all([
      mapConcurrent(links, 30, (link) => unfurl(link, options)),
      Promise.all(images.map((url) => fetchImage(url, { maxBytes: 1024, timeoutMs: 20_000, addressLimiter: limiter, allowPrivateAddressesFor: options.allowPrivateAddressesFor!, lookup: options.lookup! }))),
    ]);
    expect(unfurled.map((result) => result.error)).toEqual(links.map(() => undefined));
    expect(fetched.map((image) => image.bytes.toString())).toEqual(images.map(() => 'image'));
    expect(server.connections() - before).toBeGreaterThanOrEqual(LIMIT);
    expect(maxOpen).toBe(LIMIT);
    // Every connection's slot comes back once it is closed.
    await expect.poll(() => limiter.active()).toBe(0);
    expect(limiter.waiting()).toBe(0);
  }, 20_000);

  it.each([
    ['a name that resolves to it', 'another.example'],
    ['the address itself (never looked up)', '127.0.0.1'],
  ])('a connection to %s still waiting for its slot when the hop deadline passes fails with fetch_timeout, sending nothing; once free it takes the slot', async (_name, host) => {
    const limiter = new HostLimiter(1);
    const options = optionsWith(limiter);
    held.length = 0;
    const holder = unfurl(`http://one.example:${server.port}/hold`, options);
    await expect.poll(() => held.length).toBe(1);
    const before = server.connections();
    const started = performance.now();
    const waiting = await unfurl(`http://${host}:${server.port}/page/late`, { ...options, hopTimeoutMs: 300 });
    expect(waiting.error?.code).toBe('fetch_timeout');
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(server.connections()).toBe(before);
    // Its socket, closed as the hop gave up, leaves the queue.
    await expect.poll(() => limiter.waiting()).toBe(0);
    const res = held.shift()!;
    html(res, 'done');
    expect((await holder).error).toBeUndefined();
    await expect.poll(() => limiter.active()).toBe(0);
    // And the address is usable at once; the slot comes back.
    expect((await unfurl(`http://${host}:${server.port}/page/after`, options)).error).toBeUndefined();
    await expect.poll(() => limiter.active()).toBe(0);
  }, 10_000);

  it('a chain holds no connection between its hops: a redirect to another site on the same address gets the one slot at once', async () => {
    // A kept-alive connection of the first hop would hold the slot for the keep-alive time (1 s),
    // past this hop deadline; chains waiting on each other's idle connections stalled a worker.
    const limiter = new HostLimiter(1);
    const result = await unfurl(`http://a.example:${server.port}/elsewhere`, optionsWith(limiter, { hopTimeoutMs: 700 }));
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => new URL(hop.url).host)).toEqual([`a.example:${server.port}`, `b.example:${server.port}`]);
    await expect.poll(() => limiter.active()).toBe(0);
  }, 10_000);
});
