import { describe, expect, it } from 'vitest';
import { readBacklog } from '../../src/ops/backlog.js';
import { createVerdictConsumer, type VerdictConsumerOptions } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { suiteRedis } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Reported {
  code?: string;
  count?: number;
  after?: string;
  before?: string;
  entryId: string;
}

describe('the verdict consumer when the stream was trimmed past what its group read', () => {
  const { prefix, redis } = suiteRedis('consumer-trim');

  function setUp(streamPrefix: string) {
    const stream = `${streamPrefix}:verdicts`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 10_000 });
    const handled: string[] = [];
    const entryIds: string[] = [];
    const errors: Reported[] = [];
    const consumer = (options: Partial<VerdictConsumerOptions> = {}) =>
      createVerdictConsumer({
        connection: redis, prefix: streamPrefix, group: 'audit', consumer: 'c', batchSize: 10, blockMs: 100,
        handler: async (verdict, delivery) => {
          entryIds.push(delivery.entryId);
          handled.push(verdict.jobId);
        },
        onError: (error, entryId) => {
          const { code, count, after, before } = error as Omit<Reported, 'entryId'>;
          errors.push({ code, count, after, before, entryId });
        },
        ...options,
      });
    const verdicts = (from: number, count: number) => store.storeAll(Array.from({ length: count }, (_, i) => sampleVerdict(`job-${from + i}`)));
    const lag = async () => (await readBacklog([], redis, stream)).consumerGroups.find((group) => group.group === 'audit')?.lag;
    return { stream, handled, entryIds, errors, consumer, verdicts, lag };
  }

  it('reports the verdicts trimmed before the group read them as verdicts_lost, and its lag is right again', async () => {
    const { stream, handled, entryIds, errors, consumer, verdicts, lag } = setUp(`${prefix}:slow`);
    await verdicts(0, 30);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const reader = consumer({
      handler: async (verdict, delivery) => {
        entryIds.push(delivery.entryId);
        handled.push(verdict.jobId);
        if (handled.length === 1) await slow;
      },
    });
    await reader.start();
    await waitUntil(async () => handled.length === 1, 2000, 10);
    // While the group sits on its first batch (job-0..9), workers store 20 more and the stream is trimmed to 5.
    await verdicts(30, 20);
    await redis.xtrim(stream, 'MAXLEN', 5);
    release();
    const caughtUp = await waitUntil(async () => handled.length === 15, 3000, 20);
    await sleep(300);
    expect(caughtUp).toBe(true);
    expect(handled.slice(10)).toEqual(['job-45', 'job-46', 'job-47', 'job-48', 'job-49']);
    // Before: nothing reported, and XINFO's lag stayed at 35 (redis/redis#13957), the backlog gauge with it.
    expect(errors).toEqual([{ code: 'verdicts_lost', count: 35, after: entryIds[9], before: entryIds[10], entryId: '' }]);
    expect(await lag()).toBe(0);
    expect(xinfoLag(await redis.xinfo('GROUPS', stream))).toBe(0);

    await verdicts(50, 3);
    await waitUntil(async () => handled.length === 18, 2000, 20);
    await reader.close();
    expect(handled).toHaveLength(18);
    expect(errors).toHaveLength(1);
    expect(await lag()).toBe(0);
  });

  it('counts verdicts trimmed while a group no consumer ran had read none', async () => {
    const { stream, handled, errors, consumer, verdicts } = setUp(`${prefix}:never-read`);
    // The group is made on an empty stream, then its consumer is down while 30 verdicts come and 25 go.
    const first = consumer();
    await first.start();
    await first.close();
    await verdicts(0, 30);
    await redis.xtrim(stream, 'MAXLEN', 5);
    const second = consumer();
    await second.start();
    await waitUntil(async () => handled.length === 5, 2000, 20);
    await sleep(200);
    await second.close();
    expect(handled).toEqual(['job-25', 'job-26', 'job-27', 'job-28', 'job-29']);
    expect(errors).toEqual([expect.objectContaining({ code: 'verdicts_lost', count: 25, after: '0-0', entryId: '' })]);
  });

  it('reports no loss for a new group that starts from the oldest verdict kept', async () => {
    const { stream, handled, errors, consumer, verdicts, lag } = setUp(`${prefix}:new-group`);
    await verdicts(0, 30);
    await redis.xtrim(stream, 'MAXLEN', 5);
    const reader = consumer();
    await reader.start();
    await waitUntil(async () => handled.length === 5, 2000, 20);
    await sleep(200);
    await reader.close();
    expect(handled).toHaveLength(5);
    expect(errors).toEqual([]);
    expect(await lag()).toBe(0);
  });

  it('reports the pending entries of a dead consumer trimmed before anyone handled them, and drops them', async () => {
    const { stream, handled, errors, consumer, verdicts } = setUp(`${prefix}:pending`);
    await verdicts(0, 4);
    await redis.xgroup('CREATE', stream, 'audit', '0');
    await redis.xreadgroup('GROUP', 'audit', 'dead', 'COUNT', 2, 'STREAMS', stream, '>');
    await redis.xreadgroup('GROUP', 'audit', 'c', 'COUNT', 2, 'STREAMS', stream, '>');
    const ids = (await redis.xrange(stream, '-', '+')).map(([id]) => id);
    await redis.xtrim(stream, 'MAXLEN', 0);
    await sleep(150);
    // 'c' restarts (its own two come back without their fields) and takes over dead's two.
    const reader = consumer({ claimIdleMs: 100 });
    await reader.start();
    await waitUntil(async () => errors.length === 4, 2000, 20);
    await reader.close();
    expect(handled).toEqual([]);
    expect(errors.map((error) => [error.code, error.count, error.entryId]).sort()).toEqual(ids.map((id) => ['verdicts_lost', 1, id]).sort());
    expect(await redis.xpending(stream, 'audit')).toEqual([0, null, null, null]);
  });
});

function xinfoLag(reply: unknown): unknown {
  const fields = (reply as unknown[][])[0]!;
  return fields[fields.indexOf('lag') + 1];
}
