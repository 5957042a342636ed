import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ErrorInfo } from '../../src/errors.js';
import { canonicalize } from '../../src/links/canonicalize.js';
import type { UnfurlResult } from '../../src/links/unfurl.js';
import { MAX_CACHED_RESULT_BYTES, UnfurlCache } from '../../src/links/unfurl-cache.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { silentServer, suiteRedis } from '../harness/redis.js';
import { startServer, redirect, type TestServer } from './unfurl-servers.js';

/** A fake unfurler: counts fetches per input, answers after a delay with a one-redirect chain. */
function fakeUnfurler(shape: Partial<UnfurlResult> = {}, delayMs = 30) {
  const calls: string[] = [];
  const unfurl = async (input: string): Promise<UnfurlResult> => {
    calls.push(input);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return {
      input,
      chain: [{ url: input, canonical: input, status: 301, address: '93.184.215.14', durationMs: 1, redirect: { kind: 'http', location: 'https://landing.example/' } }],
      final: { url: 'https://landing.example/', canonical: 'https://landing.example/', fetched: false },
      warnings: [],
      privateAddressOverride: false,
      ...shape,
    };
  };
  return { calls, unfurl };
}

describe('UnfurlCache (real Redis)', () => {
  const { prefix, redis } = suiteRedis('unfurl-cache');

  const url = (text: string) => [text, canonicalize(text)] as const;

  it('shares one fetch between concurrent misses, then answers from Redis for the TTL', async () => {
    const fake = fakeUnfurler();
    const cache = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.unfurl(...url('http://short.example/a'))));
    expect(fake.calls).toHaveLength(1);
    expect(results.every((r) => r.final?.url === 'https://landing.example/')).toBe(true);
    expect(cache.stats).toEqual({ hits: 0, misses: 1, shared: 19 });

    // Another worker (another cache object) gets the stored result; the input is its own.
    const other = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    const again = await other.unfurl(...url('HTTP://SHORT.example/a#x'));
    expect(fake.calls).toHaveLength(1);
    expect(again.input).toBe('HTTP://SHORT.example/a#x');
    expect(other.stats.hits).toBe(1);
    const ttl = await redis.ttl(cache.key(canonicalize('http://short.example/a')));
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it('keys on the port too (the canonical form drops it)', async () => {
    const fake = fakeUnfurler();
    const cache = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    await cache.unfurl(...url('http://ports.example/x'));
    await cache.unfurl(...url('http://ports.example:8080/x'));
    expect(fake.calls).toHaveLength(2);
  });

  it('keys on the URL fetched, not on the canonical form that merges different requests', async () => {
    const cache = new UnfurlCache({ redis, prefix, unfurl: fakeUnfurler().unfurl });
    const keyOf = (text: string) => cache.key(canonicalize(text));
    // Same canonical form, different hosts or paths fetched.
    expect(keyOf('http://google.com/@evil.example/')).not.toBe(keyOf('http://google.com%2F@evil.example/'));
    const paths = ['http://a.example/x%2Fy', 'http://a.example/x/y', 'http://a.example//x/y'].map(keyOf);
    expect(new Set(paths).size).toBe(3);
    // Different text, same request.
    expect(keyOf('HTTP://A.example:80/x#frag')).toBe(keyOf('http://a.example/x'));
    expect(keyOf('a.example/x')).toBe(keyOf('http://a.example/x'));

    const fake = fakeUnfurler();
    const counting = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    await counting.unfurl(...url('http://userinfo.example/@evil.example/'));
    await counting.unfurl(...url('http://userinfo.example%2F@evil.example/'));
    expect(fake.calls).toHaveLength(2);
  });

  it.each<[string, Partial<UnfurlResult>, boolean]>([
    ['a run with the private-address override', { privateAddressOverride: true }, false],
    ['a transient error', { error: { code: 'fetch_timeout', message: 'slow' } satisfies ErrorInfo }, false],
    ['a permanent error', { error: { code: 'blocked_address', message: 'private' } satisfies ErrorInfo }, true],
  ])('caches %s: %s', async (label, shape, cached) => {
    const fake = fakeUnfurler(shape, 1);
    const cache = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    const input = `http://cases.example/${label.replaceAll(' ', '-')}`;
    await cache.unfurl(...url(input));
    await cache.unfurl(...url(input));
    expect(fake.calls).toHaveLength(cached ? 1 : 2);
  });

  it('with TTL 0 never touches Redis but still shares concurrent fetches', async () => {
    const fake = fakeUnfurler();
    const cache = new UnfurlCache({ redis, prefix, ttlSeconds: 0, unfurl: fake.unfurl });
    await Promise.all([cache.unfurl(...url('http://nocache.example/')), cache.unfurl(...url('http://nocache.example/'))]);
    await cache.unfurl(...url('http://nocache.example/'));
    expect(fake.calls).toHaveLength(2);
    expect(await redis.exists(cache.key(canonicalize('http://nocache.example/')))).toBe(0);
  });

  it('serves the link preparer: the chain of a cached unfurl is matched like a fetched one', async () => {
    const fake = fakeUnfurler();
    const preparer = new LinkPreparer({ unfurlCache: new UnfurlCache({ redis, prefix, unfurl: fake.unfurl }) });
    const first = await preparer.prepare('http://prep.example/s');
    const second = await preparer.prepare('http://prep.example/s');
    expect(fake.calls).toHaveLength(1);
    expect(second.subject.targets.map((t) => t.canonical.canonical)).toEqual(['http://prep.example/s', 'https://landing.example/']);
    expect(second.details).toEqual(first.details);
  });

  it('never caches real unfurls run through the address-guard override', async () => {
    const server: TestServer = await startServer((req, res) => (req.url === '/go' ? redirect(res, 302, '/done') : res.writeHead(200).end('ok')));
    try {
      const cache = new UnfurlCache({ redis, prefix });
      const options = { allowPrivateAddressesFor: [`127.0.0.1:${server.port}`] };
      const first = await cache.unfurl(`${server.origin}/go`, canonicalize(`${server.origin}/go`), options);
      await cache.unfurl(`${server.origin}/go`, canonicalize(`${server.origin}/go`), options);
      expect(first.chain).toHaveLength(2);
      expect(server.requests.filter((p) => p === '/go')).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('keeps results of other unfurl settings apart: a worker allowing 2 redirects does not answer for one allowing 10', async () => {
    const fake = fakeUnfurler();
    const cache = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    await cache.unfurl(...url('http://settings.example/'), { maxRedirects: 2 });
    await cache.unfurl(...url('http://settings.example/'), { maxRedirects: 10 });
    await cache.unfurl(...url('http://settings.example/'), { maxRedirects: 10, signal: new AbortController().signal });
    expect(fake.calls).toHaveLength(2);
    expect(cache.key(canonicalize('http://settings.example/'), { maxRedirects: 2 })).not.toBe(cache.key(canonicalize('http://settings.example/'), { maxRedirects: 10 }));
  });

  it("keeps other scanner versions' results apart: during a rolling deploy a newer worker fetches for itself", async () => {
    const fake = fakeUnfurler();
    const older = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl, scannerVersion: '0.1.0' });
    const newer = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl, scannerVersion: '0.2.0' });
    await older.unfurl(...url('http://versions.example/'));
    await newer.unfurl(...url('http://versions.example/'));
    expect(fake.calls).toHaveLength(2);
    expect(newer.stats).toEqual({ hits: 0, misses: 1, shared: 0 });
    // A worker of the same version shares the newer one's result.
    const sameVersion = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl, scannerVersion: '0.2.0' });
    await sameVersion.unfurl(...url('http://versions.example/'));
    expect(sameVersion.stats.hits).toBe(1);
  });

  it('does not store a result over MAX_CACHED_RESULT_BYTES (a chain of long hops), and fetches it again', async () => {
    const long = `https://long.example/${'x'.repeat(MAX_CACHED_RESULT_BYTES)}`;
    const fake = fakeUnfurler({ final: { url: long, canonical: long, fetched: false } });
    const cache = new UnfurlCache({ redis, prefix, unfurl: fake.unfurl });
    await cache.unfurl(...url('http://big.example/'));
    expect(await redis.exists(cache.key(canonicalize('http://big.example/')))).toBe(0);
    await cache.unfurl(...url('http://big.example/'));
    expect(fake.calls).toHaveLength(2);
  });

  it('treats a Redis that does not answer as a miss: the link is unfurled, not left waiting for Redis', async () => {
    const silent = await silentServer();
    const stuck = createRedis(`redis://127.0.0.1:${silent.port}`);
    try {
      const fake = fakeUnfurler({}, 1);
      const cache = new UnfurlCache({ redis: stuck, prefix, unfurl: fake.unfurl });
      const started = performance.now();
      const result = await cache.unfurl(...url('http://outage.example/'));
      expect(result.final?.url).toBe('https://landing.example/');
      expect(performance.now() - started).toBeLessThan(2000);
      expect(cache.stats).toMatchObject({ hits: 0, misses: 1 });
    } finally {
      stuck.disconnect();
      await silent.close();
    }
  });

  it('logs a Redis that does not answer once for reads and once for writes, not twice per link', async () => {
    const silent = await silentServer();
    const stuck = createRedis(`redis://127.0.0.1:${silent.port}`);
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = createLogger('info', 'unfurl-cache-test', { write: (line: string) => void lines.push(JSON.parse(line)) });
    try {
      const cache = new UnfurlCache({ redis: stuck, prefix, unfurl: fakeUnfurler({}, 1).unfurl, logger });
      await Promise.all(Array.from({ length: 40 }, (_, n) => cache.unfurl(...url(`http://outage-${n}.example/`))));
      expect(cache.stats).toMatchObject({ hits: 0, misses: 40 });
      expect(lines.map((line) => [line.level, line.msg])).toEqual([
        [40, 'unfurl cache read failed; fetching'],
        [40, 'unfurl cache write failed'],
      ]);
    } finally {
      stuck.disconnect();
      await silent.close();
    }
  });
});

