import { describe, expect, it } from 'vitest';
import { createVerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { suiteRedis } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('closing the verdict consumer', () => {
  const { prefix, redis } = suiteRedis('consumer-close');

  it('waits for the verdict being handled, not the rest of its batch; those stay pending and come back on restart', async () => {
    const streamPrefix = `${prefix}:batch`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
    await store.storeAll(Array.from({ length: 5 }, (_, i) => sampleVerdict(`job-${i}`)));
    const handled: string[] = [];
    let closing: Promise<void> | undefined;
    const consumer = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'c', batchSize: 5, blockMs: 100, claimIdleMs: 60_000,
      handler: async (verdict) => {
        handled.push(verdict.jobId);
        closing ??= consumer.close();
        await sleep(300);
      },
    });
    await consumer.start();
    expect(await waitUntil(async () => closing !== undefined, 3000, 10)).toBe(true);
    const started = Date.now();
    await closing;
    // Before: all 5 of the batch, 1.5 s.
    expect(handled).toEqual(['job-0']);
    expect(Date.now() - started).toBeLessThan(1000);
    const pending = (await redis.xpending(`${streamPrefix}:verdicts`, 'g', '-', '+', 10)) as Array<[string, string]>;
    expect(pending.map(([, owner]) => owner)).toEqual(['c', 'c', 'c', 'c']);

    const again: string[] = [];
    const restarted = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'c', batchSize: 5, blockMs: 100, claimIdleMs: 60_000,
      handler: async (verdict) => void again.push(verdict.jobId),
    });
    await restarted.start();
    const all = await waitUntil(async () => again.length === 4, 2000, 20);
    await restarted.close();
    expect(all).toBe(true);
    expect(again).toEqual(['job-1', 'job-2', 'job-3', 'job-4']);
    expect(await redis.xpending(`${streamPrefix}:verdicts`, 'g')).toEqual([0, null, null, null]);
  });

  it('does not wait past blockMs + 1 s for a handler that does not finish; its verdict stays pending', async () => {
    const streamPrefix = `${prefix}:stuck`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
    await store.storeAll([sampleVerdict('stuck')]);
    let called = false;
    const consumer = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'c', blockMs: 200,
      handler: () => {
        called = true;
        return new Promise<void>(() => undefined);
      },
    });
    await consumer.start();
    expect(await waitUntil(async () => called, 3000, 10)).toBe(true);
    const started = Date.now();
    const closed = await Promise.race([consumer.close().then(() => 'closed'), sleep(4000).then(() => 'pending')]);
    expect(closed).toBe('closed');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(((await redis.xpending(`${streamPrefix}:verdicts`, 'g')) as [number])[0]).toBe(1);
  });
});
