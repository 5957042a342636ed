import { afterEach, describe, expect, it } from 'vitest';
import { createVerdictConsumer, type VerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { outcome } from '../harness/outcome.js';
import { suiteRedis } from '../harness/redis.js';
import { redisProxy, type RedisProxy } from '../harness/redis-proxy.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The kernel would keep such a connection for some 15 minutes: within a test, only a reset recovers it. */
describe('the verdict consumer when its connection goes silent without closing', () => {
  const { prefix, redis } = suiteRedis('consumer-half-open');
  let consumer: VerdictConsumer | undefined;
  let proxy: RedisProxy | undefined;

  afterEach(async () => {
    if (consumer) expect((await outcome(consumer.close(), 3000)).code).toBe('resolved');
    consumer = undefined;
    await proxy?.close();
    proxy = undefined;
  });

  function consume(streamPrefix: string, url: string) {
    const handled: string[] = [];
    const errors: Array<{ code?: string; message: string; entryId: string }> = [];
    consumer = createVerdictConsumer({
      connection: url, prefix: streamPrefix, group: 'g', consumer: 'c', blockMs: 200, commandTimeoutMs: 500,
      handler: async (verdict) => void handled.push(verdict.jobId),
      onError: (error, entryId) => errors.push({ code: (error as { code?: string }).code, message: (error as Error).message, entryId }),
    });
    return { consumer, handled, errors };
  }

  it('drops the connection at the deadline, reconnects once, and handles the verdict whose reply was lost', async () => {
    const streamPrefix = `${prefix}:resume`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
    proxy = await redisProxy();
    const { consumer, handled, errors } = consume(streamPrefix, proxy.url);
    await consumer.start();
    await store.storeAll([sampleVerdict('before')]);
    const acknowledged = async () => ((await redis.xpending(`${streamPrefix}:verdicts`, 'g')) as [number])[0] === 0;
    expect(await waitUntil(async () => handled.length === 1 && (await acknowledged()), 3000, 20)).toBe(true);

    const accepted = proxy.accepted();
    proxy.silence();
    // Redis hands it to the read waiting on the silenced connection: read, never acknowledged.
    await store.storeAll([sampleVerdict('after')]);
    expect(await waitUntil(async () => handled.includes('after') && (await acknowledged()), 5000, 20)).toBe(true);
    expect(handled).toEqual(['before', 'after']);
    expect(errors).toEqual([{ code: 'redis_unavailable', message: expect.stringMatching(/did not answer within \d+ ms/), entryId: '' }]);
    expect(proxy.accepted()).toBe(accepted + 1);
  });

  it('start() that missed its deadline on a silent connection leaves a connection that works for the next start()', async () => {
    proxy = await redisProxy();
    const { consumer } = consume(`${prefix}:start`, proxy.url);
    // Connected and ready before it goes silent.
    expect(await waitUntil(async () => proxy!.accepted() === 1, 2000, 10)).toBe(true);
    await sleep(100);
    proxy.silence();
    expect(await outcome(consumer.start(), 3000)).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining('did not answer within 500 ms') });
    expect((await outcome(consumer.start(), 3000)).code).toBe('resolved');
    expect(proxy.accepted()).toBe(2);
  });

  it('closed while its connection is silent: close() is bounded and nothing reconnects afterwards', async () => {
    proxy = await redisProxy();
    const { consumer } = consume(`${prefix}:close`, proxy.url);
    await consumer.start();
    await sleep(100);
    proxy.silence();
    const accepted = proxy.accepted();
    const closed = await outcome(consumer.close(), 3000);
    expect(closed.code).toBe('resolved');
    expect(closed.ms).toBeLessThan(1500);
    // Past the deadline of the read that was waiting when it went silent.
    await sleep(1000);
    expect(proxy.accepted()).toBe(accepted);
  });
});
