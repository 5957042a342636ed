/**
 * A failed job's verdict key has a TTL, the job's hash none: under a volatile-* maxmemory policy
 * Redis evicts the verdict key first, and the failed-job sweep, which took "no verdict key" for
 * "owed a verdict", gave the job a second verdict (a second stream entry for consumers). The
 * verdict given to a failed job is noted on its hash too (the score of the failure it covers), and
 * the sweep skips jobs carrying the note of their current failure: one retried by hand and failed
 * again is owed a verdict anew.
 */
import { Writable } from 'node:stream';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { FAILED_JOB_VERDICT_FIELD, VerdictStore, type JobFailure } from '../../src/verdicts/verdict-store.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { startInProcessWorker, waitUntil } from '../harness/fleet.js';
import { startPrivateRedis } from '../harness/private-redis.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

/** Every jobId on the results stream, duplicates included. */
async function streamJobIds(redis: Redis, prefix: string): Promise<string[]> {
  const entries = await redis.xrange(verdictKeys(prefix).stream, '-', '+');
  return entries.map(([, fields]) => fields[fields.indexOf('jobId') + 1]!).sort();
}

/** Jobs of `contentIds` (one attempt each) failed for good by a worker that died before giving any verdict. */
async function failedJobs(url: string, prefix: string, contentIds: string[]): Promise<string[]> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const client = createScanClient({ connection: url, prefix, attempts: 1 });
  const jobs = await client.enqueueBulk(contentIds.map((contentId) => ({ job: { contentId, surface: 'upload' as const, items: [`https://${contentId}.example/`] } })));
  await client.close();
  const failing = new Worker('links', async () => {
    throw new Error('worker lost its footing');
  }, { connection, prefix });
  const links = new Queue('links', { connection, prefix });
  expect(await waitUntil(async () => (await links.getFailedCount()) === contentIds.length, 10_000)).toBe(true);
  await failing.close();
  await links.close();
  await connection.quit();
  return jobs.map((job) => job!.jobId).sort();
}

describe('a failed job whose verdict key is gone (evicted) while the job stays', () => {
  const prefixes: string[] = [];
  const redis = testRedis();
  afterAll(async () => {
    for (const prefix of prefixes) await removeTestKeys(prefix);
    await redis.quit();
  });

  it('is not given a second verdict by the failed-job sweep', async () => {
    const prefix = uniquePrefix('verdict-evicted');
    prefixes.push(prefix);
    const ids = await failedJobs(TEST_REDIS_URL, prefix, ['a', 'b']);
    const fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300 });
    try {
      expect(await waitUntil(async () => (await redis.xlen(verdictKeys(prefix).stream)) === 2, 10_000)).toBe(true);
      // The note is the failure's score in the failed set (its finishedOn).
      for (const id of ids) expect(Number(await redis.hget(`${prefix}:links:${id}`, FAILED_JOB_VERDICT_FIELD))).toBe(Number(await redis.zscore(`${prefix}:links:failed`, id)));
      // What a volatile-* policy does under memory pressure: the keys with a TTL go first.
      await redis.del(...ids.map((id) => verdictKeys(prefix).verdict(id)));
      await new Promise((resolve) => setTimeout(resolve, 1500)); // several sweeps, all within their clock-skew look-back
      expect(await streamJobIds(redis, prefix)).toEqual(ids);
    } finally {
      await fleet.stop();
    }
  }, 30_000);

  it('is given a verdict again once retried by hand and failed again (the note is of the earlier failure)', async () => {
    const prefix = uniquePrefix('verdict-evicted-retried');
    prefixes.push(prefix);
    const [id] = await failedJobs(TEST_REDIS_URL, prefix, ['r']);
    const jobKey = `${prefix}:links:${id!}`;
    let fleet: Awaited<ReturnType<typeof startInProcessWorker>> | undefined = await startInProcessWorker(prefix, { stalledIntervalMs: 300 });
    try {
      expect(await waitUntil(async () => (await redis.xlen(verdictKeys(prefix).stream)) === 1, 10_000)).toBe(true);
      const noted = await redis.hget(jobKey, FAILED_JOB_VERDICT_FIELD);
      expect(noted).not.toBeNull();
      await fleet.stop();
      fleet = undefined;
      // Its verdict key goes (evicted, or expired), then an operator retries the job, which fails
      // for good again without a verdict (its worker died with it).
      await redis.del(verdictKeys(prefix).verdict(id!));
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const links = new Queue('links', { connection, prefix });
      await (await Job.fromId(links, id!))!.retry('failed');
      expect(await links.getJobState(id!)).toBe('waiting');
      const failing = new Worker('links', async () => {
        throw new Error('worker lost its footing again');
      }, { connection, prefix });
      expect(await waitUntil(async () => (await links.getFailedCount()) === 1, 10_000, 50)).toBe(true);
      await failing.close();
      await links.close();
      await connection.quit();
      expect(await redis.hget(jobKey, FAILED_JOB_VERDICT_FIELD)).toBe(noted); // BullMQ kept the field

      fleet = await startInProcessWorker(prefix, { stalledIntervalMs: 300 });
      expect(await waitUntil(async () => (await redis.exists(verdictKeys(prefix).verdict(id!))) === 1, 10_000)).toBe(true);
      expect(await streamJobIds(redis, prefix)).toEqual([id, id]);
      expect(Number(await redis.hget(jobKey, FAILED_JOB_VERDICT_FIELD))).toBe(Number(await redis.zscore(`${prefix}:links:failed`, id!)));
      expect(await redis.hget(jobKey, FAILED_JOB_VERDICT_FIELD)).not.toBe(noted);
    } finally {
      await fleet?.stop();
    }
  }, 30_000);

  it('is not given a second verdict after a real eviction (maxmemory, volatile-lru)', async () => {
    const server = await startPrivateRedis();
    const admin = server.admin();
    const lines: string[] = [];
    const logger = createLogger('info', 'evicted-test', new Writable({ write: (chunk, _, done) => void (lines.push(String(chunk)), done()) }));
    const prefix = uniquePrefix('verdict-evicted-lru');
    const config = loadConfig({}, { redisUrl: server.url, prefix, models: 'off', unfurl: 'off', lockDurationMs: 3000, stalledIntervalMs: 300 });
    const connection = createRedis(server.url);
    connection.on('error', () => undefined);
    const pipeline = await createScanPipeline(config, { logger, connection });
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
    try {
      const ids = await failedJobs(server.url, prefix, ['c', 'd', 'e']);
      await worker.run();
      expect(await waitUntil(async () => (await admin.xlen(verdictKeys(prefix).stream)) === 3, 10_000)).toBe(true);

      // Memory pressure: written keys (without TTL) push out every key with one, the verdicts'.
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
      await admin.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024));
      const chunk = 'x'.repeat(64 * 1024);
      // Until nothing with a TTL is left to evict (a write refused then) or the verdict keys are gone.
      for (let i = 0; (await admin.exists(...ids.map((id) => verdictKeys(prefix).verdict(id)))) > 0; i++) {
        if (!(await admin.set(`${prefix}:filler:${i}`, chunk).then(() => true, () => false))) break;
      }
      expect(await admin.exists(...ids.map((id) => verdictKeys(prefix).verdict(id)))).toBe(0);
      await admin.config('SET', 'maxmemory', '0');
      expect(Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))![1])).toBeGreaterThanOrEqual(3);
      expect(await admin.zcard(`${prefix}:links:failed`)).toBe(3); // the jobs stay

      await new Promise((resolve) => setTimeout(resolve, 1500)); // several sweeps
      expect(await streamJobIds(admin, prefix)).toEqual(ids);
    } finally {
      await worker.shutdown();
      await pipeline.close();
      connection.disconnect();
      admin.disconnect();
      await server.stop();
    }
  }, 30_000);
});

