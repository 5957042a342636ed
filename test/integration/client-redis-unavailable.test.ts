import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { outcome } from '../harness/outcome.js';
import { startPrivateRedis } from '../harness/private-redis.js';
import { closedPort, silentServer, uniquePrefix } from '../harness/redis.js';

const job = { contentId: 'unavailable', surface: 'send', items: ['https://a.example/'] };

describe('the producer client when Redis is unavailable', () => {
  const prefix = uniquePrefix('redis-unavailable');
  let client: ScanClient | undefined;
  let consoleErrors: MockInstance;

  beforeEach(() => {
    consoleErrors = vi.spyOn(console, 'error');
  });

  afterEach(async () => {
    // Closing does not wait for a Redis that is not there.
    if (client) expect((await outcome(client.close(), 1000)).code).toBe('resolved');
    client = undefined;
    // Failed reconnects are the client's to handle, not "[ioredis] Unhandled error event" on stderr.
    expect(consoleErrors).not.toHaveBeenCalled();
    consoleErrors.mockRestore();
  });

  afterAll(() => vi.restoreAllMocks());

  it('nothing listening: every operation throws redis_unavailable naming the Redis and the connection error', async () => {
    const port = await closedPort();
    client = createScanClient({ connection: `redis://127.0.0.1:${port}`, prefix, commandTimeoutMs: 1000 });
    const results = await Promise.all([
      outcome(client.enqueue(job), 4000),
      outcome(client.enqueueBulk([{ job }]), 4000),
      outcome(client.getVerdict('some-job'), 4000),
      outcome(client.waitForVerdict('some-job', { timeoutMs: 1000 }), 4000),
    ]);
    for (const result of results) {
      expect(result).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining(`127.0.0.1:${port}`) });
      expect(result.message).toContain('ECONNREFUSED');
    }
  });

  it('a Redis that never answers: operations end at commandTimeoutMs, waitForVerdict soon after its timeout', async () => {
    const server = await silentServer();
    try {
      client = createScanClient({ connection: `redis://127.0.0.1:${server.port}`, prefix, commandTimeoutMs: 500 });
      const enqueued = await outcome(client.enqueue(job), 4000);
      expect(enqueued).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining('did not answer within 500 ms') });
      expect(enqueued.ms).toBeGreaterThanOrEqual(450);
      expect(enqueued.ms).toBeLessThan(2000);
      // Its deadline counts from the call: subscribing is cut off at 700 ms, then one last read of at most 500 ms.
      const waited = await outcome(client.waitForVerdict('some-job', { timeoutMs: 700 }), 4000);
      expect(waited.code).toBe('redis_unavailable');
      expect(waited.ms).toBeLessThan(2500);
    } finally {
      await server.close();
    }
  });

  it('a connection passed in keeps its settings; the operation deadline still applies', async () => {
    const port = await closedPort();
    const connection = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    try {
      client = createScanClient({ connection, prefix, commandTimeoutMs: 500 });
      const enqueued = await outcome(client.enqueue(job), 4000);
      expect(enqueued.code).toBe('redis_unavailable');
      expect(enqueued.ms).toBeLessThan(2000);
      expect(connection.options.maxRetriesPerRequest).toBeNull();
    } finally {
      await client?.close();
      client = undefined;
      // Still the caller's to close.
      expect(connection.status).not.toBe('end');
      connection.disconnect();
    }
  });

  it('a Redis that answers but refuses writes (out of memory): redis_unavailable naming the refusal, not a raw ReplyError', async () => {
    const own = await startPrivateRedis();
    const admin = own.admin();
    try {
      await admin.config('SET', 'maxmemory', '1');
      client = createScanClient({ connection: own.url, prefix });
      const error = await client.enqueueBulk([{ job }]).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ScanError', code: 'redis_unavailable', message: expect.stringMatching(/refused the command: OOM/) });
      expect((await client.enqueue(job).catch((e: unknown) => e)) as object).toMatchObject({ code: 'redis_unavailable' });
    } finally {
      await client?.close();
      client = undefined;
      await admin.quit();
      await own.stop();
    }
  });
});
