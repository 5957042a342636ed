/**
 * Jobs added raw to a scan queue without a jobId get BullMQ's per-queue counter as their id, so
 * the first such job of `links` and of `images` are both "1". Their verdicts go by `links:1` and
 * `images:1` (verdictJobId): each job gets its own, none is dropped as the other's duplicate.
 */
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { SCAN_JOB_NAME } from '../../src/queues/scan-queue.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { FailedJobSweeper } from '../../src/worker/failed-job-sweeper.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

describe('jobs BullMQ numbered itself', () => {
  const prefixes: string[] = [];
  const redis = testRedis();

  afterAll(async () => {
    for (const prefix of prefixes) await removeTestKeys(prefix);
    await redis.quit();
  });

  /** Both scan queues and a client under a fresh prefix; `close()` closes all three. */
  function rawQueues(label: string) {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    const links = new Queue('links', { connection: redis, prefix });
    const images = new Queue('images', { connection: redis, prefix });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const close = async () => {
      await client.close();
      await links.close();
      await images.close();
    };
    return { prefix, links, images, client, close };
  }

  it('each get their own verdict, named by queue and number, though both queues numbered theirs "1"', async () => {
    const { prefix, links, images, client, close } = rawQueues('raw-ids');
    const fleet = await startInProcessWorker(prefix, { unfurl: 'off' });
    try {
      const link = await links.add(SCAN_JOB_NAME, { contentId: 'link-content', surface: 'send', items: ['https://a.example/'] });
      // Refused by validation: its error verdict goes by the same identity.
      const image = await images.add(SCAN_JOB_NAME, { contentId: 'image-content', surface: 'upload', items: [{ bytesBase64: 'not base64!' }] });
      expect([link.id, image.id]).toEqual(['1', '1']);

      const linkVerdict = await client.waitForVerdict('links:1', { timeoutMs: 10_000 });
      const imageVerdict = await client.waitForVerdict('images:1', { timeoutMs: 10_000 });
      expect(linkVerdict).toMatchObject({ jobId: 'links:1', contentId: 'link-content', decision: 'allow', errors: [] });
      expect(imageVerdict).toMatchObject({ jobId: 'images:1', contentId: 'image-content', decision: 'review', errors: [{ code: 'invalid_job' }] });
      expect(await client.getVerdict('links:1')).toEqual(linkVerdict);
      expect(await client.getVerdict('images:1')).toEqual(imageVerdict);
      expect(await redis.exists(verdictKeys(prefix).verdict('1'))).toBe(0);

      expect(await waitUntil(async () => (await links.getJobState('1')) === 'completed' && (await images.getJobState('1')) === 'completed', 5000)).toBe(true);
      expect((await verdictJobIds(prefix)).sort()).toEqual(['images:1', 'links:1']);
    } finally {
      await fleet.stop();
      await close();
    }
  }, 30_000);

  it('each get their own error verdict when they failed for good, and the sweep then finds both', async () => {
    const { prefix, links, images, client, close } = rawQueues('raw-ids-failed');
    await links.add(SCAN_JOB_NAME, { contentId: 'failed-link', surface: 'send', items: ['https://a.example/'] });
    await images.add(SCAN_JOB_NAME, { contentId: 'failed-image', surface: 'upload', items: [{ url: 'https://a.example/i.png' }] });
    // Workers fail both jobs for good and die before storing any verdict.
    const connection = testRedis();
    const failing = ['links', 'images'].map((name) => new Worker(name, async () => {
      throw new Error('worker lost its footing');
    }, { connection, prefix }));
    expect(await waitUntil(async () => (await links.getFailedCount()) === 1 && (await images.getFailedCount()) === 1, 10_000)).toBe(true);
    await Promise.all(failing.map((worker) => worker.close()));
    await connection.quit();

    const fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300, unfurl: 'off' });
    try {
      const linkVerdict = await client.waitForVerdict('links:1', { timeoutMs: 10_000 });
      const imageVerdict = await client.waitForVerdict('images:1', { timeoutMs: 10_000 });
      expect(linkVerdict).toMatchObject({ jobId: 'links:1', contentId: 'failed-link', errors: [{ code: 'retries_exhausted' }] });
      expect(imageVerdict).toMatchObject({ jobId: 'images:1', contentId: 'failed-image', errors: [{ code: 'retries_exhausted' }] });

      // The sweep looks their verdicts up by the same identity: nothing is owed any more.
      const store = new VerdictStore(redis, { prefix, retentionSeconds: 600, streamMaxLength: 1000 });
      for (const queue of [links, images]) {
        const owed: string[] = [];
        expect(await new FailedJobSweeper(queue, redis, store, { windowMs: 600_000 }).sweep(async (job) => (owed.push(job.id!), true))).toBe(0);
        expect(owed).toEqual([]);
      }
      expect((await verdictJobIds(prefix)).sort()).toEqual(['images:1', 'links:1']);
    } finally {
      await fleet.stop();
      await close();
    }
  }, 30_000);
});
