import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { SCAN_QUEUE_KINDS } from '../../src/queues/names.js';
import { exitOf, spawnWorkerProcess, verdictJobIds, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { testRedis, uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

describe('SIGTERM during a run', () => {
  const prefix = uniquePrefix('sigterm');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('finishes in-flight jobs, exits 0 and leaves nothing active', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const worker = spawnWorkerProcess(prefix, { ABUSE_SCAN_CONCURRENCY: '8' });
    await waitForWorkerStart(worker);
    await client.enqueueBulk(Array.from({ length: 600 }, (_, i) => ({ job: mixedJob(i) })));
    expect(await waitUntil(async () => (await verdictJobIds(prefix)).length >= 50, 30_000, 20)).toBe(true);

    worker.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('finishing in-flight jobs');

    const connection = testRedis();
    let completed = 0;
    for (const kind of SCAN_QUEUE_KINDS) {
      const queue = new Queue(kind, { connection, prefix });
      expect(await queue.getActiveCount()).toBe(0);
      completed += await queue.getCompletedCount();
      await queue.close();
    }
    await connection.quit();
    // Every scan job the worker finished has its verdict; the rest wait for the next worker.
    expect((await verdictJobIds(prefix)).length).toBe(completed);
    await client.close();
  }, 60_000);
});
