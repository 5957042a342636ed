import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { SCAN_JOB_NAME } from '../../src/queues/scan-queue.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { testRedis, uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

const oversized = { bytesBase64: Buffer.alloc(5 * 1024 * 1024 + 10).toString('base64') };
const maximal = { bytesBase64: Buffer.alloc(5 * 1024 * 1024).toString('base64') };
const manyKeys = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`key-${i}`, 'v'.repeat(16)]));

const MALFORMED: Array<[string, unknown, RegExp]> = [
  ['missing fields', { surface: 'upload' }, /^invalid_job$/],
  ['wrong types', { contentId: 7, surface: ['x'], items: 'https://x.example/' }, /^invalid_job$/],
  ['oversized inline bytes', { contentId: 'big', surface: 'upload', items: [oversized] }, /^payload_too_large$/],
  ['path outside the root', { contentId: 'p', surface: 'upload', items: [{ path: '../../etc/passwd' }] }, /^path_outside_root$/],
  ['not even an object', 'DROP TABLE jobs', /^invalid_job$/],
  ['20,000 metadata keys', { contentId: 'meta', surface: 'send', items: ['https://x.example/'], metadata: manyKeys }, /^invalid_job$/],
  ['inline bytes padded with 8 MB of whitespace', { contentId: 'ws', surface: 'upload', items: [{ bytesBase64: `${' '.repeat(8_000_000)}aGVsbG8=` }] }, /^payload_too_large$/],
  ['inline bytes of whitespace ending in a bad character', { contentId: 'ws-bad', surface: 'upload', items: [{ bytesBase64: `${' '.repeat(200_000)}!` }] }, /^invalid_job$/],
  ['a job over 32 MiB serialized (five maximal inline images)', { contentId: 'huge', surface: 'upload', items: [maximal, maximal, maximal, maximal, maximal] }, /^payload_too_large$/],
];

describe('malformed jobs', () => {
  const prefix = uniquePrefix('malformed');
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;

  beforeAll(async () => {
    client = createScanClient({ connection: TEST_REDIS_URL, prefix, imageRoot: '/srv/images' });
    worker = await startInProcessWorker(prefix, { imageRoot: '/srv/images' });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await removeTestKeys(prefix);
  });

  it.each(MALFORMED)('are refused by the client: %s', async (_name, job, code) => {
    const started = Date.now();
    const error = await client.enqueue(job as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: expect.stringMatching(code) });
    expect((error as Error).message.length).toBeGreaterThan(10);
    expect((error as Error).message.length).toBeLessThan(4000);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a blank ABUSE_SCAN_IMAGE_ROOT is no image root for the client, as for workers', async () => {
    const saved = process.env.ABUSE_SCAN_IMAGE_ROOT;
    process.env.ABUSE_SCAN_IMAGE_ROOT = ' ';
    const blankRoot = createScanClient({ connection: TEST_REDIS_URL, prefix });
    try {
      await expect(blankRoot.enqueue({ contentId: 'blank-root', surface: 'upload', items: [{ path: 'a.jpg' }] })).rejects.toMatchObject({ code: 'path_outside_root' });
    } finally {
      if (saved === undefined) delete process.env.ABUSE_SCAN_IMAGE_ROOT;
      else process.env.ABUSE_SCAN_IMAGE_ROOT = saved;
      await blankRoot.close();
    }
  });

  it('enqueueBulk enqueues nothing when one job is invalid', async () => {
    const good = { contentId: 'bulk-good', surface: 'upload', items: ['https://ok.example/'] };
    await expect(client.enqueueBulk([{ job: good }, { job: { contentId: 'bulk-bad' } as never }])).rejects.toMatchObject({ code: 'invalid_job' });
    expect(await client.getVerdict('bulk-good')).toBeUndefined();
  });

  it('injected raw into the queue, each gets an error verdict and the worker keeps going', async () => {
    const connection = testRedis();
    const queue = new Queue('links', { connection, prefix });
    for (const [index, [, job]] of MALFORMED.entries()) {
      await queue.add(SCAN_JOB_NAME, job, { jobId: `raw-${index}`, attempts: 3 });
    }
    for (const [index, [, , code]] of MALFORMED.entries()) {
      const verdict = await client.waitForVerdict(`raw-${index}`, { timeoutMs: 10_000 });
      expect(verdict.decision).toBe('review');
      expect(verdict.errors).toHaveLength(1);
      expect(verdict.errors[0]!.code).toMatch(code);
      // Permanent input errors are not retried.
      expect(verdict.attempt).toBe(1);
      // Bounded, whatever the job held (metadata is echoed, bounded, in error verdicts too).
      expect(JSON.stringify(verdict).length).toBeLessThan(200_000);
    }
    // Still serving: a good job after the bad ones gets its verdict.
    const { jobId } = await client.enqueue({ contentId: 'after-bad', surface: 'send', items: ['https://fine.example/'] });
    expect((await client.waitForVerdict(jobId, { timeoutMs: 10_000 })).decision).toBe('allow');
    expect(worker.worker.running).toBe(true);
    await queue.close();
    await connection.quit();
  });

  it('whose stored data is not JSON (a hash written by hand, NaN from a lax encoder): an invalid_job verdict, not a job active forever', async () => {
    const connection = testRedis();
    const queue = new Queue('links', { connection, prefix });
    try {
      // Delayed, so that its data can be spoiled before a worker takes it.
      await queue.add(SCAN_JOB_NAME, {}, { jobId: 'raw-not-json', delay: 500 });
      await connection.hset(`${prefix}:links:raw-not-json`, 'data', '{"contentId": NaN');
      const verdict = await client.waitForVerdict('raw-not-json', { timeoutMs: 15_000 });
      expect(verdict.errors.map((error) => error.code)).toEqual(['invalid_job']);
      expect(verdict.attempt).toBe(1);
      expect(await queue.getJobState('raw-not-json')).toBe('completed');
      expect((await queue.getJobCounts('active')).active).toBe(0);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });
});
