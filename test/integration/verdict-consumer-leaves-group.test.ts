import { describe, expect, it } from 'vitest';
import { createVerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { suiteRedis } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Each process start adds a consumer to the group (the default name is `<hostname>-<pid>`): a
 * consumer leaves the group when it closes with nothing pending, and claim passes prune the empty
 * consumers left idle by processes that died. A consumer with pending entries always stays: deleting
 * it would drop them from the group.
 */
describe('verdict consumers leaving their group', () => {
  const { prefix, redis } = suiteRedis('consumer-leaves');

  /** The group's consumers: name -> pending count. */
  async function consumersOf(stream: string, group: string): Promise<Record<string, number>> {
    const replies = (await redis.xinfo('CONSUMERS', stream, group)) as Array<Array<string | number>>;
    return Object.fromEntries(replies.map((fields) => [fields[fields.indexOf('name') + 1], fields[fields.indexOf('pending') + 1]]));
  }

  it('a consumer closed cleanly leaves no entry in the group, under the default name too', async () => {
    const streamPrefix = `${prefix}:clean`;
    const stream = `${streamPrefix}:verdicts`;
    await new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 }).storeAll([sampleVerdict('a'), sampleVerdict('b')]);
    for (let start = 0; start < 3; start++) {
      const handled: string[] = [];
      const consumer = createVerdictConsumer({ connection: redis, prefix: streamPrefix, group: 'g', blockMs: 100, handler: async (verdict) => void handled.push(verdict.jobId) });
      await consumer.start();
      if (start === 0) expect(await waitUntil(async () => handled.length === 2, 3000, 20)).toBe(true);
      else await sleep(200);
      expect(Object.keys(await consumersOf(stream, 'g'))).toHaveLength(1);
      await consumer.close();
      expect(await consumersOf(stream, 'g')).toEqual({});
    }
    expect(await redis.xpending(stream, 'g')).toEqual([0, null, null, null]);
  });

  it('a consumer closed with entries pending (its handler threw, or closed mid-batch) keeps its entry and them', async () => {
    const streamPrefix = `${prefix}:pending`;
    const stream = `${streamPrefix}:verdicts`;
    await new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 }).storeAll(['ok', 'fails', 'ok-2'].map((jobId) => sampleVerdict(jobId)));
    const handled: string[] = [];
    const throwing = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'thrower', blockMs: 100, claimIdleMs: 60_000, onError: () => undefined,
      handler: async (verdict) => {
        handled.push(verdict.jobId);
        if (verdict.jobId === 'fails') throw new Error('handler failed');
      },
    });
    await throwing.start();
    expect(await waitUntil(async () => handled.length === 3, 3000, 20)).toBe(true);
    await throwing.close();
    expect(await consumersOf(stream, 'g')).toEqual({ thrower: 1 });

    await new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 }).storeAll(Array.from({ length: 4 }, (_, i) => sampleVerdict(`batch-${i}`)));
    let closing: Promise<void> | undefined;
    const midBatch = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'mid-batch', batchSize: 4, blockMs: 100, claimIdleMs: 60_000,
      handler: async () => {
        closing ??= midBatch.close();
        await sleep(100);
      },
    });
    await midBatch.start();
    expect(await waitUntil(async () => closing !== undefined, 3000, 10)).toBe(true);
    await closing;
    expect(await consumersOf(stream, 'g')).toEqual({ thrower: 1, 'mid-batch': 3 });
  });

  it('a claim pass prunes other consumers that are empty and long idle, not one with entries pending nor one recently active', async () => {
    const streamPrefix = `${prefix}:prune`;
    const stream = `${streamPrefix}:verdicts`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    /** Reads one new entry as `consumer` (pending for it); returns its id. */
    const readOne = async (consumer: string): Promise<string> => {
      const reply = (await redis.xreadgroup('GROUP', 'g', consumer, 'COUNT', 1, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
      return reply[0]![1][0]![0];
    };
    // Processes that died: one had handled all it read, one had not.
    await store.storeAll([sampleVerdict('handled'), sampleVerdict('unhandled')]);
    await redis.xack(stream, 'g', await readOne('gone-empty'));
    await readOne('gone-pending');
    await sleep(1700);
    // A consumer active a moment ago, empty.
    await store.storeAll([sampleVerdict('recent')]);
    await redis.xack(stream, 'g', await readOne('recent-empty'));
    expect(await consumersOf(stream, 'g')).toEqual({ 'gone-empty': 0, 'gone-pending': 1, 'recent-empty': 0 });

    const consumer = createVerdictConsumer({
      connection: redis, prefix: streamPrefix, group: 'g', consumer: 'live', blockMs: 100, claimIdleMs: 60_000, idleConsumerMs: 1500,
      handler: async () => undefined,
    });
    await consumer.start();
    try {
      expect(await waitUntil(async () => !('gone-empty' in (await consumersOf(stream, 'g'))), 3000, 20)).toBe(true);
      expect(await consumersOf(stream, 'g')).toEqual({ 'gone-pending': 1, 'recent-empty': 0, live: 0 });
      const pending = (await redis.xpending(stream, 'g', '-', '+', 10)) as Array<[string, string]>;
      expect(pending.map(([, owner]) => owner)).toEqual(['gone-pending']);
    } finally {
      await consumer.close();
    }
  });
});
