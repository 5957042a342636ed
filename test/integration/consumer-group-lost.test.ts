import { afterEach, describe, expect, it } from 'vitest';
import { createVerdictConsumer, VerdictGroupLostError, type VerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { outcome } from '../harness/outcome.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';
import { suiteRedis, TEST_REDIS_URL } from '../harness/redis.js';
import { redisProxy, type RedisProxy } from '../harness/redis-proxy.js';
import { sampleVerdict } from '../harness/verdicts.js';

describe('the verdict consumer when its group is gone', () => {
  const { prefix, redis } = suiteRedis('consumer-group-lost');
  let consumer: VerdictConsumer | undefined;
  let proxy: RedisProxy | undefined;
  let restarted: PrivateRedis | undefined;

  afterEach(async () => {
    if (consumer) expect((await outcome(consumer.close(), 3000)).code).toBe('resolved');
    consumer = undefined;
    await proxy?.close();
    proxy = undefined;
    await restarted?.stop();
    restarted = undefined;
  });

  function consume(streamPrefix: string, url: string, startFrom: 'beginning' | 'now') {
    const handled: string[] = [];
    const errors: Array<{ error: unknown; entryId: string }> = [];
    consumer = createVerdictConsumer({
      connection: url, prefix: streamPrefix, group: 'g', consumer: 'c', startFrom, blockMs: 200,
      handler: async (verdict) => void handled.push(verdict.jobId),
      onError: (error, entryId) => errors.push({ error, entryId }),
    });
    return { consumer, handled, errors };
  }

  it.each(['now', 'beginning'] as const)(
    'startFrom %s, stream deleted: the group is created again from its first entry, the verdicts stored since are handled, and the loss is reported once',
    async (startFrom) => {
      const streamPrefix = `${prefix}:deleted-${startFrom}`;
      const stream = `${streamPrefix}:verdicts`;
      const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
      const { consumer, handled, errors } = consume(streamPrefix, TEST_REDIS_URL, startFrom);
      await consumer.start();
      await store.storeAll([sampleVerdict('before')]);
      expect(await waitUntil(async () => handled.length === 1, 3000, 20)).toBe(true);

      await redis.del(stream);
      // Stored before the consumer finds its group gone (it waits a second before creating it again).
      await store.storeAll([sampleVerdict('after-1'), sampleVerdict('after-2')]);
      const acknowledged = async () => ((await redis.xpending(stream, 'g')) as [number])[0] === 0;
      expect(await waitUntil(async () => handled.length === 3 && (await acknowledged()), 5000, 20)).toBe(true);
      expect(handled).toEqual(['before', 'after-1', 'after-2']);
      expect(errors).toEqual([{ error: expect.any(VerdictGroupLostError), entryId: '' }]);
      expect(errors[0]!.error).toMatchObject({ code: 'group_lost', group: 'g', stream, message: expect.stringContaining('created again') });
      // Nothing counted as unread, nor as lost to trimming.
      const [group] = (await redis.xinfo('GROUPS', stream)) as unknown[][];
      expect(group![group!.indexOf('lag') + 1]).toBe(0);
    },
  );

  it('startFrom now, Redis restarted without its data: verdicts stored before the consumer is back are handled', async () => {
    const streamPrefix = `${prefix}:restart`;
    proxy = await redisProxy();
    const { consumer, handled, errors } = consume(streamPrefix, proxy.url, 'now');
    await consumer.start();
    await new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 }).storeAll([sampleVerdict('before')]);
    expect(await waitUntil(async () => handled.length === 1, 3000, 20)).toBe(true);

    // The same address now leads to an empty Redis, where the workers store on.
    restarted = await startPrivateRedis();
    proxy.down();
    proxy.pointAt(restarted.port);
    const admin = restarted.admin();
    try {
      await new VerdictStore(admin, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 }).storeAll([sampleVerdict('after-restart')]);
      await proxy.up();
      expect(await waitUntil(async () => handled.length === 2, 6000, 20)).toBe(true);
      expect(handled).toEqual(['before', 'after-restart']);
      // And the outage, if a reconnect came while the proxy was down.
      expect(errors.map(({ error }) => (error as { code?: string }).code).filter((code) => code !== 'redis_unavailable')).toEqual(['group_lost']);
    } finally {
      admin.disconnect();
    }
  });
});
