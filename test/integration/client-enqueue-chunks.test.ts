import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createScanClient, ENQUEUE_CHUNK } from '../../src/client/scan-client.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { suiteRedis } from '../harness/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('enqueueBulk of many jobs', () => {
  const { prefix, redis } = suiteRedis('enqueue-chunks');
  const queues = { links: new Queue('links', { connection: redis, prefix }), images: new Queue('images', { connection: redis, prefix }) };

  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    await queues.links.close();
    await queues.images.close();
  });

  it('enqueues in chunks, each within its own deadline: a bulk whose whole takes longer than commandTimeoutMs lands and resolves', async () => {
    // Redis takes 0.6 ms more per job added (150,000 jobs took longer than the 5 s default): one
    // addBulk of all 2,500 jobs would take over 1500 ms, past the 1400 ms deadline; a chunk about 800.
    const addBulk = Queue.prototype.addBulk;
    const sizes: number[] = [];
    vi.spyOn(Queue.prototype, 'addBulk').mockImplementation(async function (this: Queue, jobs) {
      sizes.push(jobs.length);
      await sleep(jobs.length * 0.6);
      return addBulk.call(this, jobs);
    });
    const client = createScanClient({ connection: redis, prefix, commandTimeoutMs: 1400 });
    try {
      const links = Array.from({ length: 2500 }, (_, i) => ({ job: { contentId: `bulk-${i}`, surface: 'send', items: [`https://a.example/${i}`] } }));
      const images = Array.from({ length: 3 }, (_, i) => ({ job: { contentId: `bulk-image-${i}`, surface: 'upload', items: [{ bytesBase64: SMALL_PNG_BASE64 }] } }));
      const enqueued = await client.enqueueBulk([...links.slice(0, 1200), ...images, ...links.slice(1200)]);
      expect(enqueued).toHaveLength(2503);
      expect(enqueued[1200]).toMatchObject({ queue: 'images', duplicate: false });
      expect(enqueued.filter((e) => e.queue === 'links' && !e.duplicate)).toHaveLength(2500);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(ENQUEUE_CHUNK);
      expect(await queues.links.getJobCountByTypes('wait')).toBe(2500);
      expect(await queues.images.getJobCountByTypes('wait')).toBe(3);
    } finally {
      await client.close();
    }
  });
});
