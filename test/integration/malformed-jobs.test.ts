import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { SCAN_JOB_NAME } from '../../src/queues/scan-queue.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { testRedis, uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

const oversized = { bytesBase64: Buffer.alloc(5 * 1024 * 1024 + 10).toString('base64') };

const MALFORMED: Array<[string, unknown, RegExp]> = [
  ['missing fields', { surface: 'upload' }, /^invalid_job$/],
  ['wrong types', { contentId: 7, surface: ['x'], items: 'https://x.example/' }, /^invalid_job$/],
  ['oversized inline bytes', { contentId: 'big', surface: 'upload', items: [oversized] }, /^payload_too_large$/],
  ['path outside the root', { contentId: 'p', surface: 'upload', items: [{ path: '../../etc/passwd' }] }, /^path_outside_root$/],
  ['not even an object', 'DROP TABLE jobs', /^invalid_job$/],
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
    const error = await client.enqueue(job as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ScanError', code: expect.stringMatching(code) });
    expect((error as Error).message.length).toBeGreaterThan(10);
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
    }
    // Still serving: a good job after the bad ones gets its verdict.
    const { jobId } = await client.enqueue({ contentId: 'after-bad', surface: 'send', items: ['https://fine.example/'] });
    expect((await client.waitForVerdict(jobId, { timeoutMs: 10_000 })).decision).toBe('allow');
    expect(worker.worker.running).toBe(true);
    await queue.close();
    await connection.quit();
  });
});
