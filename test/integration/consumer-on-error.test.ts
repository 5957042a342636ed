import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVerdictConsumer, deadLetterStreamKey, type VerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { outcome } from '../harness/outcome.js';
import { redisProxy } from '../harness/redis-proxy.js';
import { suiteRedis, TEST_REDIS_URL } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An onError that fails (a logger that throws) must not end the process, nor stop the consumer. */
describe('the verdict consumer with an onError that throws', () => {
  const { prefix, redis } = suiteRedis('consumer-on-error');
  let consumer: VerdictConsumer | undefined;
  let warnings: Array<Error & { code?: string }>;
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeEach(() => {
    warnings = [];
    process.on('warning', onWarning);
  });

  afterEach(async () => {
    if (consumer) expect((await outcome(consumer.close(), 3000)).code).toBe('resolved');
    consumer = undefined;
    process.off('warning', onWarning);
  });

  const ourWarnings = () => warnings.filter((warning) => warning.code === 'ABUSE_SCAN_ON_ERROR_THREW');

  it.each([
    ['throws', () => { throw new Error('logger failed'); }],
    ['rejects', async () => { throw new Error('logger failed'); }],
  ] as const)('onError %s: the entry that is not a verdict is dead-lettered, a failed handler retried, the rest handled, one warning', async (name, onError) => {
    const streamPrefix = `${prefix}:${name}`;
    const stream = `${streamPrefix}:verdicts`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
    await store.storeAll([sampleVerdict('a'), sampleVerdict('b')]);
    const malformed = await redis.xadd(stream, '*', 'jobId', 'c', 'verdict', '{oops');
    await store.storeAll([sampleVerdict('d')]);
    const handled: string[] = [];
    let failedOnce = false;
    const reported: string[] = [];
    consumer = createVerdictConsumer({
      connection: TEST_REDIS_URL, prefix: streamPrefix, group: 'g', consumer: 'c', blockMs: 200, claimIdleMs: 400,
      handler: async (verdict) => {
        if (verdict.jobId === 'b' && !failedOnce) {
          failedOnce = true;
          throw new Error('enforcement down');
        }
        handled.push(verdict.jobId);
      },
      onError: (error, entryId) => {
        reported.push(`${entryId}: ${(error as Error).message.slice(0, 20)}`);
        return onError();
      },
    });
    await consumer.start();
    const acknowledged = async () => ((await redis.xpending(stream, 'g')) as [number])[0] === 0;
    expect(await waitUntil(async () => handled.length === 3 && (await acknowledged()), 5000, 20)).toBe(true);
    expect(handled).toEqual(['a', 'd', 'b']);
    const deadLetters = await redis.xrange(deadLetterStreamKey(streamPrefix, 'g'), '-', '+');
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]![1].slice(0, 2)).toEqual(['entryId', malformed]);
    // Told of each once: the handler's failure and the entry that is not a verdict.
    expect(reported).toHaveLength(2);
    await sleep(0);
    expect(ourWarnings()).toHaveLength(1);
    expect(ourWarnings()[0]!.message).toContain('logger failed');
  });

  it('onError throws on the outage of a started consumer: one warning, and close() still works', async () => {
    const proxy = await redisProxy();
    try {
      const errors: unknown[] = [];
      consumer = createVerdictConsumer({
        connection: proxy.url, prefix: `${prefix}:outage`, group: 'g', blockMs: 200, commandTimeoutMs: 2000,
        handler: async () => undefined,
        onError: (error) => {
          errors.push(error);
          throw new Error('logger failed');
        },
      });
      await consumer.start();
      proxy.down();
      await waitUntil(async () => errors.length > 0, 5000);
      expect(errors[0]).toMatchObject({ code: 'redis_unavailable' });
      expect(ourWarnings()).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
