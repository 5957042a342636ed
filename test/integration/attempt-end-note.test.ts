/**
 * A transiently failed attempt notes when it ended in its job's hash (ATTEMPT_END_FIELD, for the
 * retry's queue wait), but only while it still holds the job's lock: an attempt that lost it may
 * find its job completed and removed by another worker meanwhile, and writing then would create
 * the job's key anew (that field alone, no TTL), which the client takes for an existing job.
 */
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { ScanError } from '../../src/errors.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import type { ScanPipeline, ScanRunInfo } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { ATTEMPT_END_FIELD, ScanWorker } from '../../src/worker/scan-worker.js';
import { removeTestKeys, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';

/** A worker whose scans fail transiently, after `meanwhile` ran (what happened elsewhere during the scan). */
function transientlyFailingWorker(prefix: string, meanwhile: (run: ScanRunInfo) => Promise<void>) {
  const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, queues: 'links', lockDurationMs: 5000, stalledIntervalMs: 2000, unfurl: 'off' });
  let scanned!: () => void;
  const scannedOnce = new Promise<void>((resolve) => (scanned = resolve));
  const pipeline = {
    async scan(_job: unknown, run: ScanRunInfo) {
      await meanwhile(run);
      scanned();
      throw new ScanError('fetch_timeout', 'the remote server did not answer in time');
    },
    versions: () => ({ scanner: 'test', lists: {}, hashSets: {}, models: {} }),
    close: async () => undefined,
  } as unknown as ScanPipeline;
  const connection = testRedis();
  const worker = new ScanWorker({ config, pipeline, connection, logger: createLogger('silent'), metrics: new FleetMetrics() });
  return {
    worker,
    scannedOnce,
    /** Waits for the attempt in flight to end (its note written or not), then closes. */
    async stop() {
      await worker.shutdown();
      await connection.quit();
    },
  };
}

describe("the note of a transiently failed attempt's end", () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await removeTestKeys(prefix);
  });

  it('is written into the job while the attempt holds its lock', async () => {
    const prefix = uniquePrefix('attempt-end-held');
    prefixes.push(prefix);
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, backoffMs: 60_000 });
    const { worker, scannedOnce, stop } = transientlyFailingWorker(prefix, async () => undefined);
    const redis = testRedis();
    try {
      const { jobId } = await client.enqueue({ contentId: 'held', surface: 'send', items: ['https://held.example/'] });
      await worker.run();
      await scannedOnce;
      await stop();
      expect(await redis.hget(`${prefix}:links:${jobId}`, ATTEMPT_END_FIELD)).toMatch(/^1:\d+$/);
      const links = new Queue('links', { connection: redis, prefix });
      expect(await links.getJobState(jobId)).toBe('delayed'); // retried after its backoff
      await links.close();
    } finally {
      await client.close();
      await redis.quit();
    }
  });

  it('is not written by an attempt whose job was completed and removed elsewhere meanwhile: no job key is created, the content can be enqueued again', async () => {
    const prefix = uniquePrefix('attempt-end-orphan');
    prefixes.push(prefix);
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const redis = testRedis();
    let jobKey = '';
    // Meanwhile this attempt froze past its lock; another worker ran the job, stored its verdict,
    // completed it, and removeOnComplete removed the job (its hash and lock gone).
    const { worker, scannedOnce, stop } = transientlyFailingWorker(prefix, async (run) => {
      jobKey = `${prefix}:links:${run.jobId}`;
      await redis.del(jobKey, `${jobKey}:lock`);
      await redis.lrem(`${prefix}:links:active`, 0, run.jobId);
    });
    try {
      const content = { contentId: 'orphan', surface: 'send', items: ['https://orphan.example/'] };
      const first = await client.enqueue(content);
      await worker.run();
      await scannedOnce;
      await stop(); // the attempt ended: its note was written, or not

      expect(jobKey).toBe(`${prefix}:links:${first.jobId}`);
      expect(await redis.exists(jobKey)).toBe(0);
      // Much later (its verdict expired, say), the same content is scanned again.
      const again = await client.enqueue(content);
      expect(again).toEqual({ jobId: first.jobId, queue: 'links', duplicate: false });
      const links = new Queue('links', { connection: redis, prefix });
      expect(await links.getJobState(first.jobId)).toBe('waiting');
      await links.close();
    } finally {
      await client.close();
      await redis.quit();
    }
  });
});
