/**
 * The items of a job stop early when one of them fails the job (the scan aborts the others), and
 * the scan runs under an abort signal the worker owns, aborted when a shutdown abandons the job,
 * which goes back to the queue without counting a stall (a rolling deploy is not a crash).
 * And shutdown() while run() is still starting takes no job.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { ScanError } from '../../src/errors.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import type { ItemPreparer } from '../../src/pipeline/item-preparer.js';
import { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { DEFAULT_POLICY } from '../../src/policy/policy-config.js';
import { ABANDON_TIMEOUT_MS } from '../../src/runtime/runnable.js';
import { SignalRegistry } from '../../src/signals/registry.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { verdictJobIds, waitUntil } from '../harness/fleet.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { redisProxy } from '../harness/redis-proxy.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

/**
 * Link items ending in `/fail` fail at once (transiently: the job is retried); every other item
 * runs until its signal is aborted (or 20 s), like an unfurl or a model run would.
 */
function abortWatchingLinks() {
  const running: string[] = [];
  const aborted: string[] = [];
  const preparer: ItemPreparer = {
    kind: 'link',
    prepare: async (item, _index, signal) => {
      const url = String(item);
      if (url.endsWith('/fail')) throw new ScanError('fetch_failed', 'the remote server could not be reached');
      running.push(url);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20_000);
        signal.addEventListener('abort', () => (clearTimeout(timer), aborted.push(url), resolve()), { once: true });
      });
      return { subject: { input: url, targets: [] }, details: {} };
    },
  };
  return { preparer, running, aborted };
}

