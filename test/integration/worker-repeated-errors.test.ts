import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';

describe('a worker error BullMQ reports on every poll', () => {
  let redis: PrivateRedis;
  beforeAll(async () => void (redis = await startPrivateRedis()));
  afterAll(async () => redis?.stop());

  it('is logged once per queue, then counted, not logged hundreds of times', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', 'repeat-test', new Writable({ write: (chunk, _, done) => void (lines.push(String(chunk)), done()) }));
    const config = loadConfig({}, { redisUrl: redis.url, prefix: uniquePrefix('repeat'), models: 'off', unfurl: 'off', lockDurationMs: 5000, stalledIntervalMs: 2000 });
    const connection = createRedis(redis.url);
    connection.on('error', () => undefined);
    const pipeline = await createScanPipeline(config, { logger, connection });
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
    const admin = redis.admin();
    try {
      await worker.run();
      // Every blocking poll now fails the same way (NOPERM); BullMQ retries it every 100 ms or so.
      await admin.call('ACL', 'SETUSER', 'default', '-bzpopmin');
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const workerErrors = lines.filter((line) => line.includes('"msg":"worker error'));
      expect(workerErrors.length).toBeGreaterThanOrEqual(1);
      expect(workerErrors.length).toBeLessThanOrEqual(2); // one per queue (links, images)
      await admin.call('ACL', 'SETUSER', 'default', '+bzpopmin');
      await worker.shutdown();
      // Shutdown logs what was counted and not logged yet.
      expect(lines.filter((line) => /"msg":"worker error \(repeated \d+ times/.test(line)).length).toBeGreaterThanOrEqual(1);
    } finally {
      await worker.shutdown();
      await pipeline.close();
      connection.disconnect();
      admin.disconnect();
    }
  }, 15_000);
});
