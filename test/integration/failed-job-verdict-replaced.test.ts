/**
 * A failed-job verdict is bound to the failure it covers: the job in its queue's failed set at the
 * score it failed at. A producer replaces a failed job past its dedup window (retentionSeconds)
 * that has no verdict key with a new job of the same jobId; the failed-job sweep, which read the
 * old failed job just before, then stored the old job's retries_exhausted verdict under that
 * jobId and noted it on the new job's hash: the new job's own verdict came back `duplicate`, and
 * waitForVerdict returned the stale error verdict to a producer told `duplicate: false`.
 */
import { Job, Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { ScanQueueKind } from '../../src/queues/names.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { FAILED_JOB_VERDICT_FIELD, VerdictStore, type JobFailure } from '../../src/verdicts/verdict-store.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { verdictJobIds, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

/** The worker's failed-job verdict path (what the sweep and the failed event call). */
type GiveFailedJobVerdict = (queue: ScanQueueKind, job: Job, error: Error) => Promise<boolean>;

describe('a failed job replaced by its producer while the sweep gives it its verdict', () => {
  const prefix = uniquePrefix('failed-verdict-replaced');
  const redis = testRedis();
  afterAll(async () => {
    await removeTestKeys(prefix);
    await redis.quit();
  });

  it('stores nothing for the old job (no verdict, no note on the new job); the new job gets its own verdict', async () => {
    const content = { contentId: 'replaced-1', surface: 'send' as const, items: ['https://replaced-1.example/'] };
    // One attempt, and a one-second dedup window: the failed job is replaced a second after it failed.
    const client = createScanClient({ connection: redis, prefix, attempts: 1, retentionSeconds: 1 });
    const links = new Queue('links', { connection: redis, prefix });
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, models: 'off', unfurl: 'off', stalledIntervalMs: 60_000 });
    const logger = createLogger('silent');
    const connection = testRedis();
    const pipeline = await createScanPipeline(config, { logger, connection });
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
    try {
      // Failed for good by a worker that gave no verdict.
      const { jobId } = await client.enqueue(content);
      const failingConnection = testRedis();
      const failing = new Worker('links', async () => {
        throw new Error('worker lost its footing');
      }, { connection: failingConnection, prefix });
      expect(await waitUntil(async () => (await links.getFailedCount()) === 1, 10_000, 50)).toBe(true);
      await failing.close();
      await failingConnection.quit();

      // The sweep reads the failed job (FailedJobSweeper.sweep: Job.fromId, isFailed)...
      const old = (await Job.fromId(links, jobId))!;
      expect(await old.isFailed()).toBe(true);
      // ...the producer replaces it, past its window, with the same content...
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, old.finishedOn! + 1200 - Date.now())));
      expect(await client.enqueue(content)).toEqual({ jobId, queue: 'links', duplicate: false });
      expect(await links.getJobState(jobId)).toBe('waiting');
      // ...then the sweep gives the old job its verdict: that failure is gone, nothing is owed.
      const give = (worker as unknown as { giveFailedJobVerdict: GiveFailedJobVerdict }).giveFailedJobVerdict.bind(worker);
      expect(await give('links', old, new Error(old.failedReason))).toBe(true);
      expect(await redis.exists(verdictKeys(prefix).verdict(jobId))).toBe(0);
      expect(await redis.hexists(links.toKey(jobId), FAILED_JOB_VERDICT_FIELD)).toBe(0);
      expect(await verdictJobIds(prefix)).toEqual([]);

      // The new job is scanned: its own verdict is the one stored and returned.
      await worker.run();
      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
      expect(verdict.errors.map((e) => e.code)).not.toContain('retries_exhausted');
      expect(await waitUntil(async () => (await links.getJobState(jobId)) === 'completed', 10_000, 50)).toBe(true);
      expect(await verdictJobIds(prefix)).toEqual([jobId]);
      expect(await redis.hexists(links.toKey(jobId), FAILED_JOB_VERDICT_FIELD)).toBe(0);
    } finally {
      await worker.shutdown();
      await pipeline.close();
      await connection.quit();
      await client.close();
      await links.close();
    }
  }, 30_000);
});

