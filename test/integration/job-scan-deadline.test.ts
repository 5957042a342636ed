/**
 * One job's scan is bounded by ABUSE_SCAN_JOB_TIMEOUT_MS. Items run in waves (8 links at a time),
 * each within its own unfurl deadline only: 100 links to a server that sends its headers and then
 * one byte every 500 ms took 65 s, far past a shutdown timeout, so every deploy handed such jobs
 * back to start over. Now the items unfinished at the deadline get `scan_deadline`, and the
 * verdict keeps what the finished ones found. A link cut or never started is still matched on its
 * own URL (no network): padding a job with trickling links does not hide a blocklisted one.
 */
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { ListStore } from '../../src/lists/list-store.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { startInProcessWorker, verdictJobIds } from '../harness/fleet.js';
import { removeTestKeys, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';
import { startServer, type TestServer } from './unfurl-servers.js';

const JOB_TIMEOUT_MS = 1500;

/** Headers at once, then a byte every 500 ms, forever: each hop lives until its 5 s deadline. */
function trickle(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/html' });
  const timer = setInterval(() => res.write(' '), 500);
  res.on('close', () => clearInterval(timer));
}

describe('a job whose links trickle past the job deadline', () => {
  const prefix = uniquePrefix('job-scan-deadline');
  let server: TestServer;
  let redis: Redis;
  let client: ScanClient;
  let fleet: Awaited<ReturnType<typeof startInProcessWorker>>;
  const requested: string[] = [];

  beforeAll(async () => {
    server = await startServer((req, res) => {
      requested.push(req.url ?? '');
      if (req.url?.startsWith('/slow/')) return trickle(res);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>quick</p>');
    });
    redis = testRedis();
    // Listed before the worker starts, so its replica has the entry from the first job on.
    await new ListStore(redis, { prefix }).add('phish', ['127.0.0.1/phish', '127.0.0.1/slow/evil-cut', '127.0.0.1/slow/evil-late'].map((entry) => canonicalEntry(entry)));
    fleet = await startInProcessWorker(prefix, { jobTimeoutMs: JOB_TIMEOUT_MS, models: 'off' }, { allowPrivateAddressesFor: [`127.0.0.1:${server.port}`] });
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  });

  afterAll(async () => {
    await client?.close();
    await fleet?.stop();
    await server?.close();
    await redis?.quit();
    await removeTestKeys(prefix);
  });

  it('gets its verdict at the deadline: finished items kept, each unfinished or unstarted item named with scan_deadline, no retry', async () => {
    // Item 0 is quick (and listed); items 1-10 trickle, 8 links at a time, so items 8-11 (the
    // last one quick) start only once a trickling link has given up.
    const items = [`${server.origin}/phish`, ...Array.from({ length: 10 }, (_, i) => `${server.origin}/slow/${i + 1}`), `${server.origin}/quick`];
    const enqueued = performance.now();
    const { jobId } = await client.enqueue({ contentId: 'trickling-links', surface: 'send', items });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    const elapsed = performance.now() - enqueued;

    // About the deadline, not two waves of 5 s hop timeouts (10 s); margins for a loaded CI host.
    expect(verdict.timings.total).toBeGreaterThanOrEqual(JOB_TIMEOUT_MS - 50);
    expect(verdict.timings.total).toBeLessThan(JOB_TIMEOUT_MS + 2000);
    expect(elapsed).toBeLessThan(JOB_TIMEOUT_MS + 4000);
    expect(verdict.timings.deadline).toBe(JOB_TIMEOUT_MS);

    // The finished item: its chain and its blocklist signal stand.
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { chain: [expect.objectContaining({ status: 200 })] } });
    expect(verdict.signals).toEqual([expect.objectContaining({ source: 'blocklist', item: 0, evidence: expect.objectContaining({ list: 'phish' }) })]);
    expect(verdict.decision).toBe('block');

    // Every other item, under way or never started, by the one typed partial error.
    const unfinished = items.map((_, index) => index).slice(1);
    expect(verdict.items.slice(1).map((item) => [item.index, item.status, item.error?.code])).toEqual(unfinished.map((index) => [index, 'error', 'scan_deadline']));
    expect(verdict.errors).toEqual(unfinished.map((item) => ({ code: 'scan_deadline', message: expect.stringContaining(`${JOB_TIMEOUT_MS} ms`), item, partial: true, detail: { jobTimeoutMs: JOB_TIMEOUT_MS } })));
    expect(verdict.reasons).toContain('review: partial error scan_deadline on item 1');

    // One attempt, one verdict: the deadline's error is permanent, so the job is not retried.
    expect(verdict.attempt).toBe(1);
    expect(await redis.hget(`${prefix}:links:${jobId}`, 'ats')).toBe('1');
    expect(await redis.hget(`${prefix}:links:${jobId}`, 'finishedOn')).not.toBeNull();
    expect(await verdictJobIds(prefix)).toEqual([jobId]);
  }, 30_000);

  it('still blocks on a blocklisted link whose unfurl the deadline cut, or that never started behind trickling links', async () => {
    // Item 0 (listed) trickles with 7 others; item 9 (listed) has 9 links ahead of it, 8 at a time.
    const items = [`${server.origin}/slow/evil-cut`, ...Array.from({ length: 8 }, (_, i) => `${server.origin}/slow/pad-${i + 1}`), `${server.origin}/slow/evil-late`];
    const { jobId } = await client.enqueue({ contentId: 'padded-links', surface: 'send', items });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });

    // Matching past the deadline needs no network: the verdict still comes about the deadline.
    expect(verdict.timings.total).toBeLessThan(JOB_TIMEOUT_MS + 2000);
    expect(verdict.timings.deadline).toBe(JOB_TIMEOUT_MS);
    expect(requested).toContain('/slow/evil-cut');
    expect(requested).not.toContain('/slow/evil-late');

    expect(verdict.decision).toBe('block');
    expect(verdict.signals.map((signal) => [signal.source, signal.item, signal.evidence.list, signal.evidence.entry])).toEqual([
      ['blocklist', 0, 'phish', '127.0.0.1/slow/evil-cut'],
      ['blocklist', 9, 'phish', '127.0.0.1/slow/evil-late'],
    ]);
    expect(verdict.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^block: blocklist\/\w+ on item 0,/), expect.stringMatching(/^block: blocklist\/\w+ on item 9,/)]));
    // Those items carry the deadline's error too: judged on their own URL, never fully unfurled.
    for (const index of [0, 9]) {
      expect(verdict.items[index]).toMatchObject({ status: 'error', error: { code: 'scan_deadline', partial: true }, details: { canonical: items[index]!.replace(`:${server.port}`, ''), notFetched: expect.stringContaining('scan deadline') } });
    }
    expect(verdict.errors).toEqual(items.map((_, item) => expect.objectContaining({ code: 'scan_deadline', item, partial: true })));
    expect(verdict.attempt).toBe(1);
  }, 30_000);

  it('goes to review by default when no finished item fired', async () => {
    const { jobId } = await client.enqueue({ contentId: 'trickling-only', surface: 'send', items: [`${server.origin}/quick`, `${server.origin}/slow/a`, `${server.origin}/slow/b`] });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict).toMatchObject({ decision: 'review', attempt: 1, signals: [] });
    expect(verdict.items.map((item) => item.error?.code)).toEqual([undefined, 'scan_deadline', 'scan_deadline']);
  }, 30_000);

  it('holds the embedded scan (`abuse-scan scan`, no Redis) to the same setting', async () => {
    const config = loadConfig({ ABUSE_SCAN_JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS), ABUSE_SCAN_MODELS: 'off' });
    const pipeline = await createScanPipeline(config, { logger: createLogger('silent'), allowPrivateAddressesFor: [`127.0.0.1:${server.port}`] });
    try {
      const verdict = await pipeline.scan({ schemaVersion: 1, contentId: 'embedded', surface: 'cli', items: [`${server.origin}/slow/lone`] }, { jobId: 'embedded', attempt: 1, finalAttempt: true });
      expect(verdict).toMatchObject({ decision: 'review', errors: [{ code: 'scan_deadline', item: 0, partial: true }], timings: { deadline: JOB_TIMEOUT_MS } });
      expect(verdict.timings.total).toBeLessThan(JOB_TIMEOUT_MS + 2000);
    } finally {
      await pipeline.close();
    }
  }, 30_000);
});

describe('a worker whose job deadline is not below its shutdown timeout', () => {
  const prefix = uniquePrefix('job-deadline-warning');
  afterAll(() => removeTestKeys(prefix));

  it('starts as configured, and warns once that a drain may hand such jobs back', async () => {
    const lines: Array<{ level: number; msg: string; jobTimeoutMs?: number; shutdownTimeoutMs?: number }> = [];
    const logger = createLogger('info', 'test', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const redis = testRedis();
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, jobTimeoutMs: '5000', shutdownTimeoutMs: '5000', models: 'off' });
    const pipeline = await createScanPipeline(config, { logger, connection: redis });
    const worker = new ScanWorker({ config, pipeline, connection: redis, logger, metrics: new FleetMetrics() });
    try {
      await worker.run();
      expect(worker.running).toBe(true);
      expect(lines.filter((line) => /ABUSE_SCAN_JOB_TIMEOUT_MS/.test(line.msg))).toEqual([
        expect.objectContaining({ level: 40, jobTimeoutMs: 5000, shutdownTimeoutMs: 5000, msg: expect.stringContaining('is not below ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS') }),
      ]);
    } finally {
      await worker.shutdown();
      await pipeline.close();
      await redis.quit();
    }
  });
});
