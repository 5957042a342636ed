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
    ["the name of one of BullMQ's keys in the queue: completed (the job's hash would take its place)", 'completed'],
    ["the name of one of BullMQ's keys in the queue: meta", 'meta'],
    ["the name of one of BullMQ's keys in the queue: id", 'id'],
    ['with a lone surrogate (BullMQ wrote its hash under one key, ioredis looked for it under another: no verdict, ever)', 'scan-\uD800'],
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

describe('client options', () => {
  it.each([
    ['commandTimeoutMs', Infinity],
    ['commandTimeoutMs', 2 ** 31],
    ['commandTimeoutMs', Number.NaN],
    ['commandTimeoutMs', 0],
    ['attempts', 0],
    ['attempts', 1.5],
    ['backoffMs', -1],
    ['retentionSeconds', 0],
  ])('refuses %s %s with a RangeError, before any connection is opened', (name, value) => {
    expect(() => createScanClient({ connection: 'redis://127.0.0.1:1', [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});

describe('default job ids', () => {
  it("refuse a tenant holding U+0000, which separates tenant and contentId in the default jobId (tenant 'a' + 'b\\0c' and tenant 'a\\0b' + 'c' would share one)", async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix: uniquePrefix('job-ids-nul') });
    try {
      const error = await client.enqueue({ contentId: 'c', tenant: 'a\u0000b', surface: 'send', items: ['https://a.example/'] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job', message: expect.stringContaining('U+0000') });
    } finally {
      await client.close();
    }
  });

  it.each([
    ['contentId', { contentId: 'photo-\uD83D' }],
    ['contentId', { contentId: 'photo-\uDFFF' }],
    ['tenant', { contentId: 'c', tenant: 'acme\uD800' }],
    ['surface', { contentId: 'c', surface: 'send\uDC00' }],
  ])("refuse a %s holding a lone surrogate, which hashes as U+FFFD ('photo-\\uD83D' and 'photo-\\uFFFD' would share one jobId and one verdict)", async (field, fields) => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix: uniquePrefix('job-ids-surrogate') });
    try {
      const error = await client.enqueue({ surface: 'send', items: ['https://a.example/'], ...fields }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_job', message: expect.stringMatching(new RegExp(`${field}: must be well-formed Unicode`)) });
    } finally {
      await client.close();
    }
  });
});
