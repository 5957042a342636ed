import { Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { testRedis, uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

describe('a job whose workers keep dying under it', () => {
  const prefix = uniquePrefix('stalled');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('is failed by the stalled checker and still gets exactly one job_stalled verdict', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const { jobId } = await client.enqueue({ contentId: 'doomed', surface: 'upload', items: ['https://x.example/'] });

    // A worker takes the job and dies without a trace (force-closed: no completion, lock left to expire).
    const connection = testRedis();
    let taken!: () => void;
    const tookJob = new Promise<void>((resolve) => (taken = resolve));
    const dying = new Worker('links', async () => {
      taken();
      await new Promise(() => undefined);
    }, { connection, prefix, lockDuration: 1000, skipStalledCheck: true, skipLockRenewal: true });
    await tookJob;
    await dying.close(true);

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
});
