import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { createVerdictConsumer, type VerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { closedPort, silentServer, suiteRedis } from '../harness/redis.js';
import { redisProxy, type RedisProxy } from '../harness/redis-proxy.js';
import { sampleVerdict } from '../harness/verdicts.js';
import { outcome } from '../harness/outcome.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the verdict consumer when Redis is unavailable', () => {
  const { prefix, redis } = suiteRedis('consumer-outage');
  let consumer: VerdictConsumer | undefined;
  let proxy: RedisProxy | undefined;
  let consoleErrors: MockInstance;

  beforeEach(() => {
    consoleErrors = vi.spyOn(console, 'error');
  });

  afterEach(async () => {
    // Whatever happened, closing is bounded (blockMs + 1 s).
    if (consumer) expect((await outcome(consumer.close(), 3000)).code).toBe('resolved');
    consumer = undefined;
    await proxy?.close();
    proxy = undefined;
    // Failed reconnects go to onError, not "[ioredis] Unhandled error event" on stderr.
    expect(consoleErrors).not.toHaveBeenCalled();
    consoleErrors.mockRestore();
  });

  it('nothing listening: start() fails fast with redis_unavailable (onError is not told as well: start() reports it), close() returns at once', async () => {
    const port = await closedPort();
    const errors: Array<{ error: { code?: string; message: string }; entryId: string }> = [];
    consumer = createVerdictConsumer({
      connection: `redis://127.0.0.1:${port}`, prefix: `${prefix}:refused`, group: 'g', blockMs: 200, commandTimeoutMs: 4000,
      handler: async () => undefined,
      onError: (error, entryId) => errors.push({ error: error as { code?: string; message: string }, entryId }),
    });
    // Once a reconnect has failed, not at commandTimeoutMs.
    const started = await outcome(consumer.start(), 6000);
    expect(started).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining(`127.0.0.1:${port} could not be reached`) });
    expect(started.message).toContain('ECONNREFUSED');
    expect(started.ms).toBeLessThan(1000);
    await sleep(500);
    expect(errors).toEqual([]); // ioredis kept reconnecting meanwhile: none of it reached onError either
    const closed = await outcome(consumer.close(), 3000);
    expect(closed.code).toBe('resolved');
    expect(closed.ms).toBeLessThan(500);
    consumer = undefined;
  });

  it("a client passed in is duplicated with finite retries; the caller's client keeps its settings", async () => {
    const port = await closedPort();
    const connection = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    try {
      consumer = createVerdictConsumer({
        connection, prefix: `${prefix}:client`, group: 'g', blockMs: 200, commandTimeoutMs: 4000,
        handler: async () => undefined,
        onError: () => undefined,
      });
      const started = await outcome(consumer.start(), 6000);
      expect(started).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining('could not be reached') });
      expect(started.ms).toBeLessThan(1000);
      expect(connection.options.maxRetriesPerRequest).toBeNull();
    } finally {
      connection.disconnect();
    }
  });

  it('a Redis that never answers: start() rejects after commandTimeoutMs, close() within blockMs + 1 s', async () => {
    const server = await silentServer();
    try {
      consumer = createVerdictConsumer({
        connection: `redis://127.0.0.1:${server.port}`, prefix: `${prefix}:silent`, group: 'g', blockMs: 200, commandTimeoutMs: 500,
        handler: async () => undefined,
        onError: () => undefined,
      });
      const started = await outcome(consumer.start(), 4000);
      expect(started).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining('did not answer within 500 ms') });
      expect(started.ms).toBeGreaterThanOrEqual(450);
      expect(started.ms).toBeLessThan(2000);
      const closed = await outcome(consumer.close(), 3000);
      expect(closed.code).toBe('resolved');
      expect(closed.ms).toBeLessThan(1300);
      consumer = undefined;
    } finally {
      await server.close();
    }
  });

  it('survives an outage: reports it once, then handles the verdicts stored meanwhile', async () => {
    const streamPrefix = `${prefix}:resume`;
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 1000 });
    proxy = await redisProxy();
    const handled: string[] = [];
    const errors: Array<{ code?: string; entryId: string }> = [];
    consumer = createVerdictConsumer({
      connection: proxy.url, prefix: streamPrefix, group: 'g', consumer: 'c', blockMs: 200,
      handler: async (verdict) => void handled.push(verdict.jobId),
      onError: (error, entryId) => errors.push({ code: (error as { code?: string }).code, entryId }),
    });
    await consumer.start();
    await store.storeAll([sampleVerdict('before')]);
    // Acknowledged, not just handled: a cut while its XACK is in flight delivers it again (at-least-once).
    const acknowledged = async () => ((await redis.xpending(`${streamPrefix}:verdicts`, 'g')) as [number])[0] === 0;
    expect(await waitUntil(async () => handled.length === 1 && (await acknowledged()), 3000, 20)).toBe(true);

    proxy.down();
    expect(await waitUntil(async () => errors.length > 0, 3000, 20)).toBe(true);
    await store.storeAll([sampleVerdict('during')]);
    // Reconnects keep failing for a while: still one report for the whole outage.
    await sleep(1500);
    expect(errors).toEqual([{ code: 'redis_unavailable', entryId: '' }]);
    expect(handled).toEqual(['before']);

    await proxy.up();
    expect(await waitUntil(async () => handled.length >= 2, 5000, 20)).toBe(true);
    expect(handled).toEqual(['before', 'during']);
    expect((await outcome(consumer.close(), 2000)).code).toBe('resolved');
    consumer = undefined;
    expect(await redis.xpending(`${streamPrefix}:verdicts`, 'g')).toEqual([0, null, null, null]);
  });

  it('close() during an outage returns within blockMs + 1 s', async () => {
    proxy = await redisProxy();
    const errors: unknown[] = [];
    consumer = createVerdictConsumer({
      connection: proxy.url, prefix: `${prefix}:close-outage`, group: 'g', blockMs: 300,
      handler: async () => undefined,
      onError: (error) => errors.push(error),
    });
    await consumer.start();
    proxy.down();
    await sleep(300);
    const closed = await outcome(consumer.close(), 4000);
    expect(closed.code).toBe('resolved');
    expect(closed.ms).toBeLessThan(1500);
    consumer = undefined;
  });
});
