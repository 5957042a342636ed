import { Queue, Worker, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { CompletedJobSweeper } from '../../src/worker/failed-job-sweeper.js';
import { startInProcessWorker, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

/**
 * BullMQ removes completed jobs past their removeOnComplete age only when another job completes on
 * the same queue: on a queue gone quiet they, and their payloads, stayed. The workers' sweep removes
 * them past their own age.
 */
describe('completed jobs on a queue gone quiet', () => {
  const prefixes: string[] = [];
  const redis = testRedis();

  afterAll(async () => {
    for (const prefix of prefixes) await removeTestKeys(prefix);
    await redis.quit();
  });

  function newPrefix(label: string): string {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return prefix;
  }

  /** Adds jobs to `links` with the options given and completes them with a worker that does nothing. */
  async function completeJobs(connection: Redis, prefix: string, jobs: Array<{ id: string; opts: JobsOptions }>): Promise<Queue> {
    const links = new Queue('links', { connection, prefix });
    await links.addBulk(jobs.map(({ id, opts }) => ({ name: 'scan', data: { id }, opts: { ...opts, jobId: id } })));
    const worker = new Worker('links', async () => 'done', { connection, prefix, concurrency: 50 });
    expect(await waitUntil(async () => (await links.getCompletedCount()) === jobs.length, 20_000)).toBe(true);
    await worker.close();
    return links;
  }

  it('are gone after a sweep tick once their age has passed, with their payloads; their verdicts stay', async () => {
    const prefix = newPrefix('completed-quiet');
    // retentionSeconds 1: the jobs carry removeOnComplete { age: 1, count: 100000 } (scanJobOptions).
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, retentionSeconds: 1 });
    const fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300, lockDurationMs: 1000, unfurl: 'off' });
    const links = new Queue('links', { connection: redis, prefix });
    try {
      const enqueued = await client.enqueueBulk(['a', 'b', 'c', 'd', 'e'].map((contentId) => ({ job: { contentId, surface: 'send', items: [`https://${contentId}.example/`] } })));
      const jobIds = enqueued.map((job) => job.jobId);
      for (const jobId of jobIds) await client.waitForVerdict(jobId, { timeoutMs: 10_000 });
      expect(await waitUntil(async () => (await links.getCompletedCount()) === 5, 5000, 20)).toBe(true);
      const lastFinished = Math.max(...(await redis.zrange(links.toKey('completed'), 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number));

      // No job completes after these: BullMQ alone would keep them for good.
      expect(await waitUntil(async () => (await links.getCompletedCount()) === 0, 6000, 50)).toBe(true);
      expect(Date.now()).toBeGreaterThanOrEqual(lastFinished + 1000); // not before their age
      expect(await redis.exists(...jobIds.map((jobId) => links.toKey(jobId)))).toBe(0);
      for (const jobId of jobIds) expect(await client.getVerdict(jobId)).toMatchObject({ jobId });
      // The verdict still dedups the content.
      expect(await client.enqueue({ contentId: 'a', surface: 'send', items: ['https://a.example/'] })).toMatchObject({ duplicate: true });
    } finally {
      await fleet.stop();
      await links.close();
      await client.close();
    }
  }, 30_000);

  it('go by their own removeOnComplete age, oldest first and bounded per sweep: never a job kept by count only or without an age', async () => {
    const prefix = newPrefix('completed-own-age');
    const connection = testRedis();
    const links = await completeJobs(connection, prefix, [
      { id: 'old-1', opts: { removeOnComplete: { age: 10, count: 100_000 } } },
      { id: 'old-2', opts: { removeOnComplete: { age: 10 } } },
      { id: 'old-3', opts: { removeOnComplete: { age: 10, count: 100_000 } } },
      { id: 'by-count', opts: { removeOnComplete: { count: 1000 } } },
      { id: 'by-number', opts: { removeOnComplete: 1000 } },
      { id: 'kept', opts: {} },
      { id: 'longer', opts: { removeOnComplete: { age: 3600 } } },
      { id: 'recent', opts: { removeOnComplete: { age: 10 } } },
    ]);
    const completed = links.toKey('completed');
    const now = Date.now();
    // Finished an hour ago, except `longer` (a minute ago, within its hour) and `recent` (5 s ago,
    // within its 10 s, the newest).
    await connection.zadd(completed, 'XX', now - 3_600_000, 'by-count', now - 3_599_000, 'by-number', now - 3_598_000, 'kept');
    await connection.zadd(completed, 'XX', now - 3_500_000, 'old-1', now - 3_400_000, 'old-2', now - 3_300_000, 'old-3');
    await connection.zadd(completed, 'XX', now - 60_000, 'longer', now - 5000, 'recent');

    const sweeper = new CompletedJobSweeper(links, connection, { maxRemovedPerSweep: 2 });
    expect(await sweeper.removeExpired()).toBe(2);
    expect(await connection.zrange(completed, 0, -1)).toEqual(['by-count', 'by-number', 'kept', 'old-3', 'longer', 'recent']);
    expect(await sweeper.removeExpired()).toBe(1);
    expect(await sweeper.removeExpired()).toBe(0);
    expect(await connection.zrange(completed, 0, -1)).toEqual(['by-count', 'by-number', 'kept', 'longer', 'recent']);
    expect(await connection.exists(links.toKey('old-1'), links.toKey('old-2'), links.toKey('old-3'))).toBe(0);
    for (const id of ['by-count', 'by-number', 'kept', 'longer', 'recent']) expect(await links.getJobState(id)).toBe('completed');

    await links.close();
    await connection.quit();
  }, 30_000);

  it('are reached past any number of older jobs kept by count only: each sweep goes on where the last one stopped', async () => {
    const prefix = newPrefix('completed-kept-ahead');
    const connection = testRedis();
    const keptIds = Array.from({ length: 600 }, (_, i) => `kept-${String(i).padStart(3, '0')}`);
    const links = await completeJobs(connection, prefix, [
      ...keptIds.map((id) => ({ id, opts: { removeOnComplete: { count: 100_000 } } })),
      { id: 'expired-1', opts: { removeOnComplete: { age: 10 } } },
      { id: 'expired-2', opts: { removeOnComplete: { age: 10 } } },
    ]);
    const completed = links.toKey('completed');
    const now = Date.now();
    await connection.zadd(completed, 'XX', ...keptIds.flatMap((id, i) => [now - 7_200_000 + i, id]));
    await connection.zadd(completed, 'XX', now - 3_600_000, 'expired-1', now - 3_500_000, 'expired-2');

    // 500 jobs read per sweep here (one page): the first finds only kept ones, the next goes on.
    const sweeper = new CompletedJobSweeper(links, connection, { maxCheckedPerSweep: 500 });
    expect(await sweeper.removeExpired()).toBe(0);
    expect(await sweeper.removeExpired()).toBe(2);
    expect(await connection.zcard(completed)).toBe(600);
    expect(await connection.exists(links.toKey('expired-1'), links.toKey('expired-2'))).toBe(0);
    // Through the set: the next sweep starts from the oldest again.
    expect(await sweeper.removeExpired()).toBe(0);
    expect(await connection.zcard(completed)).toBe(600);

    await links.close();
    await connection.quit();
  }, 30_000);
});
