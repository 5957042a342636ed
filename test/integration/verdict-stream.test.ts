import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumedVerdict } from '../../src/jobs/verdict-schema.js';
import { createVerdictConsumer, deadLetterStreamKey, type VerdictDelivery } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { sampleVerdict } from '../harness/verdicts.js';
import { deletePrefix, testRedis, uniquePrefix } from '../harness/redis.js';

describe('the results stream', () => {
  const redis = testRedis();
  const prefixes: string[] = [];
  const fresh = (label: string) => {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return { prefix, store: new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 10_000 }) };
  };

  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('stores a verdict once per jobId, however often it is written', async () => {
    const { prefix, store } = fresh('store-once');
    expect(await store.storeAll([sampleVerdict('a'), sampleVerdict('b'), sampleVerdict('a')])).toEqual(['stored', 'stored', 'duplicate']);
    expect(await store.storeAll([sampleVerdict('b')])).toEqual(['duplicate']);
    expect(await redis.xlen(`${prefix}:verdicts`)).toBe(2);
    expect((await store.get('a'))?.contentId).toBe('content-a');
    expect(await store.get('missing')).toBeUndefined();
  });

  it('every consumer group sees every verdict; consumers of one group share them', async () => {
    const { prefix, store } = fresh('groups');
    await store.storeAll(Array.from({ length: 50 }, (_, i) => sampleVerdict(`job-${i}`)));
    const seen: Record<string, string[]> = { audit: [], enforce1: [], enforce2: [] };
    const consumers = [
      createVerdictConsumer({ connection: redis, prefix, group: 'audit', consumer: 'audit', blockMs: 100, handler: async (v) => void seen.audit!.push(v.jobId) }),
      createVerdictConsumer({ connection: redis, prefix, group: 'enforce', consumer: 'e1', batchSize: 5, blockMs: 100, handler: async (v) => void seen.enforce1!.push(v.jobId) }),
      createVerdictConsumer({ connection: redis, prefix, group: 'enforce', consumer: 'e2', batchSize: 5, blockMs: 100, handler: async (v) => void seen.enforce2!.push(v.jobId) }),
    ];
    for (const consumer of consumers) await consumer.start();
    await store.storeAll(Array.from({ length: 50 }, (_, i) => sampleVerdict(`job-${50 + i}`)));
    expect(await waitUntil(async () => seen.audit!.length === 100 && seen.enforce1!.length + seen.enforce2!.length === 100, 10_000, 50)).toBe(true);
    for (const consumer of consumers) await consumer.close();
    expect(new Set(seen.audit)).toHaveProperty('size', 100);
    expect(new Set([...seen.enforce1!, ...seen.enforce2!])).toHaveProperty('size', 100);
    expect(seen.enforce1!.length).toBeGreaterThan(0);
    expect(seen.enforce2!.length).toBeGreaterThan(0);
    expect(await redis.xpending(`${prefix}:verdicts`, 'enforce')).toEqual([0, null, null, null]);
  });

  it('a verdict whose handler failed is delivered again, to another consumer, after claimIdleMs', async () => {
    const { prefix, store } = fresh('reclaim');
    const failing = createVerdictConsumer({
      connection: redis, prefix, group: 'g', consumer: 'dies', blockMs: 50, claimIdleMs: 60_000,
      handler: async () => {
        throw new Error('consumer crashed mid-verdict');
      },
    });
    await failing.start();
    await store.storeAll([sampleVerdict('poison-free')]);
    expect(await waitUntil(async () => ((await redis.xpending(`${prefix}:verdicts`, 'g')) as [number])[0] === 1, 5000, 20)).toBe(true);
    await failing.close();

    const deliveries: VerdictDelivery[] = [];
    const rescuer = createVerdictConsumer({
      connection: redis, prefix, group: 'g', consumer: 'rescuer', blockMs: 50, claimIdleMs: 200,
      handler: async (_v, delivery) => void deliveries.push(delivery),
    });
    await new Promise((resolve) => setTimeout(resolve, 250));
    await rescuer.start();
    expect(await waitUntil(async () => deliveries.length === 1, 5000, 20)).toBe(true);
    await rescuer.close();
    expect(deliveries[0]!.redelivered).toBe(true);
    expect(await redis.xpending(`${prefix}:verdicts`, 'g')).toEqual([0, null, null, null]);
  });

  it("hands a newer worker's verdict with an error code this version does not know to the handler", async () => {
    const { prefix } = fresh('newer-worker');
    const newer = { ...sampleVerdict('bomb'), decision: 'block', errors: [{ code: 'image_decompression_bomb', message: 'expands past the decoder limit', item: 0 }] };
    await redis.xadd(`${prefix}:verdicts`, '*', 'jobId', 'bomb', 'verdict', JSON.stringify(newer));
    const handled: ConsumedVerdict[] = [];
    const errors: unknown[] = [];
    const consumer = createVerdictConsumer({
      connection: redis, prefix, group: 'enforce', blockMs: 50,
      handler: async (v) => void handled.push(v),
      onError: (error) => errors.push(error),
    });
    await consumer.start();
    expect(await waitUntil(async () => handled.length === 1, 5000, 20)).toBe(true);
    await consumer.close();
    expect(handled[0]).toMatchObject({ jobId: 'bomb', decision: 'block', errors: [{ code: 'image_decompression_bomb' }] });
    expect(errors).toEqual([]);
    expect(await redis.xpending(`${prefix}:verdicts`, 'enforce')).toEqual([0, null, null, null]);
  });

  it("copies an entry that is not a verdict to the group's dead-letter stream, then acknowledges it", async () => {
    const { prefix, store } = fresh('garbage');
    const notJson = await redis.xadd(`${prefix}:verdicts`, '*', 'jobId', 'x', 'verdict', '{not json');
    const { decision: _, ...withoutDecision } = sampleVerdict('y');
    const noDecision = await redis.xadd(`${prefix}:verdicts`, '*', 'jobId', 'y', 'verdict', JSON.stringify(withoutDecision));
    await store.storeAll([sampleVerdict('good')]);
    const handled: string[] = [];
    const errors: string[] = [];
    const consumer = createVerdictConsumer({
      connection: redis, prefix, group: 'g', consumer: 'c1', blockMs: 50,
      handler: async (v) => void handled.push(v.jobId),
      onError: (_e, entryId) => errors.push(entryId),
    });
    await consumer.start();
    expect(await waitUntil(async () => handled.length === 1, 5000, 20)).toBe(true);
    await consumer.close();
    expect(handled).toEqual(['good']);
    expect(errors).toEqual([notJson, noDecision]);
    expect(await redis.xpending(`${prefix}:verdicts`, 'g')).toEqual([0, null, null, null]);

    const deadLetterStream = deadLetterStreamKey(prefix, 'g');
    expect(deadLetterStream).toBe(`${prefix}:verdicts:dead-letter:g`);
    const deadLetters = (await redis.xrange(deadLetterStream, '-', '+')).map(([, fields]) => Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]])));
    expect(deadLetters).toEqual([
      { entryId: notJson, consumer: 'c1', error: expect.stringContaining('JSON'), 'raw:jobId': 'x', 'raw:verdict': '{not json' },
      { entryId: noDecision, consumer: 'c1', error: expect.stringContaining('decision'), 'raw:jobId': 'y', 'raw:verdict': JSON.stringify(withoutDecision) },
    ]);
  });
});
