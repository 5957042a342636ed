import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { SCAN_QUEUE_KINDS } from '../../src/queues/names.js';
import { exitOf, spawnWorkerProcess, verdictJobIds, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { testRedis, uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

async function activeScanJobs(prefix: string): Promise<number> {
  const connection = testRedis();
  let active = 0;
  for (const kind of SCAN_QUEUE_KINDS) {
    const queue = new Queue(kind, { connection, prefix });
    active += await queue.getActiveCount();
    await queue.close();
  }
  await connection.quit();
  return active;
}

describe('a worker killed mid-run loses no job', () => {
  const prefix = uniquePrefix('crash');
  const children: Array<ReturnType<typeof spawnWorkerProcess>> = [];

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await removeTestKeys(prefix);
  });

  it('SIGKILL of one worker: a second one recovers its jobs, still exactly 1,000 unique verdicts', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const first = spawnWorkerProcess(prefix, { ABUSE_SCAN_CONCURRENCY: '4' });
    children.push(first);
    await waitForWorkerStart(first);

    const enqueued = await client.enqueueBulk(Array.from({ length: 1000 }, (_, i) => ({ job: mixedJob(i) })));
    expect(await waitUntil(async () => (await verdictJobIds(prefix)).length >= 100, 30_000, 20)).toBe(true);
    first.kill('SIGKILL');
    expect((await exitOf(first)).signal).toBe('SIGKILL');
    const verdictsAtKill = (await verdictJobIds(prefix)).length;
    const orphaned = await activeScanJobs(prefix);
    expect(verdictsAtKill).toBeLessThan(1000);

    const second = spawnWorkerProcess(prefix, { ABUSE_SCAN_CONCURRENCY: '16' });
    children.push(second);
    await waitForWorkerStart(second);
    expect(await waitUntil(async () => (await verdictJobIds(prefix)).length >= 1000 && (await activeScanJobs(prefix)) === 0, 60_000, 250)).toBe(true);

    const ids = await verdictJobIds(prefix);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids)).toEqual(new Set(enqueued.map((e) => e.jobId)));
    // Jobs the killed worker held were recovered by the stalled checker, not lost.
    console.info(`killed at ${verdictsAtKill} verdicts with ${orphaned} jobs in flight`);
    expect(orphaned).toBeGreaterThan(0);

    second.kill('SIGTERM');
    expect(await exitOf(second)).toEqual({ code: 0, signal: null });
    await client.close();
  }, 120_000);
});
