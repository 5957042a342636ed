/**
 * The items of a job stop early when one of them fails the job (the scan aborts the others), and
 * the scan runs under an abort signal the worker owns, aborted when a shutdown abandons the job.
 * And shutdown() while run() is still starting takes no job.
 */
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { ScanError } from '../../src/errors.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import type { ItemPreparer } from '../../src/pipeline/item-preparer.js';
import { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { DEFAULT_POLICY } from '../../src/policy/policy-config.js';
import { SignalRegistry } from '../../src/signals/registry.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { verdictJobIds, waitUntil } from '../harness/fleet.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
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

  function startWorker(preparer: ItemPreparer) {
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, queues: 'links', lockDurationMs: 5000, stalledIntervalMs: 2000 });
    const pipeline = new ScanPipeline({ preparers: [preparer], registry: new SignalRegistry(), policy: DEFAULT_POLICY });
    metrics = new FleetMetrics();
    const worker = new ScanWorker({ config, pipeline, connection, logger, metrics });
    stops.push(() => worker.shutdown());
    return worker;
  }

  /** Messages logged since `from` (an index into the captured lines), parsed. */
  const loggedSince = (from: number) => lines.slice(from).map((line) => JSON.parse(line) as { msg: string; jobs?: unknown; jobId?: unknown });

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

  it('abandon() aborts the scans in flight and names their jobs', async () => {
    const links = abortWatchingLinks();
    const worker = startWorker(links.preparer);
    await worker.run();
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 60_000 });
    const { jobId } = await client.enqueue({ contentId: 'slow', surface: 'send', items: ['https://slow-to-abandon.example/'] });
    expect(await waitUntil(async () => links.running.includes('https://slow-to-abandon.example/'), 10_000)).toBe(true);

    worker.abandon();
    expect(links.aborted).toEqual(['https://slow-to-abandon.example/']);
    const abandoned = lines.map((line) => JSON.parse(line) as { msg: string; jobs?: unknown }).find((line) => line.msg.startsWith('abandoning'));
    expect(abandoned?.jobs).toEqual([{ queue: 'links', jobId }]);
    // A scan cut short gives no verdict: the job fails this attempt and runs again.
    const queue = new Queue('links', { connection, prefix });
    expect(await waitUntil(async () => (await queue.getJobState(jobId)) === 'delayed', 10_000)).toBe(true);
    expect(await verdictJobIds(prefix)).toEqual([]);
    await queue.close();
    await client.close();
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
