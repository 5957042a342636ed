import { Queue, Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { suiteRedis, testRedis } from '../harness/redis.js';

const image = { bytesBase64: SMALL_PNG_BASE64 };
const STATES = ['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
type Input = Parameters<ScanClient['enqueue']>[0];

/**
 * Workers keep a verdict ABUSE_SCAN_VERDICT_RETENTION_S (or Redis evicts it), the client keeps a
 * completed job retentionSeconds: when the verdict goes first, the same content enqueued again
 * must be scanned again, not reported a duplicate of a job that will never give a verdict.
 */
describe('contentId dedup once the verdict of a completed job is gone', () => {
  const { prefix, redis } = suiteRedis('dedup-verdict-expiry');
  const queues = { links: new Queue('links', { connection: redis, prefix }), images: new Queue('images', { connection: redis, prefix }) };
  const verdictKey = (jobId: string) => verdictKeys(prefix).verdict(jobId);
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;

  beforeAll(async () => {
    client = createScanClient({ connection: redis, prefix });
    worker = await startInProcessWorker(prefix, { unfurl: 'off', models: 'off' });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await queues.links.close();
    await queues.images.close();
  });

  async function completed(queue: Queue, jobId: string) {
    expect(await waitUntil(async () => (await queue.getJobState(jobId)) === 'completed', 10_000, 50)).toBe(true);
  }

  /** Enqueues, waits for the verdict and the job's completion; `expire` then lets the verdict key expire (its TTL run out). */
  async function scanned(job: Input, options?: Parameters<ScanClient['enqueue']>[1], expire = true) {
    const first = await client.enqueue(job, options);
    expect(first.duplicate).toBe(false);
    await client.waitForVerdict(first.jobId, { timeoutMs: 15_000 });
    await completed(queues[first.queue], first.jobId);
    if (expire) {
      await redis.pexpire(verdictKey(first.jobId), 1);
      expect(await waitUntil(async () => (await redis.exists(verdictKey(first.jobId))) === 0, 2_000, 10)).toBe(true);
      expect(await client.getVerdict(first.jobId)).toBeUndefined();
    }
    return first;
  }

  it('enqueue: the same content is added again, scanned, and gets a verdict', async () => {
    const job = { contentId: 'expired-1', surface: 'send', tenant: 'acme', items: ['https://a.example/'] };
    const first = await scanned(job);
    expect(await client.enqueue(job)).toEqual({ jobId: first.jobId, queue: 'links', duplicate: false });
    expect((await client.waitForVerdict(first.jobId, { timeoutMs: 15_000 })).contentId).toBe('expired-1');
    await completed(queues.links, first.jobId);
    // One job (the new one), two verdicts announced over time: one per scan.
    expect(await queues.links.getJobCountByTypes(...STATES)).toBe(1);
    expect((await verdictJobIds(prefix)).filter((id) => id === first.jobId)).toHaveLength(2);
    // Its verdict is stored again: a duplicate from now on.
    expect(await client.enqueue(job)).toEqual({ jobId: first.jobId, queue: 'links', duplicate: true });
  }, 40_000);

  it('an evicted verdict too, and the content now routed to the other queue replaces the job there', async () => {
    const job = { contentId: 'expired-2', surface: 'send', items: ['https://b.example/'] };
    const first = await scanned(job, undefined, false);
    await redis.del(verdictKey(first.jobId)); // as maxmemory eviction would
    expect(await client.enqueue({ ...job, items: [image] })).toEqual({ jobId: first.jobId, queue: 'images', duplicate: false });
    expect(await redis.exists(queues.links.toKey(first.jobId))).toBe(0);
    expect(await queues.links.getJobCountByTypes(...STATES)).toBe(1); // expired-1's
    await client.waitForVerdict(first.jobId, { timeoutMs: 15_000 });
    await completed(queues.images, first.jobId);
  }, 40_000);

  it('a completed job with its verdict still stored stays a duplicate, in either queue', async () => {
    const job = { contentId: 'kept-3', surface: 'upload', items: [image] };
    const first = await scanned(job, undefined, false);
    expect(await client.enqueue(job)).toEqual({ jobId: first.jobId, queue: 'images', duplicate: true });
    expect(await client.enqueue({ ...job, items: ['https://c.example/'] })).toEqual({ jobId: first.jobId, queue: 'images', duplicate: true });
    expect(await queues.images.getJobState(first.jobId)).toBe('completed');
    expect(await redis.exists(queues.links.toKey(first.jobId))).toBe(0);
    expect((await verdictJobIds(prefix)).filter((id) => id === first.jobId)).toHaveLength(1);
  }, 40_000);

  it('enqueueBulk: replaced once within a chunk, next to a duplicate and an explicit jobId', async () => {
    const stale = { contentId: 'expired-4', surface: 'send', items: ['https://d.example/'] };
    const kept = { contentId: 'kept-4', surface: 'send', items: ['https://e.example/'] };
    const first = await scanned(stale);
    const keptJob = await scanned(kept, undefined, false);
    await scanned({ contentId: 'explicit-4', surface: 'send', items: ['https://f.example/'] }, { jobId: 'rescan-4' });
    const enqueued = await client.enqueueBulk([
      { job: stale },
      { job: { ...stale, items: [image] } },
      { job: kept },
      { job: { contentId: 'explicit-4', surface: 'send', items: ['https://f.example/'] }, options: { jobId: 'rescan-4' } },
    ]);
    expect(enqueued).toEqual([
      { jobId: first.jobId, queue: 'links', duplicate: false },
      { jobId: first.jobId, queue: 'links', duplicate: true },
      { jobId: keptJob.jobId, queue: 'links', duplicate: true },
      { jobId: 'rescan-4', queue: 'links', duplicate: false },
    ]);
    await client.waitForVerdict(first.jobId, { timeoutMs: 15_000 });
    await client.waitForVerdict('rescan-4', { timeoutMs: 15_000 });
    expect(await redis.exists(queues.images.toKey(first.jobId))).toBe(0);
    expect((await verdictJobIds(prefix)).filter((id) => id === keptJob.jobId)).toHaveLength(1);
  }, 40_000);
});

/**
 * Without a verdict, a job in any state but completed is still the one to give it: waiting,
 * active or delayed it runs, failed the workers' failed-job sweep owes it one.
 */
describe('contentId dedup of jobs without a verdict that are not completed', () => {
  const { prefix, redis } = suiteRedis('dedup-no-verdict');
  const client = createScanClient({ connection: redis, prefix, attempts: 2, backoffMs: 600_000 });
  const queue = new Queue('links', { connection: redis, prefix });
  const connection = testRedis();
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  // A bare BullMQ worker: it never stores a verdict, so each job stays verdictless in its state.
  const bare = new Worker(
    'links',
    async (job: Job<{ contentId: string }>) => {
      if (job.data.contentId.startsWith('hold')) return held;
      throw new Error('fails');
    },
    { connection, prefix, autorun: false, concurrency: 5 },
  );

  afterAll(async () => {
    release();
    await bare.close();
    await client.close();
    await queue.close();
    await connection.quit();
  });

  const job = (contentId: string) => ({ contentId, surface: 'send', items: ['https://a.example/'] });

  it('waiting', async () => {
    const first = await client.enqueue(job('waiting-1'));
    expect(await client.enqueue(job('waiting-1'))).toEqual({ ...first, duplicate: true });
    expect(await queue.getJobState(first.jobId)).toBe('waiting');
  });

  it('active, delayed (to be retried) and failed for good', async () => {
    const active = await client.enqueue(job('hold-2'));
    const delayed = await client.enqueue(job('delayed-2'));
    const failed = await client.enqueue(job('failed-2'), { jobId: 'failed-2' });
    // The last attempt of failed-2 at once: only its job fails for good.
    await redis.hset(queue.toKey('failed-2'), 'atm', 1);
    void bare.run();
    const states = async () => Promise.all([active, delayed, failed].map((j) => queue.getJobState(j.jobId)));
    expect(await waitUntil(async () => (await states()).join() === 'active,delayed,failed', 10_000, 50)).toBe(true);
    const again = await client.enqueueBulk([{ job: job('hold-2') }, { job: job('delayed-2') }, { job: job('failed-2'), options: { jobId: 'failed-2' } }]);
    expect(again).toEqual([active, delayed, failed].map((j) => ({ ...j, duplicate: true })));
    expect(await client.enqueue(job('hold-2'))).toEqual({ ...active, duplicate: true });
    expect(await states()).toEqual(['active', 'delayed', 'failed']);
  }, 20_000);
});
