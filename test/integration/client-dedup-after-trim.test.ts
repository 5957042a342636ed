import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { suiteRedis } from '../harness/redis.js';

const image = { bytesBase64: SMALL_PNG_BASE64 };
const STATES = ['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

/**
 * Completed scan jobs are kept for retentionSeconds but at most 100,000 per queue (Redis memory):
 * a busy fleet trims a job within seconds. The dedup must outlive the trim: the job's stored
 * verdict (kept ABUSE_SCAN_VERDICT_RETENTION_S) still makes a repeated enqueue a duplicate.
 */
describe('contentId dedup once the completed job was trimmed, its verdict still kept', () => {
  const { prefix, redis } = suiteRedis('dedup-trim');
  const queues = { links: new Queue('links', { connection: redis, prefix }), images: new Queue('images', { connection: redis, prefix }) };
  const jobsIn = async (queue: Queue) => queue.getJobCountByTypes(...STATES);
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

  /** Enqueues, waits for the verdict and for the job to complete, then removes the job as BullMQ's count trim does. */
  async function scannedAndTrimmed(job: Parameters<ScanClient['enqueue']>[0], options?: Parameters<ScanClient['enqueue']>[1]) {
    const first = await client.enqueue(job, options);
    expect(first.duplicate).toBe(false);
    await client.waitForVerdict(first.jobId, { timeoutMs: 15_000 });
    const queue = queues[first.queue];
    expect(await waitUntil(async () => (await queue.getJobState(first.jobId)) === 'completed', 10_000, 50)).toBe(true);
    // The count trim of removeOnComplete: the job hash and its completed-set entry go.
    await queue.remove(first.jobId);
    expect(await redis.exists(queue.toKey(first.jobId))).toBe(0);
    expect(await jobsIn(queue)).toBe(0);
    expect(await redis.exists(verdictKeys(prefix).verdict(first.jobId))).toBe(1);
    return first;
  }

  /** No job added anywhere, and still the one verdict once a worker would have taken a new job. */
  async function expectNothingAdded(jobId: string) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await jobsIn(queues.links)).toBe(0);
    expect(await jobsIn(queues.images)).toBe(0);
    expect((await verdictJobIds(prefix)).filter((id) => id === jobId)).toHaveLength(1);
  }

  it('enqueue: the same content again is a duplicate, adds no job and gets no second scan', async () => {
    const job = { contentId: 'trimmed-1', surface: 'send', tenant: 'acme', items: ['https://a.example/'] };
    const first = await scannedAndTrimmed(job);
    expect(await client.enqueue(job)).toEqual({ jobId: first.jobId, queue: 'links', duplicate: true });
    // With an image added it routes to the other queue: still the same content, still a duplicate.
    expect(await client.enqueue({ ...job, items: [...job.items, image] }, { priority: 3 })).toEqual({ jobId: first.jobId, queue: 'images', duplicate: true });
    await expectNothingAdded(first.jobId);
  }, 30_000);

  it('enqueueBulk: against the stored verdict and within the chunk, next to a job that is added', async () => {
    const job = { contentId: 'trimmed-2', surface: 'upload', items: [image] };
    const first = await scannedAndTrimmed(job);
    const enqueued = await client.enqueueBulk([
      { job },
      { job: { ...job, items: ['https://b.example/'] } },
      { job },
      { job: { contentId: 'fresh-2', surface: 'upload', items: ['https://c.example/'] } },
    ]);
    expect(enqueued.map(({ jobId, duplicate }) => ({ jobId, duplicate }))).toEqual([
      { jobId: first.jobId, duplicate: true },
      { jobId: first.jobId, duplicate: true },
      { jobId: first.jobId, duplicate: true },
      { jobId: enqueued[3]!.jobId, duplicate: false },
    ]);
    expect(enqueued[0]!.queue).toBe('images');
    // Later entries of the same jobId in the chunk report what the first one did.
    expect(enqueued[1]!.queue).toBe('images');
    // The new content is scanned; its job is then removed so that only the duplicates could add one.
    const fresh = enqueued[3]!.jobId;
    await client.waitForVerdict(fresh, { timeoutMs: 15_000 });
    expect(await waitUntil(async () => (await queues.links.getJobState(fresh)) === 'completed', 10_000, 50)).toBe(true);
    await queues.links.remove(fresh);
    await expectNothingAdded(first.jobId);
  }, 30_000);

  it('an explicit jobId with a stored verdict is a duplicate too; a fresh one rescans', async () => {
    const job = { contentId: 'trimmed-3', surface: 'send', items: ['https://d.example/'] };
    await scannedAndTrimmed(job, { jobId: 'rescan-3a' });
    expect(await client.enqueue(job, { jobId: 'rescan-3a' })).toEqual({ jobId: 'rescan-3a', queue: 'links', duplicate: true });
    await expectNothingAdded('rescan-3a');
    expect(await client.enqueue(job, { jobId: 'rescan-3b' })).toEqual({ jobId: 'rescan-3b', queue: 'links', duplicate: false });
    expect((await client.waitForVerdict('rescan-3b', { timeoutMs: 15_000 })).contentId).toBe('trimmed-3');
  }, 30_000);
});
