import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { DEFAULT_JOB_LIMITS } from '../../src/jobs/limits.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { SCAN_JOB_NAME } from '../../src/queues/scan-queue.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

describe('job limits set for the fleet', () => {
  const prefix = uniquePrefix('job-limits');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('let workers scan the larger jobs that producers were allowed to enqueue', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, limits: { ...DEFAULT_JOB_LIMITS, maxItems: 200 } });
    const fleet = await startInProcessWorker(prefix, { maxItems: 200, unfurl: 'off' });
    const items = Array.from({ length: 150 }, (_, i) => `https://many.example/item/${i}`);
    const { jobId } = await client.enqueue({ contentId: 'a-long-thread', surface: 'send', items });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict.errors).toEqual([]);
    expect(verdict.items).toHaveLength(150);
    expect(verdict.decision).toBe('allow');
    await fleet.stop();
    await client.close();
  }, 30_000);

  it('workers enforce the metadata limits they are set to, the client the ones it is given', async () => {
    const limits = { ...DEFAULT_JOB_LIMITS, maxMetadataKeys: 100, maxMetadataBytes: 4096 };
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, limits });
    const fleet = await startInProcessWorker(prefix, { maxMetadataKeys: 100, maxMetadataBytes: 4096, unfurl: 'off' });
    const metadata = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, 'v']));
    const { jobId } = await client.enqueue({ contentId: 'many-keys', surface: 'send', items: ['https://a.example/'], metadata });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict.errors).toEqual([]);
    expect(verdict.metadata).toEqual(metadata);
    await expect(client.enqueue({ contentId: 'too-many', surface: 'send', items: ['https://a.example/'], metadata: { ...metadata, ...Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x${i}`, 'v'])) } })).rejects.toMatchObject({ code: 'invalid_job' });
    // Injected raw past the client: the worker's own limit applies.
    const connection = testRedis();
    const queue = new Queue('links', { connection, prefix });
    await queue.add(SCAN_JOB_NAME, { contentId: 'raw-meta', surface: 'send', items: ['https://a.example/'], metadata: { big: 'v'.repeat(1000), ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`b${i}`, 'v'.repeat(1000)])) } }, { jobId: 'raw-meta' });
    const refused = await client.waitForVerdict('raw-meta', { timeoutMs: 15_000 });
    expect(refused.errors).toMatchObject([{ code: 'invalid_job', message: expect.stringMatching(/^metadata: metadata is \d+ bytes .*at most 4096/) }]);
    await queue.close();
    await connection.quit();
    await fleet.stop();
    await client.close();
  }, 30_000);
});