describe('the verdict store noting a failed job\'s verdict on its hash', () => {
  const prefix = uniquePrefix('failed-verdict-note');
  const redis = testRedis();
  const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
  afterAll(async () => {
    await removeTestKeys(prefix);
    await redis.quit();
  });

  it('notes it, with the failure\'s score, when the verdict is stored and when it was there already, on a job still failed at that score only', async () => {
    const job = (id: string) => `${prefix}:links:${id}`;
    const failure = (id: string, finishedOn: number): JobFailure => ({ key: job(id), failedSet: `${prefix}:links:failed`, id, finishedOn });
    await redis.hset(job('f1'), 'name', 'scan');
    await redis.hset(job('f2'), 'name', 'scan');
    await redis.zadd(`${prefix}:links:failed`, 1111, 'f1', 2222, 'f2');
    await store.storeAll([sampleVerdict('f2')]); // f2 had its verdict already
    expect(await store.storeAll([sampleVerdict('f1'), sampleVerdict('f2'), sampleVerdict('gone')], [], [failure('f1', 1111), failure('f2', 2222), failure('gone', 3333)])).toEqual(['stored', 'duplicate', 'gone']);
    expect(await redis.hget(job('f1'), FAILED_JOB_VERDICT_FIELD)).toBe('1111');
    expect(await redis.hget(job('f2'), FAILED_JOB_VERDICT_FIELD)).toBe('2222');
    // A job removed meanwhile does not come back as a hash of one field, nor is it given a verdict.
    expect(await redis.exists(job('gone'))).toBe(0);
    expect(await streamJobIds(redis, prefix)).toEqual(['f1', 'f2']);
  });

  it('leaves the hashes of verdicts given without a failed job (an attempt\'s, with or without its lock) alone', async () => {
    const job = `${prefix}:links:n1`;
    await redis.hset(job, 'name', 'scan');
    await redis.set(`${job}:lock`, 'token-1');
    expect(await store.storeAll([sampleVerdict('n1'), sampleVerdict('n2')], [{ key: `${job}:lock`, token: 'token-1' }])).toEqual(['stored', 'stored']);
    expect(await store.storeAll([sampleVerdict('n3')], [{ key: `${job}:lock`, token: 'token-2' }])).toEqual(['stale']);
    expect(await redis.hkeys(job)).toEqual(['name']);
  });
});
