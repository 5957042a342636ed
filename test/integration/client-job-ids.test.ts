import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

const linkJob = { contentId: 'job-ids-link', surface: 'send', items: ['https://a.example/'] };
const imageJob = { contentId: 'job-ids-image', surface: 'upload', items: [{ bytesBase64: SMALL_PNG_BASE64 }] };

describe('explicit job ids', () => {
  const prefix = uniquePrefix('job-ids');
  const redis = testRedis();
  const links = new Queue('links', { connection: redis, prefix });
  let client: ScanClient;

  beforeAll(() => {
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  });

  afterAll(async () => {
    await client?.close();
    await links.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it.each([
    ['empty (BullMQ would number it, and dedup and waitForVerdict would be lost)', ''],
    ['an integer (BullMQ refuses it)', '12345'],
    ['a negative integer (BullMQ refuses it)', '-7'],
    ["with ':' (BullMQ refuses it)", 'msg:1'],
    ['with a newline (verdict announcements are newline-separated)', 'a\nb'],
    ['with a space', 'a b'],
    ['too long', 'x'.repeat(257)],
  ])('are refused with invalid_job before reaching Redis: %s', async (_name, jobId) => {
    const error = await client.enqueue(linkJob, { jobId }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job', message: expect.stringContaining('jobId') });
  });

  it('enqueueBulk enqueues nothing when one job id is invalid, whichever queue it is for', async () => {
    const error = await client.enqueueBulk([{ job: linkJob }, { job: imageJob, options: { jobId: 'msg:2' } }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job' });
    expect(await links.getJobCountByTypes('wait', 'prioritized', 'delayed', 'active', 'completed', 'failed')).toBe(0);
  });

  it('a valid one is used as given', async () => {
    expect(await client.enqueue(linkJob, { jobId: 'rescan-42' })).toEqual({ jobId: 'rescan-42', queue: 'links', duplicate: false });
    expect((await links.getJob('rescan-42'))?.data.contentId).toBe('job-ids-link');
  });
});