describe('a failed job its options remove from the failed set (added raw)', () => {
  const prefix = uniquePrefix('failed-verdict-removed');
  const redis = testRedis();
  afterAll(async () => {
    await removeTestKeys(prefix);
    await redis.quit();
  });

  it('is still given its verdict: removed as it failed (removeOnFail true), or trimmed by count before its verdict', async () => {
    const links = new Queue('links', { connection: redis, prefix });
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, models: 'off', unfurl: 'off', stalledIntervalMs: 60_000 });
    const logger = createLogger('silent');
    const connection = testRedis();
    const pipeline = await createScanPipeline(config, { logger, connection });
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
    const failingConnection = testRedis();
    const failed: Job[] = [];
    const failing = new Worker('links', async () => {
      throw new Error('worker lost its footing');
    }, { connection: failingConnection, prefix, autorun: false });
    failing.on('failed', (job) => void (job && failed.push(job)));
    try {
      const data = (contentId: string) => ({ contentId, surface: 'send', items: [`https://${contentId}.example/`] });
      await links.add('scan', data('f1-removed'), { jobId: 'f1-removed', attempts: 1, removeOnFail: true });
      await links.add('scan', data('f2-trimmed'), { jobId: 'f2-trimmed', attempts: 1, removeOnFail: 1 });
      await links.add('scan', data('f3-kept'), { jobId: 'f3-kept', attempts: 1, removeOnFail: 1 });
      void failing.run();
      expect(await waitUntil(async () => failed.length === 3, 10_000, 50)).toBe(true);
      await failing.close();
      // f1-removed never entered the failed set; f2-trimmed left it when f3-kept failed. (Ids in
      // the order they fail: two failures in one millisecond tie on score, and BullMQ's trim by
      // count then keeps the member last in byte order.)
      expect(await links.getFailed()).toMatchObject([{ id: 'f3-kept' }]);
      expect(await redis.exists(links.toKey('f1-removed'), links.toKey('f2-trimmed'))).toBe(0);
      const give = (worker as unknown as { giveFailedJobVerdict: GiveFailedJobVerdict }).giveFailedJobVerdict.bind(worker);
      for (const job of failed) expect(await give('links', job, new Error(job.failedReason))).toBe(true);
      expect((await verdictJobIds(prefix)).sort()).toEqual(['f1-removed', 'f2-trimmed', 'f3-kept']);
      expect(await redis.hget(links.toKey('f3-kept'), FAILED_JOB_VERDICT_FIELD)).toBe(String(await redis.zscore(links.toKey('failed'), 'f3-kept')));
      expect(await redis.exists(links.toKey('f1-removed'), links.toKey('f2-trimmed'))).toBe(0); // no stub hashes
    } finally {
      await failing.close();
      await failingConnection.quit();
      await worker.shutdown();
      await pipeline.close();
      await connection.quit();
      await links.close();
    }
  }, 30_000);
});

describe('the verdict store binding a failed job\'s verdict to its failure', () => {
  const prefix = uniquePrefix('failed-verdict-bound');
  const redis = testRedis();
  const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
  const failedSet = `${prefix}:links:failed`;
  const job = (id: string) => `${prefix}:links:${id}`;
  const failure = (id: string, finishedOn: number, mayBeTrimmed?: boolean): JobFailure => ({ key: job(id), failedSet, id, finishedOn, mayBeTrimmed });
  afterAll(async () => {
    await removeTestKeys(prefix);
    await redis.quit();
  });

  it('gives each verdict of a mixed batch its own outcome', async () => {
    for (const id of ['m-failed', 'm-dup', 'm-stale', 'm-trimmed-kept']) await redis.hset(job(id), 'name', 'scan');
    await redis.zadd(failedSet, 1000, 'm-failed', 2000, 'm-dup', 3000, 'm-stale');
    await redis.set(`${job('m-locked')}:lock`, 'token-1');
    await redis.set(`${job('m-lost')}:lock`, 'token-2');
    await store.storeAll([sampleVerdict('m-dup')]); // m-dup had its verdict already
    const outcomes = await store.storeAll(
      ['m-normal', 'm-locked', 'm-lost', 'm-failed', 'm-dup', 'm-stale', 'm-removed', 'm-trimmed', 'm-trimmed-kept'].map((id) => sampleVerdict(id)),
      [undefined, { key: `${job('m-locked')}:lock`, token: 'token-1' }, { key: `${job('m-lost')}:lock`, token: 'token-1' }],
      [
        undefined,
        undefined,
        undefined,
        failure('m-failed', 1000), // still failed at its score: stored and noted
        failure('m-dup', 2000), // the same, its verdict there already: noted
        failure('m-stale', 2500), // failed again since (retried by hand): another failure's
        failure('m-removed', 4000), // removed (or removed and added again): gone
        failure('m-trimmed', 5000, true), // kept by count and trimmed, hash and all: owed its verdict
        failure('m-trimmed-kept', 6000, true), // out of the failed set, its hash there (replaced, retried)
      ],
    );
    expect(outcomes).toEqual(['stored', 'stored', 'stale', 'stored', 'duplicate', 'gone', 'gone', 'stored', 'gone']);
    expect(await redis.hget(job('m-failed'), FAILED_JOB_VERDICT_FIELD)).toBe('1000');
    expect(await redis.hget(job('m-dup'), FAILED_JOB_VERDICT_FIELD)).toBe('2000');
    expect(await redis.hexists(job('m-stale'), FAILED_JOB_VERDICT_FIELD)).toBe(0);
    expect(await redis.hexists(job('m-trimmed-kept'), FAILED_JOB_VERDICT_FIELD)).toBe(0);
    // No hash comes back as a stub of one field.
    for (const id of ['m-removed', 'm-trimmed', 'm-normal', 'm-locked']) expect(await redis.exists(job(id))).toBe(0);
    for (const id of ['m-lost', 'm-stale', 'm-removed', 'm-trimmed-kept']) expect(await redis.exists(verdictKeys(prefix).verdict(id))).toBe(0);
    expect((await verdictJobIds(prefix)).sort()).toEqual(['m-dup', 'm-failed', 'm-locked', 'm-normal', 'm-trimmed']);
  });
});
