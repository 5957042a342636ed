import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { DEFAULT_JOB_LIMITS } from '../../src/jobs/limits.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { testRedis, uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

describe('a job whose workers keep dying under it', () => {
  const prefix = uniquePrefix('stalled');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  /** A worker takes the next job and dies without a trace (force-closed: no completion, lock left to expire). */
  async function takeJobAndDie(connection: Redis, onPrefix = prefix): Promise<void> {
    let taken!: () => void;
    const tookJob = new Promise<void>((resolve) => (taken = resolve));
    const dying = new Worker('links', async () => {
      taken();
      await new Promise(() => undefined);
    }, { connection, prefix: onPrefix, lockDuration: 1000, skipStalledCheck: true, skipLockRenewal: true });
    await tookJob;
    await dying.close(true);
  }

  it('is failed by the stalled checker and still gets exactly one job_stalled verdict', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const { jobId } = await client.enqueue({ contentId: 'doomed', surface: 'upload', items: ['https://x.example/'] });

    const connection = testRedis();
    await takeJobAndDie(connection);

    // Allow no recovery: the first stall fails the job.
    const fleet = await startInProcessWorker(prefix, { maxStalledCount: 0, stalledIntervalMs: 500, lockDurationMs: 1000 });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict).toMatchObject({ jobId, contentId: 'doomed', decision: 'review', errors: [{ code: 'job_stalled' }] });

    await new Promise((resolve) => setTimeout(resolve, 1500)); // further sweeps add nothing
    expect(await connection.xlen(`${prefix}:verdicts`)).toBe(1);
    await fleet.stop();
    await client.close();
    await connection.quit();
  }, 30_000);

  it('gets a job_stalled verdict echoing a job valid under raised limits exactly (no id cut to 256), with total 0 and no queueWait', async () => {
    const limits = { maxIdLength: 1024, maxMetadataKeys: 200, maxMetadataKeyLength: 400 };
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, limits: { ...DEFAULT_JOB_LIMITS, ...limits } });
    const contentId = `tenant-acme/conversation-${'x'.repeat(300)}`;
    const metadata: Record<string, string> = { [`route.${'y'.repeat(300)}`]: 'enforcement-queue-7' };
    for (let i = 0; i < 150; i++) metadata[`k${i}`] = 'v';
    const { jobId } = await client.enqueue({ contentId, surface: 'upload', items: ['https://long.example/'], metadata });

    const connection = testRedis();
    await takeJobAndDie(connection);

    const fleet = await startInProcessWorker(prefix, { maxStalledCount: 0, stalledIntervalMs: 500, lockDurationMs: 1000, ...limits });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict).toMatchObject({ jobId, decision: 'review', errors: [{ code: 'job_stalled' }] });
    expect(verdict.contentId).toBe(contentId);
    expect(verdict.metadata).toEqual(metadata);
    expect(verdict.timings).toEqual({ total: 0 });
    await fleet.stop();
    await client.close();
    await connection.quit();
  }, 30_000);

  it('leaves the failed set once past its retention though no other job fails, keeping its one verdict', async () => {
    // retentionSeconds 1: the job carries removeOnFail { age: 7 }, which BullMQ applies to the failed
    // jobs only when another job fails; the workers' sweep removes it without one.
    const ownPrefix = uniquePrefix('stalled-retention');
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix: ownPrefix, retentionSeconds: 1 });
    const { jobId } = await client.enqueue({ contentId: 'stalls-out', surface: 'upload', items: ['https://x.example/'] });
    const connection = testRedis();
    const links = new Queue('links', { connection, prefix: ownPrefix });
    try {
      await takeJobAndDie(connection, ownPrefix);
      const fleet = await startInProcessWorker(ownPrefix, { maxStalledCount: 0, stalledIntervalMs: 500, lockDurationMs: 1000 });
      try {
        expect(await client.waitForVerdict(jobId, { timeoutMs: 15_000 })).toMatchObject({ jobId, errors: [{ code: 'job_stalled' }] });
        expect(await links.getJobState(jobId)).toBe('failed');
        // Two minutes pass: the sweep removes no job failed less than a minute ago (workers' clocks
        // may differ by that much), whatever its retention.
        await connection.zadd(links.toKey('failed'), 'XX', Date.now() - 120_000, jobId);
        expect(await waitUntil(async () => (await links.getFailedCount()) === 0, 10_000)).toBe(true);
        expect(await connection.exists(`${ownPrefix}:links:${jobId}`)).toBe(0);
        expect(await verdictJobIds(ownPrefix)).toEqual([jobId]);
        expect(await client.getVerdict(jobId)).toMatchObject({ jobId, errors: [{ code: 'job_stalled' }] });
      } finally {
        await fleet.stop();
      }
    } finally {
      await links.close();
      await client.close();
      await connection.quit();
      await removeTestKeys(ownPrefix);
    }
  }, 30_000);
});
