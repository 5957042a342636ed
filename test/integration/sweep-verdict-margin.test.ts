/**
 * A job can fail for good after its verdict was stored (stored, then its worker died before
 * completing it; its later runs died too, until the stalled checker failed it). The failed-job
 * sweep looks back the verdict retention from when jobs failed, so workers keep verdict keys
 * longer than that (verdictKeySeconds): such a job, still in the window after the retention since
 * its verdict passed, finds its verdict there and gets no second one.
 */
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { FailedJobSweeper, verdictKeyMarginMs, verdictKeySeconds } from '../../src/worker/failed-job-sweeper.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

describe('a job failed for good after its verdict was stored', () => {
  const prefix = uniquePrefix('sweep-margin');
  afterAll(() => removeTestKeys(prefix));

  it('gets no second verdict from a sweep that finds it in the window after the retention has passed since its verdict', async () => {
    const retentionS = 3;
    const overrides = { verdictRetentionSeconds: retentionS, lockDurationMs: 1000, stalledIntervalMs: 300, maxStalledCount: 0, unfurl: 'off' as const };
    const redis = testRedis();
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 1 });
    const links = new Queue('links', { connection: redis, prefix });
    try {
      // S: a worker stores the job's verdict, kept past the retention by the sweep's margin.
      const first = await startInProcessWorker(prefix, overrides);
      const { jobId } = await client.enqueue({ contentId: 'edge', surface: 'send', items: ['https://edge.example/'] });
      const stored = await client.waitForVerdict(jobId, { timeoutMs: 10_000 });
      const storedBy = Date.now();
      const ttlMs = await redis.pttl(verdictKeys(prefix).verdict(jobId));
      expect(ttlMs).toBeGreaterThan(retentionS * 1000 + verdictKeyMarginMs(first.config) - 2000);
      expect(ttlMs).toBeLessThanOrEqual(verdictKeySeconds(first.config) * 1000);
      await first.stop();
      // When each sweep of the links queue began: its window reaches back the retention from then.
      const sweptAt: number[] = [];
      const sweep = FailedJobSweeper.prototype.sweep;
      vi.spyOn(FailedJobSweeper.prototype, 'sweep').mockImplementation(async function (this: FailedJobSweeper, ...args) {
        const at = Date.now();
        try {
          return await sweep.apply(this, args);
        } finally {
          if (this['queue'].name === 'links') sweptAt.push(at);
        }
      });

      // The job runs again, and its workers die under it until, at F = S + 2.5 s, it is failed for
      // good as stalled (the job's state as the stalled checker leaves it).
      const failedAt = storedBy + 2500;
      const dying = new Worker('links', async () => {
        await sleepUntil(failedAt);
        throw new UnrecoverableError('job stalled more than allowable limit');
      }, { connection: redis, prefix });
      await (await Job.fromId(links, jobId))!.retry('completed');
      expect(await waitUntil(async () => ['active', 'failed'].includes(await links.getJobState(jobId)), 10_000, 20)).toBe(true);
      // Started while the dying worker holds the job, so its start-up (slow under load) is not
      // spent in the window below. It sweeps every 300 ms.
      const second = await startInProcessWorker(prefix, overrides);
      expect(await waitUntil(async () => (await links.getJobState(jobId)) === 'failed', 10_000, 20)).toBe(true);
      const seenFailed = Date.now();
      await dying.close();
      const finishedOn = (await Job.fromId(links, jobId))!.finishedOn!;

      // A sweep that began past S + retention (a verdict kept only that long is gone), with the
      // job failed, and before F + retention (the job in its window), has ended.
      const pastRetention = () => sweptAt.find((at) => at >= Math.max(storedBy + retentionS * 1000, seenFailed));
      expect(await waitUntil(async () => pastRetention() !== undefined, 10_000, 20)).toBe(true);
      expect(pastRetention()).toBeLessThan(finishedOn + retentionS * 1000);
      await second.stop();

      expect(await verdictJobIds(prefix)).toEqual([jobId]);
      expect(await client.getVerdict(jobId)).toEqual(stored);
    } finally {
      vi.restoreAllMocks();
      await links.close();
      await client.close();
      await redis.quit();
    }
  }, 30_000);
});
