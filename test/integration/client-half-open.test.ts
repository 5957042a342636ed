import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { outcome } from '../harness/outcome.js';
import { suiteRedis } from '../harness/redis.js';
import { redisProxy, type RedisProxy } from '../harness/redis-proxy.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The kernel would keep such a connection for some 15 minutes: within a test, only a reset recovers it. */
describe('the producer client when its connection goes silent without closing', () => {
  const { prefix, redis } = suiteRedis('client-half-open');
  const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
  let client: ScanClient | undefined;
  let proxy: RedisProxy | undefined;

  afterEach(async () => {
    if (client) expect((await outcome(client.close(), 2000)).code).toBe('resolved');
    client = undefined;
    await proxy?.close();
    proxy = undefined;
  });

  it('the call that hits the deadline drops the connection: getVerdict, enqueue and waitForVerdict work again', async () => {
    await store.storeAll([sampleVerdict('half-open-1')]);
    proxy = await redisProxy();
    client = createScanClient({ connection: proxy.url, prefix, commandTimeoutMs: 500 });
    expect((await client.getVerdict('half-open-1'))?.jobId).toBe('half-open-1');

    proxy.silence();
    expect(await outcome(client.getVerdict('half-open-1'), 3000)).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining('did not answer within 500 ms') });
    expect((await client.getVerdict('half-open-1'))?.jobId).toBe('half-open-1');
    expect(await client.enqueue({ contentId: 'half-open-2', surface: 'send', items: ['https://half-open.example/'] })).toMatchObject({ duplicate: false });
    expect((await client.waitForVerdict('half-open-1', { timeoutMs: 2000 })).jobId).toBe('half-open-1');
  });

  it('a burst of calls past their deadlines drops the connection once, and the calls waiting on it fail at once', async () => {
    await store.storeAll([sampleVerdict('burst-1')]);
    proxy = await redisProxy();
    client = createScanClient({ connection: proxy.url, prefix, commandTimeoutMs: 500 });
    expect((await client.getVerdict('burst-1'))?.jobId).toBe('burst-1');
    const accepted = proxy.accepted();

    proxy.silence();
    const calls: Array<ReturnType<typeof outcome>> = [];
    for (let i = 0; i < 8; i++) {
      calls.push(outcome(client.getVerdict('burst-1'), 3000));
      await sleep(40);
    }
    const results = await Promise.all(calls);
    expect(results.map((result) => result.code)).toEqual(Array(8).fill('redis_unavailable'));
    // The last one was sent some 300 ms after the first: it fails with it, not at its own deadline.
    expect(results.at(-1)!.ms).toBeLessThan(400);
    await sleep(300);
    expect(proxy.accepted()).toBe(accepted + 1);
    expect((await client.getVerdict('burst-1'))?.jobId).toBe('burst-1');
  });

  it('a connection passed in is left as configured: only the deadline applies', async () => {
    proxy = await redisProxy();
    const connection = new Redis(proxy.url, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    try {
      client = createScanClient({ connection, prefix, commandTimeoutMs: 300 });
      await connection.ping();
      const socket = connection.stream;
      proxy.silence();
      expect((await outcome(client.getVerdict('caller'), 2000)).code).toBe('redis_unavailable');
      await sleep(100);
      expect(connection.stream).toBe(socket);
      expect(socket.destroyed).toBe(false);
    } finally {
      await outcome(client!.close(), 2000);
      client = undefined;
      connection.disconnect();
    }
  });
});