describe('ScanWorker and the abort signal of a scan', () => {
  const prefix = uniquePrefix('scan-abort');
  const connection = testRedis();
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const stops: Array<() => Promise<unknown>> = [];
  let metrics: FleetMetrics;

  function startWorker(preparer: ItemPreparer, on: { connection?: Redis; prefix?: string } = {}) {
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix: on.prefix ?? prefix, queues: 'links', lockDurationMs: 5000, stalledIntervalMs: 2000 });
    const pipeline = new ScanPipeline({ preparers: [preparer], registry: new SignalRegistry(), policy: DEFAULT_POLICY });
    metrics = new FleetMetrics();
    const worker = new ScanWorker({ config, pipeline, connection: on.connection ?? connection, logger, metrics });
    stops.push(() => worker.shutdown());
    return worker;
  }

  /** Messages logged since `from` (an index into the captured lines), parsed. */
  const loggedSince = (from: number) => lines.slice(from).map((line) => JSON.parse(line) as { msg: string; jobs?: unknown; jobId?: unknown; leftToLockExpiry?: unknown });

  /** A link preparer that finishes at once: the item is scanned, no signal. */
  const instantLinks: ItemPreparer = { kind: 'link', prepare: async (item) => ({ subject: { input: String(item), targets: [] }, details: {} }) };

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  afterAll(async () => {
    await removeTestKeys(prefix);
    await connection.quit();
  });

  it('an item fails and the job is retried: the job\'s other items still running are aborted', async () => {
    const links = abortWatchingLinks();
    const worker = startWorker(links.preparer);
    await worker.run();
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 60_000 });
    await client.enqueue({ contentId: 'one-fails', surface: 'send', items: ['https://slow.example/', 'https://down.example/fail'] });

    expect(await waitUntil(async () => links.aborted.includes('https://slow.example/'), 10_000)).toBe(true);
    await client.close();
  }, 30_000);

  it('abandon() aborts the scans in flight, names their jobs and hands them back to the queue: no stall counted, and another worker gives the one verdict', async () => {
    const links = abortWatchingLinks();
    const worker = startWorker(links.preparer);
    await worker.run();
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 60_000 });
    const { jobId } = await client.enqueue({ contentId: 'slow', surface: 'send', items: ['https://slow-to-abandon.example/'] });
    expect(await waitUntil(async () => links.running.includes('https://slow-to-abandon.example/'), 10_000)).toBe(true);
    const jobKey = `${prefix}:links:${jobId}`;
    const stalledCounter = async () => Number((await connection.hget(jobKey, 'stc')) ?? 0);
    const stallsBefore = await stalledCounter();

    const from = lines.length;
    const started = Date.now();
    const abandoning = worker.abandon();
    expect(links.aborted).toEqual(['https://slow-to-abandon.example/']); // at once
    await abandoning;
    expect(Date.now() - started).toBeLessThan(ABANDON_TIMEOUT_MS);
    const logged = loggedSince(from);
    expect(logged.find((line) => line.msg.startsWith('abandoning'))?.jobs).toEqual([{ queue: 'links', jobId }]);
    expect(logged.find((line) => line.msg === 'handed 1 abandoned job(s) back to the queue')?.jobs).toEqual([{ queue: 'links', jobId }]);

    // Waiting again as if never taken: no lock left to expire, no stall counted, no attempt used
    // up (BullMQ's count of attempts made), and no verdict from the attempt cut short.
    const queue = new Queue('links', { connection, prefix });
    expect(await queue.getJobState(jobId)).toBe('waiting');
    expect(await connection.exists(`${jobKey}:lock`)).toBe(0);
    expect(await connection.sismember(queue.toKey('stalled'), jobId)).toBe(0);
    expect(await stalledCounter()).toBe(stallsBefore);
    expect(Number((await connection.hget(jobKey, 'atm')) ?? 0)).toBe(0);
    expect(await verdictJobIds(prefix)).toEqual([]);

    // Another worker runs it: one verdict, of its first attempt, not an error verdict.
    const second = startWorker(instantLinks);
    await second.run();
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 10_000 });
    expect(verdict).toMatchObject({ jobId, attempt: 1, errors: [] });
    expect(await waitUntil(async () => (await queue.getJobState(jobId)) === 'completed', 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await verdictJobIds(prefix)).toEqual([jobId]);
    expect(await stalledCounter()).toBe(stallsBefore);
    // BullMQ left the job to the hand-back: it did not try to fail the attempt (a lock error) too.
    expect(loggedSince(from).filter((line) => line.msg === 'worker error')).toEqual([]);
    await queue.close();
    await client.close();
  }, 30_000);

  it('abandon() with Redis unreachable returns within its bound and leaves the job to its lock\'s expiry', async () => {
    const ownPrefix = uniquePrefix('scan-abort-unreachable');
    const proxy = await redisProxy();
    const proxied = new Redis(proxy.url, { maxRetriesPerRequest: null }).on('error', () => undefined);
    const links = abortWatchingLinks();
    const worker = startWorker(links.preparer, { connection: proxied, prefix: ownPrefix });
    // After the worker's shutdown (afterEach): Redis back first, so that its drain can end.
    stops.unshift(() => proxy.up());
    stops.push(async () => {
      await proxied.quit();
      await proxy.close();
      await removeTestKeys(ownPrefix);
    });
    await worker.run();
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix: ownPrefix });
    const { jobId } = await client.enqueue({ contentId: 'cut-off', surface: 'send', items: ['https://slow-cut-off.example/'] });
    expect(await waitUntil(async () => links.running.includes('https://slow-cut-off.example/'), 10_000)).toBe(true);
    await client.close();

    proxy.down();
    const from = lines.length;
    const started = Date.now();
    await worker.abandon();
    expect(Date.now() - started).toBeLessThan(ABANDON_TIMEOUT_MS);
    expect(links.aborted).toEqual(['https://slow-cut-off.example/']);
    const left = loggedSince(from).find((line) => line.msg.startsWith('handed 0 of 1 abandoned job(s) back to the queue'));
    expect(left?.leftToLockExpiry).toEqual([{ queue: 'links', jobId }]);
  }, 30_000);

  it('a job whose attempt lost its lock during the drain (Redis stalled past the lock) is named as given up, and the drain says so', async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const worker = startWorker({
      kind: 'link',
      prepare: async (item) => {
        started.push(String(item));
        await released;
        return { subject: { input: String(item), targets: [] }, details: {} };
      },
    });
    await worker.run();
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const { jobId } = await client.enqueue({ contentId: 'loses-its-lock', surface: 'send', items: ['https://drained.example/'] });
    expect(await waitUntil(async () => started.length === 1, 10_000)).toBe(true);
    const from = lines.length;
    const drained = worker.shutdown();
    // Another worker's stalled checker took the job meanwhile: the lock holds its token now.
    await connection.set(`${prefix}:links:${jobId}:lock`, 'another-worker');
    release();
    expect(await drained).toEqual({ gaveUpWork: true });
    const gaveUp = loggedSince(from).find((line) => line.msg.startsWith('gave up 1 job(s) in flight'));
    expect(gaveUp?.jobs).toEqual([{ queue: 'links', jobId }]);
    expect(await verdictJobIds(prefix)).not.toContain(jobId);
    await client.close();
  }, 30_000);

  it('a verdict Redis refuses to store: the attempt counts as a retry and is logged, and the job is retried', async () => {
    const stream = verdictKeys(prefix).stream;
    await connection.set(stream, 'not a stream'); // stands for a Redis refusing the write (OOM)
    try {
      const worker = startWorker({ kind: 'link', prepare: async (item) => ({ subject: { input: String(item), targets: [] }, details: {} }) });
      await worker.run();
      const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 50 });
      const from = lines.length;
      const { jobId } = await client.enqueue({ contentId: 'refused-verdict', surface: 'send', items: ['https://refused.example/'] });
      const queue = new Queue('links', { connection, prefix });
      expect(await waitUntil(async () => (await queue.getJobState(jobId)) === 'failed', 10_000)).toBe(true);
      expect((await metrics.retries.get()).values).toEqual([expect.objectContaining({ labels: { queue: 'links' }, value: 1 })]);
      expect(loggedSince(from).find((line) => line.msg === 'could not store a verdict; the job is retried')).toMatchObject({ jobId });
      await queue.close();
      await client.close();
    } finally {
      await connection.del(stream);
    }
  }, 30_000);

  it('shutdown() while run() is still starting: both settle and no job is taken', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const { jobId } = await client.enqueue({ contentId: 'never-taken', surface: 'send', items: ['https://never-taken.example/'] });
    const worker = startWorker(abortWatchingLinks().preparer);
    const firstLine = lines.length;

    const running = worker.run();
    await worker.shutdown();
    await running;
    await new Promise((resolve) => setTimeout(resolve, 500)); // a worker started anyway would take the job now

    const messages = lines.slice(firstLine).map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toEqual(['scan worker stopping: finishing in-flight jobs', 'scan worker stopped']);

    const queue = new Queue('links', { connection, prefix });
    expect(await queue.getJobState(jobId)).toBe('waiting');
    await queue.close();
    await client.close();
  }, 30_000);
});
