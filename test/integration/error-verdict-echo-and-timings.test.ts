import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { jobLimits, loadConfig } from '../../src/config/config.js';
import { ScanError } from '../../src/errors.js';
import type { Verdict } from '../../src/jobs/verdict-schema.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import type { ScanPipeline, ScanRunInfo } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { removeTestKeys, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';

/** Error verdicts of a worker whose limits are raised: the job's identity whole, the attempt's timings. */
describe('error verdicts of a worker with raised job limits', () => {
  const prefix = uniquePrefix('error-verdict-echo');
  afterAll(() => removeTestKeys(prefix));
  const config = loadConfig(
    { ABUSE_SCAN_MAX_ID_LENGTH: '1024', ABUSE_SCAN_MAX_METADATA_KEYS: '200', ABUSE_SCAN_MAX_METADATA_KEY_LENGTH: '400' },
    { redisUrl: TEST_REDIS_URL, prefix, queues: 'links', lockDurationMs: 5000, stalledIntervalMs: 2000 },
  );
  const metadata: Record<string, string> = {};
  for (let i = 0; i < 150; i++) metadata[`k${String(i).padStart(3, '0')}`] = 'v';
  metadata[`route.${'y'.repeat(300)}`] = 'enforcement-queue-7';

  /** A scan that takes a while, then fails transiently: every attempt, so the last gets `retries_exhausted`. */
  function failingPipeline(runs: ScanRunInfo[]): ScanPipeline {
    return {
      async scan(_job: unknown, run: ScanRunInfo): Promise<Verdict> {
        runs.push(run);
        await new Promise((resolve) => setTimeout(resolve, 60));
        throw new ScanError('fetch_timeout', 'the remote server did not answer in time');
      },
      versions: () => ({ scanner: 'test', lists: {}, hashSets: {}, models: {} }),
      close: async () => undefined,
    } as unknown as ScanPipeline;
  }

  it('retries_exhausted: echoes a valid job exactly and reports the attempt\'s total and queue wait', async () => {
    const runs: ScanRunInfo[] = [];
    const connection = testRedis();
    const worker = new ScanWorker({ config, pipeline: failingPipeline(runs), connection, logger: createLogger('silent'), metrics: new FleetMetrics() });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 50, limits: jobLimits(config) });
    try {
      await worker.run();
      const contentId = `tenant-acme/conversation-${'x'.repeat(300)}`;
      const { jobId } = await client.enqueue({ contentId, surface: 'send', tenant: `acme-${'t'.repeat(300)}`, items: ['https://x.example/'], metadata });
      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 8000 });
      expect(verdict).toMatchObject({ jobId, attempt: 2, errors: [{ code: 'retries_exhausted' }] });
      expect(verdict.contentId).toBe(contentId);
      expect(verdict.tenant).toBe(`acme-${'t'.repeat(300)}`);
      expect(verdict.metadata).toEqual(metadata);
      expect(verdict.timings.total).toBeGreaterThanOrEqual(50);
      expect(verdict.timings.queueWait).toBe(runs[1]!.queueWaitMs);
      expect(typeof verdict.timings.queueWait).toBe('number');
    } finally {
      await client.close();
      await worker.shutdown();
      await connection.quit();
    }
  }, 15_000);

  it('invalid_job: echoes what it can, cut to the configured limits, with the queue wait', async () => {
    const connection = testRedis();
    const worker = new ScanWorker({ config, pipeline: failingPipeline([]), connection, logger: createLogger('silent'), metrics: new FleetMetrics() });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const links = new Queue('links', { connection, prefix });
    try {
      await worker.run();
      // Past the client's checks (a producer of another version): a contentId over even the raised limit, no items.
      await links.add('scan', { schemaVersion: 1, contentId: 'c'.repeat(1100), surface: 'send', items: [], metadata }, { jobId: 'raw-invalid' });
      const verdict = await client.waitForVerdict('raw-invalid', { timeoutMs: 8000 });
      expect(verdict).toMatchObject({ jobId: 'raw-invalid', errors: [{ code: 'invalid_job' }] });
      expect(verdict.contentId).toBe('c'.repeat(1024));
      expect(verdict.metadata).toEqual(metadata); // within the limits: whole
      expect(typeof verdict.timings.queueWait).toBe('number');
      expect(typeof verdict.timings.total).toBe('number');
    } finally {
      await client.close();
      await links.close();
      await worker.shutdown();
      await connection.quit();
    }
  }, 15_000);
});
