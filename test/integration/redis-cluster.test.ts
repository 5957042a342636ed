import { describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { createVerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { waitUntil } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { redisServerAvailable, startClusterWorker, suiteCluster } from '../harness/redis-cluster.js';

describe.skipIf(!redisServerAvailable())('the fleet on a Redis Cluster, unchanged', () => {
  const cluster = suiteCluster();

  it('scans jobs and delivers one verdict each through the default hash-tagged prefix', async () => {
    const fleet = await startClusterWorker(cluster.url, { ABUSE_SCAN_UNFURL: 'off' });
    const client = createScanClient({ connection: cluster.url });
    const consumed: string[] = [];
    const consumer = createVerdictConsumer({ connection: cluster.url, group: 'test', blockMs: 100, handler: async (v) => void consumed.push(v.jobId) });
    await consumer.start();

    const enqueued = await client.enqueueBulk(Array.from({ length: 200 }, (_, i) => ({ job: mixedJob(i) })));
    expect(await waitUntil(async () => consumed.length >= 200, 30_000, 50)).toBe(true);
    expect(new Set(consumed)).toEqual(new Set(enqueued.map((e) => e.jobId)));
    expect((await client.waitForVerdict(enqueued[3]!.jobId, { timeoutMs: 1000 })).items).toHaveLength(3);

    await consumer.close();
    await fleet.stop();
    await client.close();
  }, 60_000);
});
