import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { fetchImage } from '../../src/links/fetch-image.js';
import { HostLimiter } from '../../src/links/guard/host-limiter.js';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { mapConcurrent } from '../../src/pipeline/map-concurrent.js';
import { html, lookupAnswering, redirect, startServer, type TestServer } from './unfurl-servers.js';

/**
 * The per-host limit against a real server: every `*.victim.example` name resolves to one
 * 127.0.0.1 server, which counts the requests it is serving at once. Many concurrent unfurls
 * and image fetches to that one site (one registrable domain) never have more than the limit
 * in flight, and a request that cannot get a slot before its deadline fails with fetch_timeout.
 */

const LIMIT = 3;
let server: TestServer;
let inFlight = 0;
let maxInFlight = 0;
/** Responses to `/hold` wait here until the test lets them go. */
const held: http.ServerResponse[] = [];
/** Requests counted in `inFlight` and not yet answered or given up. */
const open = new WeakSet<http.ServerResponse>();

/** Sends the response, first counting the request as done (before any byte can reach the client). */
function finish(res: http.ServerResponse, send: () => void): void {
  if (open.delete(res)) inFlight--;
  send();
}

beforeAll(async () => {
  server = await startServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    open.add(res);
    // A request the client gave up on is not in flight any more either.
    res.on('close', () => {
      if (open.delete(res)) inFlight--;
    });
    const url = new URL(req.url ?? '/', 'http://x');
    const port = server.port;
    if (url.pathname === '/hold') return void held.push(res);
    if (url.pathname === '/never') return; // never answers
    if (url.pathname === '/reset') return void req.socket.destroy();
    setTimeout(() => {
      if (res.destroyed) return;
      if (url.pathname.startsWith('/r/')) return finish(res, () => redirect(res, 302, `http://c.victim.example:${port}/page/${url.pathname.slice(3)}`));
      if (url.pathname.startsWith('/img/')) return finish(res, () => void res.writeHead(200, { 'content-type': 'image/png', 'content-length': '5' }).end('image'));
      if (url.pathname === '/big') return finish(res, () => html(res, `<html>${'x'.repeat(200 * 1024)}</html>`));
      finish(res, () => html(res, '<html>landing</html>'));
    }, 40);
  });
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await server.close();
});

function optionsWith(limiter: HostLimiter, extra: Partial<UnfurlOptions> = {}): UnfurlOptions {
  return {
    allowPrivateAddressesFor: [`127.0.0.1:${server.port}`],
    lookup: lookupAnswering(['127.0.0.1']).lookup,
    hostLimiter: limiter,
    hopTimeoutMs: 20_000,
    totalTimeoutMs: 30_000,
    ...extra,
  };
}

describe('per-host limit: many jobs unfurling links to one site', () => {
  it(`never has more than ${LIMIT} requests in flight to one registrable domain, image fetches included`, async () => {
    const limiter = new HostLimiter(LIMIT);
    const options = optionsWith(limiter);
    inFlight = 0;
    maxInFlight = 0;
    // 40 links to three subdomains of one site (a fifth of them redirect to a fourth one),
    // spread over 5 "jobs" that each unfurl 8 at a time, as a worker's jobs would.
    const links = Array.from({ length: 40 }, (_, i) =>
      i % 5 === 0 ? `http://a.victim.example:${server.port}/r/${i}` : `http://${i % 2 ? 'b' : 'www'}.victim.example:${server.port}/page/${i}`,
    );
    const jobs = Array.from({ length: 5 }, (_, job) => links.slice(job * 8, job * 8 + 8));
    const images = Array.from({ length: 6 }, (_, i) => `http://img.victim.example:${server.port}/img/${i}.png`);
    const started = performance.now();
    const [unfurled, fetched] = await Promise.all([
      Promise.all(jobs.map((job) => mapConcurrent(job, 8, (link) => unfurl(link, options)))),
      Promise.all(
        images.map((url) =>
          fetchImage(url, { maxBytes: 1024, timeoutMs: 30_000, hostLimiter: limiter, allowPrivateAddressesFor: options.allowPrivateAddressesFor!, lookup: options.lookup! }),
        ),
      ),
    ]);
    const results = unfurled.flat();
    expect(results.map((r) => r.error)).toEqual(results.map(() => undefined));
    expect(results.every((r) => r.final?.fetched === true && r.final.url.includes('/page/'))).toBe(true);
    expect(results.filter((r) => r.chain.length === 2)).toHaveLength(8);
    expect(fetched.map((image) => image.bytes.toString())).toEqual(images.map(() => 'image'));
    // 54 requests of 40 ms each, LIMIT at a time: about 0.7 s; all 54 at once would be 40 ms.
    expect(maxInFlight).toBe(LIMIT);
    expect(performance.now() - started).toBeGreaterThan((54 / LIMIT) * 40 * 0.8);
    expect(inFlight).toBe(0);
    expect(limiter.active()).toBe(0);
    expect(limiter.waiting()).toBe(0);
    expect(limiter.hostCount).toBe(0);
  });

  it('keeps separate sites apart: a busy one does not hold up another', async () => {
    const limiter = new HostLimiter(1);
    const options = optionsWith(limiter);
    const hold = unfurl(`http://a.victim.example:${server.port}/hold`, options);
    await expect.poll(() => held.length).toBe(1);
    const other = await unfurl(`http://other.example:${server.port}/page/1`, options);
    expect(other.error).toBeUndefined();
    expect(limiter.waiting()).toBe(0);
    const res = held.shift()!;
    finish(res, () => html(res, 'done'));
    expect((await hold).error).toBeUndefined();
  });
});

