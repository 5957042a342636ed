import { FlowProducer, Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { SCAN_JOB_NAME } from '../../src/queues/scan-queue.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { suiteRedis, testRedis } from '../harness/redis.js';

const image = { bytesBase64: SMALL_PNG_BASE64 };
type Input = Parameters<ScanClient['enqueue']>[0];

/** The client's retentionSeconds here: its dedup window, and 7 x it BullMQ's removeOnFail age. */
const RETENTION_S = 2;

/**
 * A job that failed for good is owed its verdict by the workers' failed-job sweep, but only within
 * the sweep's window (the verdict retention), while BullMQ keeps the job 7 x the client's
 * retentionSeconds: once its verdict is gone (expired, evicted, or never given), a failed job older
 * than the client's dedup window must be replaced and scanned again, not reported a duplicate that
 * no verdict will ever come for. One failed within the window stays a duplicate.
 */
describe('contentId dedup of a job failed for good once its verdict is gone', () => {
  const { prefix, redis } = suiteRedis('dedup-failed-expiry');
  const queues = { links: new Queue('links', { connection: redis, prefix }), images: new Queue('images', { connection: redis, prefix }) };
  const verdictKey = (jobId: string) => verdictKeys(prefix).verdict(jobId);
  // One attempt: a job whose processor throws fails for good.
  const client = createScanClient({ connection: redis, prefix, attempts: 1, retentionSeconds: RETENTION_S });
  // The default dedup window (a day): the same failed jobs are within it.
  const dayClient = createScanClient({ connection: redis, prefix, attempts: 1 });
  const job = (contentId: string, items: Input['items'] = [`https://${contentId}.example/`]): Input => ({ contentId, surface: 'send', items });
  const jobs = {
    replaced: job('replaced-1'),
    other: job('other-queue-2'),
    bulk: job('bulk-3'),
    day: job('day-window-4'),
    kept: job('verdict-kept-5'),
  };
  const ids: Record<keyof typeof jobs, string> = { replaced: '', other: '', bulk: '', day: '', kept: '' };
  const flowChild = 'flow-child-6';
  let worker: Awaited<ReturnType<typeof startInProcessWorker>> | undefined;

  beforeAll(async () => {
    // A bare BullMQ worker whose processor throws a permanent-looking error on the jobs' only attempt.
    const connection = testRedis();
    const failing = new Worker('links', async () => {
      throw new Error('permanent: malformed payload');
    }, { connection, prefix });
    const enqueued = await client.enqueueBulk(Object.values(jobs).map((j) => ({ job: j })));
    for (const [index, key] of (Object.keys(jobs) as Array<keyof typeof jobs>).entries()) ids[key] = enqueued[index]!.jobId;
    // A child of a flow, failed too: its parent's bookkeeping is BullMQ's, so it is never replaced.
    const flows = new FlowProducer({ connection, prefix });
    await flows.add({
      name: 'parent',
      queueName: 'parents',
      children: [{ name: SCAN_JOB_NAME, queueName: 'links', data: job('flow-6'), opts: { jobId: flowChild, attempts: 1 } }],
    });
    expect(await waitUntil(async () => (await queues.links.getFailedCount()) === 6, 10_000, 50)).toBe(true);
    await failing.close();
    await flows.close();
    await connection.quit();
    // The workers' sweep gives each its verdict; the worker then goes (as if down past its window).
    worker = await startInProcessWorker(prefix, { unfurl: 'off', models: 'off', verdictRetentionSeconds: 60, stalledIntervalMs: 300 });
    for (const jobId of [...Object.values(ids), flowChild]) {
      expect(await client.waitForVerdict(jobId, { timeoutMs: 10_000 })).toMatchObject({ errors: [{ code: 'retries_exhausted' }] });
    }
    await worker.stop();
    worker = undefined;
    // Their verdicts expire (but one's), and the failures fall out of the short client's window.
    for (const jobId of [ids.replaced, ids.other, ids.bulk, ids.day, flowChild]) await redis.del(verdictKey(jobId));
    const finishedOn = Math.max(...(await queues.links.getFailed()).map((j) => j.finishedOn ?? Infinity));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, finishedOn + RETENTION_S * 1000 + 200 - Date.now())));
  }, 40_000);

  afterAll(async () => {
    await worker?.stop();
    await client.close();
    await dayClient.close();
    await queues.links.close();
    await queues.images.close();
  });

  it('past the window: replaced (duplicate: false), then a duplicate of the new job', async () => {
    expect(await client.enqueue(jobs.replaced)).toEqual({ jobId: ids.replaced, queue: 'links', duplicate: false });
    expect(await queues.links.getJobState(ids.replaced)).toBe('waiting');
    expect(await client.enqueue(jobs.replaced)).toEqual({ jobId: ids.replaced, queue: 'links', duplicate: true });
    // Routed to the other queue now: the failed job there goes, the new one is added here.
    expect(await client.enqueue({ ...jobs.other, items: [image] })).toEqual({ jobId: ids.other, queue: 'images', duplicate: false });
    expect(await redis.exists(queues.links.toKey(ids.other))).toBe(0);
    expect(await redis.zscore(queues.links.toKey('failed'), ids.other)).toBeNull();
  });

  it('enqueueBulk: replaced once within a chunk', async () => {
    expect(await client.enqueueBulk([{ job: jobs.bulk }, { job: { ...jobs.bulk, items: [image] } }])).toEqual([
      { jobId: ids.bulk, queue: 'links', duplicate: false },
      { jobId: ids.bulk, queue: 'links', duplicate: true },
    ]);
  });

  it('within the window, with its verdict still stored, or a child of a flow: still a duplicate, still failed', async () => {
    expect(await dayClient.enqueue(jobs.day)).toEqual({ jobId: ids.day, queue: 'links', duplicate: true });
    expect(await client.enqueue(jobs.kept)).toEqual({ jobId: ids.kept, queue: 'links', duplicate: true });
    expect(await client.enqueue(job('flow-6'), { jobId: flowChild })).toEqual({ jobId: flowChild, queue: 'links', duplicate: true });
    for (const jobId of [ids.day, ids.kept, flowChild]) expect(await queues.links.getJobState(jobId)).toBe('failed');
  });

  it('the replacing jobs are scanned and each gets a new verdict', async () => {
    worker = await startInProcessWorker(prefix, { unfurl: 'off', models: 'off', verdictRetentionSeconds: 60, stalledIntervalMs: 300 });
    for (const [jobId, queue] of [[ids.replaced, queues.links], [ids.other, queues.images], [ids.bulk, queues.links]] as const) {
      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
      expect(verdict.errors.map((e) => e.code)).not.toContain('retries_exhausted');
      expect(await waitUntil(async () => (await queue.getJobState(jobId)) === 'completed', 10_000, 50)).toBe(true);
      // Two verdicts announced over time: the failed job's, then the new scan's.
      expect((await verdictJobIds(prefix)).filter((id) => id === jobId)).toHaveLength(2);
    }
    expect((await queues.links.getFailed()).map((j) => j.id).sort()).toEqual([ids.day, ids.kept, flowChild].sort());
  }, 40_000);
});
