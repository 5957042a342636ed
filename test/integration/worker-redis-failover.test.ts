import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { waitUntil } from '../harness/fleet.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';
import { redisProxy, type RedisProxy } from '../harness/redis-proxy.js';

describe('a worker whose Redis is demoted to a replica (failover behind one address)', () => {
  const prefix = uniquePrefix('failover');
  let oldPrimary: PrivateRedis;
  let newPrimary: PrivateRedis;
  let proxy: RedisProxy;

  beforeAll(async () => {
    [oldPrimary, newPrimary] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
    // A failover behind a stable address: new connections reach the current primary, those made
    // before stay on the old one, now a replica.
    proxy = await redisProxy({ targetPort: oldPrimary.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([oldPrimary?.stop(), newPrimary?.stop()]);
  });

  it('reconnects to the new primary, takes the jobs enqueued there, and logs a repeating worker error once', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', 'failover-test', new Writable({ write: (chunk, _, done) => void (lines.push(String(chunk)), done()) }));
    const config = loadConfig({}, { redisUrl: proxy.url, prefix, models: 'off', unfurl: 'off', lockDurationMs: 5000, stalledIntervalMs: 2000 });
    const connection = createRedis(proxy.url);
    connection.on('error', () => undefined);
    const pipeline = await createScanPipeline(config, { logger, connection });
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
    // Clients of the worker's kind, connected before the failover, for the resend checks below.
    const [transactions, counter] = [createRedis(proxy.url), createRedis(proxy.url)];
    for (const redis of [transactions, counter]) redis.on('error', () => undefined);
    const admin = oldPrimary.admin();
    const promoted = newPrimary.admin();
    const client = createScanClient({ connection: newPrimary.url, prefix });
    try {
      await worker.run();
      await Promise.all([transactions.ping(), counter.ping()]);

      // Failover: the old primary follows the new one; for a while its address still leads to it.
      await admin.replicaof('127.0.0.1', String(newPrimary.port));
      // Should the link not come up, the test fails here and its clean-up hangs: BullMQ's close
      // waits on commands the replica refuses over and over (the shutdown deadline bounds that in
      // a real worker). The sync starts at once (startPrivateRedis) and the wait is generous.
      expect(await waitUntil(async () => (await admin.info('replication')).includes('master_link_status:up'), 15_000, 50)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      proxy.pointAt(newPrimary.port);

      const { jobId } = await client.enqueue({ contentId: 'failover-1', surface: 'send', items: ['https://failover.example/'] });
      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 20_000 }); // generous: CI runs test files side by side
      expect(verdict.jobId).toBe(jobId);

      // A transaction refused by the replica is not half-applied by the resend: ioredis aborts it whole.
      await expect(transactions.multi().set(`${prefix}:tx-a`, '1').set(`${prefix}:tx-b`, '2').exec()).rejects.toThrow();
      // A single refused command is sent again once reconnected, and lands on the new primary once.
      expect(await counter.incr(`${prefix}:counter`)).toBe(1);
      await transactions.ping(); // reconnected, with nothing of the transaction sent again
      expect(await promoted.exists(`${prefix}:tx-a`, `${prefix}:tx-b`)).toBe(0);
      expect(await promoted.get(`${prefix}:counter`)).toBe('1');
      const workerErrors = lines.filter((line) => line.includes('"msg":"worker error'));
      // At most the first of each distinct error per queue; the repeats are counted, not logged.
      expect(workerErrors.length).toBeLessThanOrEqual(6);
    } finally {
      await client.close();
      await worker.shutdown();
      await pipeline.close();
      connection.disconnect();
      transactions.disconnect();
      counter.disconnect();
      admin.disconnect();
      promoted.disconnect();
    }
  }, 45_000);
});