describe('per-host limit: deadlines and releases', () => {
  it('a request still waiting for a slot when its deadline passes fails with fetch_timeout, never reaching the host', async () => {
    const limiter = new HostLimiter(1);
    const options = optionsWith(limiter);
    held.length = 0;
    const holder = unfurl(`http://a.victim.example:${server.port}/hold`, options);
    await expect.poll(() => held.length).toBe(1);
    const before = server.requests.length;

    const started = performance.now();
    const waiting = await unfurl(`http://b.victim.example:${server.port}/page/late`, { ...options, hopTimeoutMs: 300 });
    const waited = performance.now() - started;
    expect(waiting.error).toMatchObject({ code: 'fetch_timeout', detail: { host: 'victim.example', cause: 'host_busy', limit: 1 } });
    expect(waiting.chain).toEqual([]);
    expect(waiting.final).toMatchObject({ fetched: false });
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2_000);
    // The whole-chain deadline bounds the wait too.
    const total = await unfurl(`http://b.victim.example:${server.port}/page/late`, { ...options, totalTimeoutMs: 300 });
    expect(total.error).toMatchObject({ code: 'fetch_timeout', detail: { cause: 'host_busy' } });
    // And the image fetcher's deadline.
    const image = await fetchImage(`http://img.victim.example:${server.port}/img/late.png`, {
      maxBytes: 1024,
      timeoutMs: 300,
      hostLimiter: limiter,
      allowPrivateAddressesFor: options.allowPrivateAddressesFor!,
      lookup: options.lookup!,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(image).toBeInstanceOf(ScanError);
    expect(image).toMatchObject({ code: 'fetch_timeout', permanent: false, detail: { cause: 'host_busy' } });
    expect(server.requests.length).toBe(before);
    expect(limiter.waiting()).toBe(0);

    const res = held.shift()!;
    finish(res, () => html(res, 'done'));
    expect((await holder).error).toBeUndefined();
    expect(limiter.hostCount).toBe(0);
  }, 10_000);

  it('the slot comes back however a request ends: success, timeout, reset, byte caps, refused address', async () => {
    for (const res of held.splice(0)) res.destroy();
    const limiter = new HostLimiter(1);
    const options = optionsWith(limiter, { hopTimeoutMs: 2_000 });
    const imageOptions = { timeoutMs: 2_000, hostLimiter: limiter, allowPrivateAddressesFor: options.allowPrivateAddressesFor!, lookup: options.lookup! };
    const base = `http://victim.example:${server.port}`;
    const outcomes = await Promise.all([
      unfurl(`${base}/page/ok`, options).then((r) => r.error?.code ?? 'ok'),
      unfurl(`${base}/never`, { ...options, hopTimeoutMs: 200 }).then((r) => r.error?.code ?? 'ok'),
      fetchImage(`${base}/img/big.png`, { ...imageOptions, maxBytes: 2 }).then(() => 'ok', (e: ScanError) => e.code),
      fetchImage(`${base}/never`, { ...imageOptions, timeoutMs: 300, maxBytes: 1024 }).then(() => 'ok', (e: ScanError) => e.code),
      // DNS that answers a refused address fails inside the request, with the slot taken.
      unfurl(`${base}/page/refused`, { ...options, lookup: lookupAnswering(['10.0.0.1']).lookup }).then((r) => r.error?.code ?? 'ok'),
      unfurl(`${base}/reset`, options).then((r) => r.error?.code ?? 'ok'),
      // A page over the body cap: read up to the cap, then dropped.
      unfurl(`${base}/big`, options).then((r) => (r.chain[0]?.body?.truncated ? 'truncated' : (r.error?.code ?? 'ok'))),
      fetchImage(`${base}/img/ok.png`, { ...imageOptions, maxBytes: 1024 }).then(() => 'ok', (e: ScanError) => e.code),
    ]);
    expect(outcomes).toEqual(['ok', 'fetch_timeout', 'payload_too_large', 'fetch_timeout', 'blocked_address', 'fetch_failed', 'truncated', 'ok']);
    expect(limiter.active()).toBe(0);
    expect(limiter.waiting()).toBe(0);
    expect(limiter.hostCount).toBe(0);
    // And the site is usable at once.
    expect((await unfurl(`${base}/page/after`, options)).error).toBeUndefined();
  }, 15_000);
});
