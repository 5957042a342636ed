import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

const linkJob = (contentId: string) => ({ contentId, surface: 'send', items: ['https://a.example/'] });
const imageJob = (contentId: string) => ({ contentId, surface: 'upload', items: [{ bytesBase64: SMALL_PNG_BASE64 }] });
const STATES = ['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

describe('enqueue priorities and bulk errors', () => {
  const prefix = uniquePrefix('priority');
  const redis = testRedis();
  const links = new Queue('links', { connection: redis, prefix });
  const images = new Queue('images', { connection: redis, prefix });
  let client: ScanClient;
  const jobCount = async () => (await links.getJobCountByTypes(...STATES)) + (await images.getJobCountByTypes(...STATES));

  beforeAll(() => {
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  });

  afterAll(async () => {
    await client?.close();
    await links.close();
    await images.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it.each([1.5, -1, 2_097_152, Number.NaN, Infinity, '3' as unknown as number])('a priority of %s is refused with invalid_job before reaching Redis', async (priority) => {
    const error = await client.enqueue(linkJob('bad-priority'), { priority }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job', message: expect.stringMatching(/^priority: .* must be an integer from 0 to 2097151$/) });
    expect(await jobCount()).toBe(0);
  });

  it('enqueueBulk sends nothing when a later job has a bad priority, and names that job', async () => {
    // The links batch is sent before the images batch: a bad image job must stop the links too.
    const error = await client
      .enqueueBulk([{ job: linkJob('bulk-link') }, { job: imageJob('bulk-image') }, { job: imageJob('bulk-bad'), options: { priority: 2.5 } }])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job', message: expect.stringMatching(/^jobs\[2\]: priority: 2\.5 must be an integer/) });
    expect(await jobCount()).toBe(0);
  });

  it('enqueueBulk names the invalid job of a batch, whatever made it invalid', async () => {
    const error = await client.enqueueBulk([{ job: linkJob('named-ok') }, { job: { contentId: 'named-bad', surface: 'send', items: [] } }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job', message: expect.stringMatching(/^jobs\[1\]: items: a job needs at least one item/), detail: { job: 1 } });
    const tooLarge = await client
      .enqueueBulk([{ job: imageJob('big-ok') }, { job: { contentId: 'big', surface: 'upload', items: [{ bytesBase64: ' '.repeat(8_000_000) }] } }])
      .catch((e: unknown) => e);
    expect(tooLarge).toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/^jobs\[1\]: items\.0\.bytesBase64/) });
    expect(await jobCount()).toBe(0);
  });

  it('priorities 0 to 2097151 are enqueued', async () => {
    await client.enqueueBulk([
      { job: linkJob('p-zero'), options: { priority: 0 } },
      { job: imageJob('p-max'), options: { priority: 2_097_151 } },
    ]);
    const { jobId } = await client.enqueue(linkJob('p-one'), { priority: 1 });
    expect((await links.getJob(jobId))?.opts.priority).toBe(1);
    expect(await jobCount()).toBe(3);
  });
});
