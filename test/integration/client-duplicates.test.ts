import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { suiteRedis } from '../harness/redis.js';

const image = { bytesBase64: SMALL_PNG_BASE64 };

describe('a repeated enqueue of the same content, whichever scan queue it routes to', () => {
  const { prefix, redis } = suiteRedis('duplicates');
  const client = createScanClient({ connection: redis, prefix });
  const queues = { links: new Queue('links', { connection: redis, prefix }), images: new Queue('images', { connection: redis, prefix }) };
  const jobsIn = async (queue: Queue) => queue.getJobCountByTypes('wait', 'prioritized', 'delayed', 'active', 'completed', 'failed');

  afterAll(async () => {
    await client.close();
    await queues.links.close();
    await queues.images.close();
  });

  it('adds no second job: the content enqueued again with an image added is the links job already there', async () => {
    const first = await client.enqueue({ contentId: 'post-7', surface: 'send', tenant: 'acme', items: ['https://a.example/'] });
    expect(first).toMatchObject({ queue: 'links', duplicate: false });
    const edited = await client.enqueue({ contentId: 'post-7', surface: 'send', tenant: 'acme', items: ['https://a.example/', image] });
    expect(edited).toEqual({ jobId: first.jobId, queue: 'links', duplicate: true });
    expect(await client.enqueue({ contentId: 'post-7', surface: 'send', tenant: 'acme', items: ['https://b.example/'] }, { priority: 1 })).toEqual({ ...edited });
    expect(await queues.images.getJob(first.jobId)).toBeUndefined();
    expect(await jobsIn(queues.links)).toBe(1);
    expect(await jobsIn(queues.images)).toBe(0);
  });

  it('an image job first: a links-only repeat is that images job', async () => {
    const first = await client.enqueue({ contentId: 'post-8', surface: 'upload', items: [image] });
    expect(await client.enqueue({ contentId: 'post-8', surface: 'upload', items: ['https://a.example/'] })).toEqual({ jobId: first.jobId, queue: 'images', duplicate: true });
    expect(await queues.links.getJob(first.jobId)).toBeUndefined();
  });

  it('enqueueBulk too: within the bulk (the first entry wins) and against the queues', async () => {
    const enqueued = await client.enqueueBulk([
      { job: { contentId: 'post-9', surface: 'send', items: ['https://a.example/'] } },
      { job: { contentId: 'post-9', surface: 'send', items: [image] } },
      { job: { contentId: 'post-8', surface: 'upload', items: ['https://a.example/'] } },
      { job: { contentId: 'post-10', surface: 'send', items: [image] }, options: { jobId: 'rescan-10' } },
    ]);
    expect(enqueued.map(({ queue, duplicate }) => ({ queue, duplicate }))).toEqual([
      { queue: 'links', duplicate: false },
      { queue: 'links', duplicate: true },
      { queue: 'images', duplicate: true },
      { queue: 'images', duplicate: false },
    ]);
    expect(enqueued[1]!.jobId).toBe(enqueued[0]!.jobId);
    expect(await queues.images.getJob(enqueued[0]!.jobId)).toBeUndefined();
    expect(await jobsIn(queues.links)).toBe(2);
    expect(await jobsIn(queues.images)).toBe(2);
  });
});
