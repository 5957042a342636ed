import { describe, expect, it } from 'vitest';
import { createVerdictConsumer, type VerdictDelivery } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { suiteRedis } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

/** A stream of `count` verdicts, all read (and left unacknowledged) by consumer `reader` of group `g`: it died. */
async function readButNotAcknowledged(redis: ReturnType<typeof suiteRedis>['redis'], prefix: string, count: number, reader: string) {
  const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 10_000 });
  await store.storeAll(Array.from({ length: count }, (_, i) => sampleVerdict(`job-${i}`)));
  await redis.xgroup('CREATE', `${prefix}:verdicts`, 'g', '0');
  const read = (await redis.xreadgroup('GROUP', 'g', reader, 'COUNT', count, 'STREAMS', `${prefix}:verdicts`, '>')) as Array<[string, unknown[]]>;
  expect(read[0]![1]).toHaveLength(count);
  return store;
}

describe('the verdict consumer recovering unacknowledged verdicts', () => {
  const { prefix, redis } = suiteRedis('consumer-recovery');

  it('a restarted consumer goes through all of its own pending verdicts at once, page by page', async () => {
    const streamPrefix = `${prefix}:own`;
    await readButNotAcknowledged(redis, streamPrefix, 10, 'c');
    const deliveries: Array<{ jobId: string } & VerdictDelivery> = [];
    const consumer = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'c', batchSize: 3, blockMs: 200, claimIdleMs: 60_000,
      handler: async (verdict, delivery) => void deliveries.push({ jobId: verdict.jobId, ...delivery }),
    });
    await consumer.start();
    // Before: 3 at once, the other 7 only once claimIdleMs (here a minute) had passed.
    const all = await waitUntil(async () => deliveries.length === 10, 2000, 20);
    await consumer.close();
    expect(all).toBe(true);
    expect(deliveries.map((d) => d.jobId)).toEqual(Array.from({ length: 10 }, (_, i) => `job-${i}`));
    expect(deliveries.every((d) => d.redelivered)).toBe(true);
    expect(await redis.xpending(`${streamPrefix}:verdicts`, 'g')).toEqual([0, null, null, null]);
  });

  it("takes over a dead consumer's verdicts following the XAUTOCLAIM cursor, without starving new verdicts", async () => {
    const streamPrefix = `${prefix}:claim`;
    const store = await readButNotAcknowledged(redis, streamPrefix, 30, 'dead');
    await store.storeAll([sampleVerdict('live')]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const handled: string[] = [];
    const consumer = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'rescuer', batchSize: 3, blockMs: 2000, claimIdleMs: 200,
      handler: async (verdict) => void handled.push(verdict.jobId),
    });
    await consumer.start();
    // Before: one page of 3 per claim pass, each pass after a read that waited blockMs: 20 s for 30.
    const all = await waitUntil(async () => handled.length === 31, 1500, 20);
    await consumer.close();
    expect(all).toBe(true);
    expect(new Set(handled).size).toBe(31);
    // The new verdict is not kept waiting until the last page of the claim pass.
    expect(handled.indexOf('live')).toBeLessThan(10);
    expect(await redis.xpending(`${streamPrefix}:verdicts`, 'g')).toEqual([0, null, null, null]);
  });
});
