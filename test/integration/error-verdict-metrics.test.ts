import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { SCAN_JOB_NAME } from '../../src/queues/scan-queue.js';
import { createLogger } from '../../src/runtime/logger.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { waitUntil } from '../harness/fleet.js';
import { removeTestKeys, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';

/** Every sample of one metric: labels (as written) → value. */
async function samples(metrics: FleetMetrics, name: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    const match = new RegExp(`^${name}(\\{.*\\})? (\\S+)$`).exec(line);
    if (match) found.set(match[1] ?? '', Number(match[2]));
  }
  return found;
}
const total = (values: Map<string, number>) => [...values.values()].reduce((a, b) => a + b, 0);

/**
 * AbuseScanErrorVerdicts divides verdicts of jobs that could not be scanned by all verdicts: both
 * count verdicts. abuse_scan_errors_total counts errors (ten per job with ten bad images), so a
 * ratio over it could pass 100%.
 */
describe('abuse_scan_error_verdicts_total', () => {
  const prefix = uniquePrefix('error-verdict-metrics');
  afterAll(() => removeTestKeys(prefix));

  it('counts each stored verdict of an unscannable job once, by queue and job-level code; item errors do not count', async () => {
    const connection = testRedis();
    const links = new Queue('links', { connection, prefix });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 1 });
    // A job that failed for good before any scan worker ran (its worker died on it): the failed-job
    // sweep gives it its retries_exhausted verdict.
    const orphan = await client.enqueue({ contentId: 'orphaned', surface: 'send', items: ['https://orphaned.example/'] });
    const failingConnection = testRedis();
    const failing = new Worker('links', async () => {
      throw new Error('worker lost its footing');
    }, { connection: failingConnection, prefix });
    expect(await waitUntil(async () => (await links.getJobState(orphan.jobId)) === 'failed', 10_000)).toBe(true);
    await failing.close();
    await failingConnection.quit();

    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, lockDurationMs: 5000, stalledIntervalMs: 300, unfurl: 'off', models: 'off' });
    const logger = createLogger('silent');
    const workerConnection = testRedis();
    const pipeline = await createScanPipeline(config, { logger, connection: workerConnection });
    const metrics = new FleetMetrics({ prefix });
    const worker = new ScanWorker({ config, pipeline, connection: workerConnection, logger, metrics });
    try {
      await worker.run();
      expect((await client.waitForVerdict(orphan.jobId, { timeoutMs: 10_000 })).errors).toEqual([expect.objectContaining({ code: 'retries_exhausted' })]);

      // Scanned, with ten item errors: one verdict, ten errors, no error verdict.
      const tenBad = await client.enqueue({ contentId: 'ten-bad-images', surface: 'upload', items: Array.from({ length: 10 }, (_, i) => ({ bytesBase64: Buffer.from(`not an image ${i}`).toString('base64') })) });
      const scanned = await client.waitForVerdict(tenBad.jobId, { timeoutMs: 10_000 });
      expect(scanned.items).toHaveLength(10);
      expect(scanned.errors).toHaveLength(10);

      // Refused by the worker's validation (added past the client): an invalid_job error verdict.
      const invalid = await links.add(SCAN_JOB_NAME, { contentId: 'broken', items: 'not a list' }, { jobId: 'invalid-1', attempts: 1 });
      expect((await client.waitForVerdict(invalid.id!, { timeoutMs: 10_000 })).errors).toEqual([expect.objectContaining({ code: 'invalid_job' })]);

      // The metrics count a verdict once it is stored, just after its announcement woke the client.
      expect(await waitUntil(async () => total(await samples(metrics, 'abuse_scan_verdicts_total')) === 3, 5000, 20)).toBe(true);
      const verdicts = await samples(metrics, 'abuse_scan_verdicts_total');
      const errorVerdicts = await samples(metrics, 'abuse_scan_error_verdicts_total');
      expect(total(verdicts)).toBe(3);
      expect(total(await samples(metrics, 'abuse_scan_errors_total'))).toBe(12);
      expect(errorVerdicts).toEqual(
        new Map([
          [`{queue="links",code="retries_exhausted",prefix="${prefix}"}`, 1],
          [`{queue="links",code="invalid_job",prefix="${prefix}"}`, 1],
        ]),
      );
      // What the alert divides: at most 1, here 2 of 3 verdicts (errors over verdicts: 12 / 3).
      expect(total(errorVerdicts) / total(verdicts)).toBeCloseTo(2 / 3);

      // A verdict that is not stored again (the sweep runs on; the job is not scanned twice) is not counted again.
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(await samples(metrics, 'abuse_scan_error_verdicts_total')).toEqual(errorVerdicts);
    } finally {
      await worker.shutdown();
      await pipeline.close();
      await workerConnection.quit();
      await links.close();
      await client.close();
      await connection.quit();
    }
  }, 30_000);
});
