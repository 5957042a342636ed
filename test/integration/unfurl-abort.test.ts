import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../src/links/canonicalize.js';
import { HostLimiter } from '../../src/links/guard/host-limiter.js';
import { unfurl } from '../../src/links/unfurl.js';
import { UnfurlCache } from '../../src/links/unfurl-cache.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { html, lookupAnswering, lookupNeverAnswering, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/** Deadlines and the job's abort reach every part of an unfurl, connection setup included. */

let server: TestServer;
let trickleClosed: number;

beforeAll(async () => {
  trickleClosed = 0;
  server = await startServer((req, res) => {
    switch (new URL(req.url ?? '/', 'http://x').pathname) {
      case '/late-redirect-to-blackhole':
        // Answers late, to a name whose connection is never set up.
        return void setTimeout(() => redirect(res, 302, 'http://blackhole.example/'), 1_000);
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'text/html' });
        const timer = setInterval(() => res.write(' '), 50);
        return void res.on('close', () => (clearInterval(timer), trickleClosed++));
      }
      default:
        return html(res, 'landing');
    }
  });
});

afterAll(async () => {
  await server.close();
});

/** Resolves `blackhole.example` never, every other name to 127.0.0.1. */
const lookupWithBlackhole = ((hostname: string, options: object, callback: (...args: unknown[]) => void) => {
  if (hostname === 'blackhole.example') return;
  lookupAnswering(['127.0.0.1']).lookup(hostname, options, callback as never);
}) as typeof lookupNeverAnswering;

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

function abortAfter(ms: number, reason = new Error('job given up')): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(reason), ms);
  return controller.signal;
}

describe('unfurl: deadlines cover connection setup', () => {
  it('a hop connecting gets only the time left in the chain, not a whole hop timeout', async () => {
    const { value: result, ms } = await timed(() =>
      unfurl(`http://site.example:${server.port}/late-redirect-to-blackhole`, { ...unfurlOptionsFor(server, lookupWithBlackhole), hopTimeoutMs: 2_000, totalTimeoutMs: 1_300 }),
    );
    expect(result.error).toMatchObject({ code: 'fetch_timeout', detail: { url: 'http://blackhole.example/' } });
    expect(result.chain).toHaveLength(1);
    expect(ms).toBeLessThan(1_800);
  });
});

describe('unfurl: the signal ends it at once', () => {
  it('while the connection is being set up, rejecting with the reason', async () => {
    const reason = new Error('job given up');
    const { value: error, ms } = await timed(() => unfurl('http://hang.example/', { lookup: lookupNeverAnswering, hopTimeoutMs: 5_000, signal: abortAfter(200, reason) }).catch((e: unknown) => e));
    expect(error).toBe(reason);
    expect(ms).toBeLessThan(1_000);
  });

  it('while waiting for a slot of a busy host', async () => {
    const limiter = new HostLimiter(1);
    const held = await limiter.acquire('127.0.0.1');
    try {
      const { value: error, ms } = await timed(() => unfurl(`${server.origin}/`, { ...unfurlOptionsFor(server), hostLimiter: limiter, signal: abortAfter(200) }).catch((e: unknown) => e));
      expect(error).toMatchObject({ message: 'job given up' });
      expect(ms).toBeLessThan(1_000);
      expect(limiter.waiting()).toBe(0);
    } finally {
      held.release();
    }
  });

  it('while reading a body, closing the connection', async () => {
    const closed = trickleClosed;
    const { value: error, ms } = await timed(() => unfurl(`${server.origin}/trickle`, { ...unfurlOptionsFor(server), hopTimeoutMs: 5_000, signal: abortAfter(200) }).catch((e: unknown) => e));
    expect(error).toMatchObject({ message: 'job given up' });
    expect(ms).toBeLessThan(1_000);
    await expect.poll(() => trickleClosed).toBe(closed + 1);
  });

  it('LinkPreparer.prepare passes the job signal on', async () => {
    const preparer = new LinkPreparer({ unfurlOptions: { ...unfurlOptionsFor(server), hopTimeoutMs: 5_000, totalTimeoutMs: 20_000 } });
    const { value: error, ms } = await timed(() => preparer.prepare(`${server.origin}/trickle`, 0, abortAfter(200)).catch((e: unknown) => e));
    expect(error).toMatchObject({ message: 'job given up' });
    expect(ms).toBeLessThan(1_000);
  });
});

describe('UnfurlCache: a shared fetch and the callers giving up', () => {
  it('one caller giving up does not fail the others; the fetch stops when every caller has', async () => {
    const cache = new UnfurlCache({ prefix: '{abort-test}' });
    const options = { ...unfurlOptionsFor(server), hopTimeoutMs: 1_000 };
    const url = `${server.origin}/trickle?shared`;
    const leaving = cache.unfurl(url, canonicalize(url), { ...options, signal: abortAfter(100) }).catch((e: unknown) => e);
    const staying = cache.unfurl(url, canonicalize(url), options);
    expect(await leaving).toMatchObject({ message: 'job given up' });
    // The fetch ran on to its own end (the trickle never ends the body: the hop deadline does).
    expect((await staying).error).toMatchObject({ code: 'fetch_timeout' });
    expect(cache.stats).toMatchObject({ misses: 1, shared: 1 });

    const alone = `${server.origin}/trickle?alone`;
    const closed = trickleClosed;
    const { ms } = await timed(() => Promise.all([0, 1].map(() => cache.unfurl(alone, canonicalize(alone), { ...options, signal: abortAfter(100) }).catch(() => undefined))));
    expect(ms).toBeLessThan(600);
    await expect.poll(() => trickleClosed).toBe(closed + 1);
  });
});
