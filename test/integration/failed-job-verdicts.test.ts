import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClientOptions } from '../../src/client/scan-client.js';
import { DEFAULT_JOB_LIMITS } from '../../src/jobs/limits.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { FailedJobSweeper } from '../../src/worker/failed-job-sweeper.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

/**
 * Jobs that failed for good still owe their consumer one verdict, whatever happened meanwhile; once
 * they have it, the sweep removes them past their retention.
 */
describe('failed jobs without a verdict', () => {
  const prefixes: string[] = [];
  const redis = testRedis();

  afterAll(async () => {
    for (const prefix of prefixes) await removeTestKeys(prefix);
    await redis.quit();
  });

  /** A prefix of its own (removed after all), and a client whose jobs get one attempt: a failure is for good. */
  function oneAttemptClient(label: string, options: Partial<ScanClientOptions> = {}) {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return { prefix, client: createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 1, ...options }) };
  }

  /**
   * A worker that fails every job it takes, closed once `failed` holds: jobs failed for good by a
   * worker that died before storing any verdict. Returns the links queue, on `connection`.
   */
  async function failJobsUntil(connection: Redis, prefix: string, failed: (links: Queue) => Promise<boolean>, timeoutMs = 10_000): Promise<Queue> {
    const failing = new Worker('links', async () => {
      throw new Error('worker lost its footing');
    }, { connection, prefix });
    const links = new Queue('links', { connection, prefix });
    expect(await waitUntil(() => failed(links), timeoutMs)).toBe(true);
    await failing.close();
    return links;
  }

  it('get their verdict once Redis takes verdict writes again', async () => {
    const { prefix, client } = oneAttemptClient('refused-writes');
    const stream = verdictKeys(prefix).stream;
    // The results stream key holds a string: every verdict append is refused with WRONGTYPE.
    await redis.set(stream, 'not a stream');
    const fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300 });
    const { jobId } = await client.enqueue({ contentId: 'refused', surface: 'send', items: ['https://refused.example/'] });
    const links = new Queue('links', { connection: redis, prefix });

    expect(await waitUntil(async () => (await links.getJobState(jobId)) === 'failed', 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // several sweeps fail to store too
    expect(await client.getVerdict(jobId)).toBeUndefined(); // no marker left for a verdict never appended

    await redis.del(stream);
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 10_000 });
    expect(verdict).toMatchObject({ jobId, decision: 'review', errors: [{ code: 'retries_exhausted' }] });
    await new Promise((resolve) => setTimeout(resolve, 800)); // further sweeps add nothing
    expect(await verdictJobIds(prefix)).toEqual([jobId]);

    await fleet.stop();
    await links.close();
    await client.close();
  }, 30_000);

  it('are swept up to the first verdict that cannot be stored, then from there on the next sweep', async () => {
    const { prefix, client } = oneAttemptClient('sweep-stops');
    await client.enqueueBulk(['a', 'b', 'c'].map((contentId) => ({ job: { contentId, surface: 'upload', items: [`https://${contentId}.example/`] } })));
    const connection = testRedis();
    const links = await failJobsUntil(connection, prefix, async (links) => (await links.getFailedCount()) === 3);

    const store = new VerdictStore(connection, { prefix, retentionSeconds: 600, streamMaxLength: 1000 });
    const sweeper = new FailedJobSweeper(links, connection, store, { windowMs: 600_000 });
    // Redis refusing writes: one attempt, not one failure (and its log line) per failed job.
    let attempts = 0;
    expect(await sweeper.sweep(async () => (attempts++, false))).toBe(0);
    expect(attempts).toBe(1);
    const given: string[] = [];
    expect(await sweeper.sweep(async (job) => (given.push(job.id!), true))).toBe(3);
    expect(given).toHaveLength(3);

    await links.close();
    await connection.quit();
    await client.close();
  }, 30_000);

  it('are removed past the failed-job retention their options carry, oldest first in bounded batches, never while they owe a verdict', async () => {
    // retentionSeconds 1: the jobs carry removeOnFail { age: 7 } (scanJobOptions).
    const { prefix, client } = oneAttemptClient('removed-past-retention', { retentionSeconds: 1 });
    const [a, b, c] = await client.enqueueBulk(['a', 'b', 'c'].map((contentId) => ({ job: { contentId, surface: 'upload', items: [`https://${contentId}.example/`] } })));
    const connection = testRedis();
    const links = await failJobsUntil(connection, prefix, async (links) => (await links.getFailedCount()) === 3);
    // a and b failed 11 and 10 s ago (past their 7 s), c just now. BullMQ removes failed jobs past
    // their age only when another job fails: with no more failures, they would stay for good.
    const failed = links.toKey('failed');
    await connection.zadd(failed, 'XX', Date.now() - 11_000, a!.jobId, Date.now() - 10_000, b!.jobId);
    const store = new VerdictStore(connection, { prefix, retentionSeconds: 600, streamMaxLength: 1000 });

    // Workers' clocks may differ by a minute: a sweeper that allows for that removes nothing younger.
    const allowingSkew = new FailedJobSweeper(links, connection, store, { windowMs: 600_000 });
    expect(await allowingSkew.sweep(async () => true)).toBe(3);
    expect(await allowingSkew.removeExpired()).toBe(0);

    const sweeper = new FailedJobSweeper(links, connection, store, { windowMs: 600_000, clockSkewMs: 0, maxRemovedPerSweep: 1 });
    expect(await sweeper.removeExpired()).toBe(0); // before any sweep: which jobs owe a verdict is unknown
    // Redis refusing verdict writes: a and b still owe theirs, past their retention or not.
    expect(await sweeper.sweep(async () => false)).toBe(0);
    expect(await sweeper.removeExpired()).toBe(0);
    expect(await connection.zrange(failed, 0, -1)).toEqual([a!.jobId, b!.jobId, c!.jobId]);

    // Verdicts given: the two past their retention go, oldest first, one batch (here of 1) a call,
    // with their payloads; c stays.
    expect(await sweeper.sweep(async () => true)).toBe(3);
    expect(await sweeper.removeExpired()).toBe(1);
    expect(await connection.zrange(failed, 0, -1)).toEqual([b!.jobId, c!.jobId]);
    expect(await sweeper.removeExpired()).toBe(1);
    expect(await sweeper.removeExpired()).toBe(0);
    expect(await connection.zrange(failed, 0, -1)).toEqual([c!.jobId]);
    expect(await connection.exists(`${prefix}:links:${a!.jobId}`, `${prefix}:links:${b!.jobId}`)).toBe(0);
    expect(await links.getJobState(c!.jobId)).toBe('failed');

    await links.close();
    await connection.quit();
    await client.close();
  }, 30_000);

  it.each([
    { finished: 'one after another', sameMillisecond: false },
    { finished: 'all in one millisecond (the stalled checker fails them at once)', sameMillisecond: true },
  ])('are swept from where the previous page ended, whatever was removed below it meanwhile: jobs finished $finished', async ({ sameMillisecond }) => {
    const { prefix, client } = oneAttemptClient('sweep-pages');
    await client.enqueueBulk(Array.from({ length: 1200 }, (_, i) => ({ job: { contentId: `p${i}`, surface: 'upload', items: [`https://p${i}.example/`] } })));
    const connection = testRedis();
    // Set-up only: bounded by the test's own time, not by the 10 s a few jobs take.
    const links = await failJobsUntil(connection, prefix, async (links) => (await links.getFailedCount()) === 1200, 45_000);
    const failed = links.toKey('failed');
    if (sameMillisecond) {
      const at = Date.now();
      const ids = await connection.zrange(failed, 0, -1);
      await connection.zadd(failed, 'XX', ...ids.flatMap((id) => [at, id]));
    }
    const store = new VerdictStore(connection, { prefix, retentionSeconds: 600, streamMaxLength: 1000 });
    const sweeper = new FailedJobSweeper(links, connection, store, { windowMs: 600_000 });
    const everyId = await connection.zrange(failed, 0, -1);
    // While the sweep works through its first page (of 500), the 100 oldest failed jobs are removed
    // (by BullMQ at another failure, or by another worker past their retention), and so is the
    // page's last job: pages read at an offset would skip 100 jobs never checked.
    const seen: string[] = [];
    const given = await sweeper.sweep(async (job) => {
      seen.push(job.id!);
      if (seen.length === 1) {
        await links.clean(0, 100, 'failed');
        await links.remove(everyId[499]!);
      }
      return true;
    });
    expect(seen).toEqual([everyId[0], ...everyId.slice(100, 499), ...everyId.slice(500)]);
    expect(given).toBe(seen.length);

    await links.close();
    await connection.quit();
    await client.close();
  }, 60_000);

  it('get their verdict from a worker started after they failed', async () => {
    const { prefix, client } = oneAttemptClient('failed-before-start');
    const { jobId } = await client.enqueue({ contentId: 'orphaned', surface: 'upload', items: ['https://orphaned.example/'] });

    // A worker fails the job for good and dies before storing any verdict.
    const connection = testRedis();
    const links = await failJobsUntil(connection, prefix, async (links) => (await links.getJobState(jobId)) === 'failed');
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300 });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 10_000 });
    expect(verdict).toMatchObject({ jobId, contentId: 'orphaned', decision: 'review', errors: [{ code: 'retries_exhausted' }] });
    expect(await verdictJobIds(prefix)).toEqual([jobId]);

    await fleet.stop();
    await links.close();
    await connection.quit();
    await client.close();
  }, 30_000);

  it('echo a job valid under the worker\'s raised limits exactly in the swept verdict', async () => {
    const limits = { maxIdLength: 1024, maxMetadataKeys: 200, maxMetadataKeyLength: 400 };
    const { prefix, client } = oneAttemptClient('failed-long-ids', { limits: { ...DEFAULT_JOB_LIMITS, ...limits } });
    const contentId = `tenant-acme/conversation-${'x'.repeat(300)}`;
    const metadata: Record<string, string> = { [`route.${'y'.repeat(300)}`]: 'enforcement-queue-7' };
    for (let i = 0; i < 150; i++) metadata[`k${i}`] = 'v';
    const { jobId } = await client.enqueue({ contentId, surface: 'upload', tenant: 'acme', items: ['https://orphaned.example/'], metadata });

    // A worker fails the job for good and dies before storing any verdict.
    const connection = testRedis();
    const links = await failJobsUntil(connection, prefix, async (links) => (await links.getJobState(jobId)) === 'failed');

    const fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300, ...limits });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 10_000 });
    expect(verdict).toMatchObject({ jobId, tenant: 'acme', errors: [{ code: 'retries_exhausted' }] });
    expect(verdict.contentId).toBe(contentId);
    expect(verdict.metadata).toEqual(metadata);
    expect(verdict.timings).toEqual({ total: 0 }); // given by the sweep: no attempt of this worker ran it

    await fleet.stop();
    await links.close();
    await connection.quit();
    await client.close();
  }, 30_000);
});
