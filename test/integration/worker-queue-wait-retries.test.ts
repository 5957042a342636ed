import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { ScanError } from '../../src/errors.js';
import type { Verdict } from '../../src/jobs/verdict-schema.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { errorVerdict, type ScanPipeline, type ScanRunInfo } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { removeTestKeys, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';

describe('queue wait and job duration of a job that is retried', () => {
  const prefix = uniquePrefix('queue-wait');
  afterAll(() => removeTestKeys(prefix));

  it('count the wait of each attempt from when it became runnable, and the duration of the attempt that stored the verdict only', async () => {
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, queues: 'links', lockDurationMs: 5000, stalledIntervalMs: 2000 });
    const runs: ScanRunInfo[] = [];
    // A scan that fails transiently twice (a host that does not answer), then succeeds.
    const pipeline = {
      async scan(job: unknown, run: ScanRunInfo): Promise<Verdict> {
        runs.push(run);
        if (run.attempt < 3) throw new ScanError('fetch_timeout', 'the remote server did not answer in time');
        const verdict = errorVerdict(job, run, new ScanError('unsupported_item', 'stub'), config.policy, pipeline.versions());
        return { ...verdict, timings: { total: 1, ...(run.queueWaitMs !== undefined && { queueWait: run.queueWaitMs }) } };
      },
      versions: () => ({ scanner: 'test', lists: {}, hashSets: {}, models: {} }),
      close: async () => undefined,
    } as unknown as ScanPipeline;
    const connection = testRedis();
    const metrics = new FleetMetrics();
    const worker = new ScanWorker({ config, pipeline, connection, logger: createLogger('silent'), metrics });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 3, backoffMs: 400 });
    try {
      await worker.run();
      const { jobId } = await client.enqueue({ contentId: 'retried', surface: 'send', items: ['https://retried.example/'] });
      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 8000 });

      // The last attempt ran 1.2 s (400 + 800 ms of backoff) after the job was added, and waited
      // little once due: the backoff is not queue wait.
      expect(verdict.attempt).toBe(3);
      expect(runs.map((run) => run.attempt)).toEqual([1, 2, 3]);
      for (const run of runs) expect(run.queueWaitMs).toBeLessThan(300);
      expect(verdict.timings.queueWait).toBe(runs[2]!.queueWaitMs);
      expect(typeof verdict.timings.queueWait).toBe('number');

      const wait = (await metrics.queueWaitSeconds.get()).values;
      expect(wait.find((v) => v.metricName === 'abuse_scan_queue_wait_seconds_count')?.value).toBe(3);
      expect(wait.find((v) => v.metricName === 'abuse_scan_queue_wait_seconds_sum')!.value).toBeLessThan(0.9);
      const duration = (await metrics.scanSeconds.get()).values;
      expect(duration.find((v) => v.metricName === 'abuse_scan_job_duration_seconds_count')?.value).toBe(1);
      expect((await metrics.retries.get()).values[0]?.value).toBe(2);
    } finally {
      await client.close();
      await worker.shutdown();
      await connection.quit();
    }
  }, 15_000);
});
