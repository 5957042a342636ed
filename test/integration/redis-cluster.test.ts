import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { createVerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { waitUntil } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { redisServerAvailable, startLocalCluster, type LocalCluster } from '../harness/redis-cluster.js';

describe.skipIf(!redisServerAvailable())('the fleet on a Redis Cluster, unchanged', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await startLocalCluster();
  }, 30_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('scans jobs and delivers one verdict each through the default hash-tagged prefix', async () => {
    const config = loadConfig({ ABUSE_SCAN_UNFURL: 'off' }, { redisUrl: cluster.url });
    const logger = createLogger('silent');
    const connection = createRedis(config.redisUrl);
    const pipeline = await createScanPipeline(config, { logger, connection });
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
    await worker.run();
    const client = createScanClient({ connection: cluster.url });
    const consumed: string[] = [];
    const consumer = createVerdictConsumer({ connection: cluster.url, group: 'test', blockMs: 100, handler: async (v) => void consumed.push(v.jobId) });
    await consumer.start();

    const enqueued = await client.enqueueBulk(Array.from({ length: 200 }, (_, i) => ({ job: mixedJob(i) })));
    expect(await waitUntil(async () => consumed.length >= 200, 30_000, 50)).toBe(true);
    expect(new Set(consumed)).toEqual(new Set(enqueued.map((e) => e.jobId)));
    expect((await client.waitForVerdict(enqueued[3]!.jobId, { timeoutMs: 1000 })).items).toHaveLength(3);

    await consumer.close();
    await worker.shutdown();
    await pipeline.close();
    await client.close();
    await connection.quit();
  }, 60_000);
});
