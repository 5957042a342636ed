/**
 * A Redis URL naming a database the Redis does not have: ioredis only emitted the refused SELECT
 * as an error and went on in database 0, so workers and producers used db 0 unawares.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { createRedis } from '../../src/runtime/redis.js';
import { exitWithin, spawnWorkerProcess } from '../harness/fleet.js';
import { outcome } from '../harness/outcome.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const job = { contentId: 'database', surface: 'send', items: ['https://a.example/'] };

/** TEST_REDIS_URL with the database `db`. */
function urlOfDatabase(db: number): string {
  const url = new URL(TEST_REDIS_URL);
  url.pathname = `/${db}`;
  return url.href;
}

/** Keys under `prefix` in the database `redis` is on. */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  return redis.keys(`${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`);
}

describe('a Redis URL whose database the Redis does not have', () => {
  const prefix = uniquePrefix('db-refused');
  const admin = testRedis();
  /** The first database index past the Redis' `databases` setting (16 by default). */
  let missing: number;

  beforeAll(async () => {
    const [, databases] = (await admin.config('GET', 'databases')) as [string, string];
    missing = Number(databases);
  });

  afterAll(async () => {
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  it('the producer client fails every call with redis_unavailable naming the database, at once, and writes nothing to database 0', async () => {
    const client = createScanClient({ connection: urlOfDatabase(missing), prefix, commandTimeoutMs: 5000 });
    try {
      const results = await Promise.all([outcome(client.enqueue(job), 4000), outcome(client.getVerdict('some-job'), 4000)]);
      for (const result of results) {
        expect(result).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining(`database ${missing} not available`) });
        // Not the command deadline: the refusal ends the wait.
        expect(result.ms).toBeLessThan(2000);
      }
      // Later calls too, though the connection has ended.
      expect(await outcome(client.enqueue(job), 4000)).toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining(`database ${missing} not available`) });
    } finally {
      await client.close();
    }
    expect(await keysUnder(admin, prefix)).toEqual([]);
  });

  it('a connection from ioredis options (db) and its duplicates fail alike; the connection ends rather than reconnecting', async () => {
    const url = new URL(TEST_REDIS_URL);
    const redis = createRedis({ host: url.hostname, port: Number(url.port || 6379), db: missing }) as Redis;
    const errors: string[] = [];
    redis.on('error', (error: Error) => errors.push(error.message));
    const duplicate = redis.duplicate();
    duplicate.on('error', () => undefined);
    try {
      for (const client of [redis, duplicate]) {
        await expect(client.set(`${prefix}:x`, '1')).rejects.toMatchObject({ code: 'redis_unavailable', message: expect.stringContaining(`database ${missing} not available`) });
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(redis.status).toBe('end');
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((message) => message.includes(`database ${missing} not available`))).toBe(true);
    } finally {
      redis.disconnect();
      duplicate.disconnect();
    }
    expect(await keysUnder(admin, prefix)).toEqual([]);
  });

  it('a database the Redis has is used, by the client and by BullMQ\'s connections', async () => {
    const db = missing - 1;
    const ownPrefix = uniquePrefix('db-kept');
    const other = new Redis(urlOfDatabase(db));
    const client = createScanClient({ connection: urlOfDatabase(db), prefix: ownPrefix });
    try {
      const { jobId } = await client.enqueue(job);
      expect(await other.exists(`${ownPrefix}:links:${jobId}`)).toBe(1);
      expect(await keysUnder(admin, ownPrefix)).toEqual([]);
    } finally {
      await client.close();
      await deletePrefix(other, ownPrefix);
      await deletePrefix(admin, ownPrefix);
      await other.quit();
    }
  });

  it('a worker stops at start with the database named, exit 1, and writes nothing to database 0', async () => {
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: urlOfDatabase(missing), ABUSE_SCAN_MODELS: 'off' });
    const exit = await exitWithin(worker, 20_000);
    expect(exit).toMatchObject({ code: 1 });
    expect(worker.output()).toContain(`database ${missing} not available`);
    expect(worker.output()).toContain('start-up failed');
    expect(await keysUnder(admin, prefix)).toEqual([]);
  }, 30_000);
});
