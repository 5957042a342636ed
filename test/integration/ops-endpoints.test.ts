import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createScanClient } from '../../src/client/scan-client.js';
import { readBacklog } from '../../src/ops/backlog.js';
import { BACKLOG_READ_TIMEOUT_MS, FleetMetrics } from '../../src/ops/metrics.js';
import { startOpsServer } from '../../src/ops/ops-server.js';
import { createRedis } from '../../src/runtime/redis.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { exitOf, exitWithin, spawnWorkerProcess, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { unusedPort } from './unfurl-servers.js';
import { SMALL_PNG_BASE64, writeSlowImage } from '../harness/jobs.js';
import { redisProxy } from '../harness/redis-proxy.js';
import { closedPort, uniquePrefix, TEST_REDIS_URL, removeTestKeys, testRedis } from '../harness/redis.js';

/** The gauges a worker reads from Redis at scrape time: absent while it cannot (or not yet). */
const BACKLOG_GAUGES = ['abuse_scan_queue_jobs', 'abuse_scan_verdict_stream_entries', 'abuse_scan_verdict_consumer_lag', 'abuse_scan_verdict_consumer_pending'];

/** A GET of `path` on the ops port: its status and JSON body, or `'refused'` when nothing listens (or it does not answer in 2 s). */
async function probe(port: number, path: string): Promise<{ status: number; body: unknown } | 'refused'> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    const text = await response.text();
    return { status: response.status, body: path === '/metrics' ? text : JSON.parse(text) };
  } catch {
    return 'refused';
  }
}

async function statusOf(port: number, path: string): Promise<number | 'refused'> {
  const answer = await probe(port, path);
  return answer === 'refused' ? answer : answer.status;
}


describe('metrics and health endpoints of a worker process', () => {
  const prefix = uniquePrefix('ops');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('serve Prometheus metrics and a passing health check; SIGTERM still exits 0', async () => {
    const port = await unusedPort();
    const worker = spawnWorkerProcess(prefix, { ABUSE_SCAN_METRICS_PORT: String(port) });
    await waitForWorkerStart(worker);
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const { jobId } = await client.enqueue({ contentId: 'ops-1', surface: 'upload', items: ['https://ops.example/'] });
    await client.waitForVerdict(jobId, { timeoutMs: 10_000 });

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await probe(port, '/livez')).toEqual({ status: 200, body: { alive: true } });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Every series names the fleet (its queue prefix), default metrics included.
    const samples = metrics.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(20);
    for (const line of samples) expect(line).toContain(`prefix="${prefix}"`);
    const value = (name: string, labels: Record<string, string>) => sampleValue(samples, name, { ...labels, prefix });
    expect(value('abuse_scan_verdicts_total', { queue: 'links', decision: 'allow' })).toBe(1);
    expect(value('abuse_scan_job_duration_seconds_count', { queue: 'links' })).toBe(1);
    expect(metrics).toContain('abuse_scan_process_cpu_seconds_total');
    // Backlog read from Redis at scrape time: nothing waiting, the one job kept as completed.
    expect(value('abuse_scan_queue_jobs', { queue: 'links', state: 'wait' })).toBe(0);
    expect(value('abuse_scan_queue_jobs', { queue: 'links', state: 'completed' })).toBe(1);
    expect(value('abuse_scan_queue_jobs', { queue: 'images', state: 'wait' })).toBe(0);
    expect(value('abuse_scan_verdict_stream_entries', { stream: 'verdicts' })).toBe(1);

    worker.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    await client.close();
  }, 30_000);

  it('a worker serving one queue reports every queue\'s backlog, and its capacity for the queue it serves only (a queue left without workers still shows and alerts)', async () => {
    const port = await unusedPort();
    const servedPrefix = uniquePrefix('ops-links-only');
    const worker = spawnWorkerProcess(servedPrefix, { ABUSE_SCAN_METRICS_PORT: String(port), ABUSE_SCAN_QUEUES: 'links', ABUSE_SCAN_CONCURRENCY: '7' });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix: servedPrefix });
    try {
      await waitForWorkerStart(worker);
      await client.enqueue({ contentId: 'ops-image', surface: 'upload', items: [{ bytesBase64: SMALL_PNG_BASE64 }] });
      const samples = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      const value = (name: string, labels: Record<string, string>) => sampleValue(samples, name, { ...labels, prefix: servedPrefix });
      expect(value('abuse_scan_queue_jobs', { queue: 'images', state: 'wait' })).toBe(1);
      expect(value('abuse_scan_worker_queue_concurrency', { queue: 'links' })).toBe(7);
      expect(samples.filter((line) => line.startsWith('abuse_scan_worker_queue_concurrency{'))).toHaveLength(1);
      worker.kill('SIGTERM');
      expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    } finally {
      worker.kill('SIGKILL');
      await client.close();
      await removeTestKeys(servedPrefix);
    }
  }, 30_000);

  it('a metrics port already taken fails the start-up: logged as such, exit 1, no raw stack', async () => {
    const port = await unusedPort();
    const taken = createServer().listen(port, '0.0.0.0');
    await once(taken, 'listening');
    try {
      const worker = spawnWorkerProcess(prefix, { ABUSE_SCAN_METRICS_PORT: String(port), ABUSE_SCAN_MODELS: 'off' });
      expect(await exitWithin(worker, 20_000)).toEqual({ code: 1, signal: null });
      expect(worker.output()).toContain('start-up failed');
      expect(worker.output()).toContain('EADDRINUSE');
      expect(worker.output()).not.toContain("Unhandled 'error' event");
    } finally {
      taken.close();
    }
  }, 30_000);

  it('with Redis unreachable, /metrics still answers, counting each scrape as a backlog read failure', async () => {
    // The worker's wiring (a shared connection that holds commands until Redis is back) against a port nobody listens on.
    const connection = createRedis(`redis://127.0.0.1:${await unusedPort()}`);
    connection.on('error', () => undefined);
    const queues = ['links', 'images'].map((name) => new Queue(name, { connection, prefix }).on('error', () => undefined));
    const metrics = new FleetMetrics({ defaultMetrics: true });
    let reads = 0;
    metrics.readBacklogOnScrape(() => {
      reads++;
      return readBacklog(queues, connection, verdictKeys(prefix).stream);
    });
    const ops = await startOpsServer(metrics, 0, () => true);
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${ops.port}/metrics`, { signal: AbortSignal.timeout(BACKLOG_READ_TIMEOUT_MS + 3000) });
      expect(response.status).toBe(200);
      return response.text();
    };
    try {
      const first = await scrape();
      expect(first).toContain('abuse_scan_process_cpu_seconds_total');
      expect(first).toMatch(/^abuse_scan_backlog_read_failures_total 1$/m);
      expect(first).not.toContain('abuse_scan_queue_jobs{');

      // The first read is still waiting for Redis: the next scrape fails at once without queueing another.
      const startedAt = Date.now();
      expect(await scrape()).toMatch(/^abuse_scan_backlog_read_failures_total 2$/m);
      expect(Date.now() - startedAt).toBeLessThan(BACKLOG_READ_TIMEOUT_MS);
      expect(reads).toBe(1);
      // No backlog series at all: not even the stream's entries as 0, which would read as an empty stream.
      for (const text of [first, await scrape()]) {
        const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
        for (const gauge of BACKLOG_GAUGES) expect(samples.filter((line) => line.startsWith(gauge)), gauge).toEqual([]);
      }
      expect((await fetch(`http://127.0.0.1:${ops.port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ops.port}/livez`)).status).toBe(200);
    } finally {
      await ops.close();
      connection.disconnect();
    }
  }, 15_000);

  it('a worker started while Redis cannot be reached serves /livez 200 (and /metrics) at once, /healthz 503, and a signal still exits 0', async () => {
    const port = await unusedPort();
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, ABUSE_SCAN_METRICS_PORT: String(port), ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_REDIS_HEALTH_TIMEOUT_MS: '1000' });
    try {
      expect(await waitUntil(async () => (await probe(port, '/livez')) !== 'refused', 15_000, 100), worker.output()).toBe(true);
      // Past the Redis health timeout, and several reconnection attempts: still alive, never ready.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      for (let i = 0; i < 3; i++) {
        expect(await probe(port, '/livez')).toEqual({ status: 200, body: { alive: true } });
        expect(await probe(port, '/healthz')).toEqual({ status: 503, body: { healthy: false, reason: 'not taking jobs (starting)' } });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const metrics = await probe(port, '/metrics');
      expect(metrics).toMatchObject({ status: 200 });
      const samples = ((metrics as { body: string }).body).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      expect(samples.some((line) => line.startsWith('abuse_scan_process_cpu_seconds_total{'))).toBe(true);
      for (const gauge of BACKLOG_GAUGES) expect(samples.filter((line) => line.startsWith(gauge)), gauge).toEqual([]);
      expect(worker.output()).not.toContain('scan worker started');

      worker.kill('SIGTERM');
      expect(await exitWithin(worker, 10_000)).toEqual({ code: 0, signal: null });
      expect(worker.output()).toContain('signal during start-up');
    } finally {
      await exitWithin(worker, 0);
    }
  }, 40_000);

  it('during a Redis outage and a drain that cannot finish, /livez stays 200 while /healthz answers 503', async () => {
    const outagePrefix = uniquePrefix('ops-outage');
    const proxy = await redisProxy();
    const imageRoot = await mkdtemp(join(tmpdir(), 'abuse-scan-ops-images-'));
    const port = await unusedPort();
    const worker = spawnWorkerProcess(outagePrefix, {
      REDIS_URL: proxy.url,
      ABUSE_SCAN_METRICS_PORT: String(port),
      ABUSE_SCAN_MODELS: 'off',
      ABUSE_SCAN_IMAGE_ROOT: imageRoot,
      ABUSE_SCAN_REDIS_HEALTH_TIMEOUT_MS: '1000',
      ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: '6000',
    });
    const admin = testRedis();
    try {
      const image = await writeSlowImage(imageRoot);
      await waitForWorkerStart(worker);
      expect(await probe(port, '/healthz')).toEqual({ status: 200, body: { healthy: true } });
      expect(await probe(port, '/livez')).toEqual({ status: 200, body: { alive: true } });

      // Scans under way when Redis goes cannot store their verdicts: the drain cannot finish.
      const client = createScanClient({ connection: TEST_REDIS_URL, prefix: outagePrefix, imageRoot });
      await client.enqueueBulk(Array.from({ length: 100 }, (_, i) => ({ job: { contentId: `slow-${i}`, surface: 'upload', items: [{ path: image }, { path: image }] } })));
      await client.close();
      expect(await waitUntil(async () => (await admin.xlen(verdictKeys(outagePrefix).stream)) >= 2, 20_000, 20)).toBe(true);

      // The outage: not ready once Redis has been silent past the health timeout, alive throughout.
      proxy.down();
      expect(await waitUntil(async () => (await statusOf(port, '/healthz')) === 503, 5000, 100)).toBe(true);
      expect(await probe(port, '/healthz')).toMatchObject({ status: 503, body: { healthy: false, reason: expect.stringMatching(/has not answered for \d+ s/) } });
      expect(await probe(port, '/livez')).toEqual({ status: 200, body: { alive: true } });

      // The drain: Redis still away, the worker waits out ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS.
      worker.kill('SIGTERM');
      await waitUntil(async () => worker.output().includes('shutting down gracefully'), 2000, 20);
      const during: Array<[unknown, unknown]> = [];
      for (let i = 0; i < 5; i++) {
        during.push([await probe(port, '/livez'), await probe(port, '/healthz')]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(during).toEqual(Array.from({ length: 5 }, () => [{ status: 200, body: { alive: true } }, { status: 503, body: { healthy: false, reason: 'not taking jobs (shutting down)' } }]));
      expect(await exitWithin(worker, 15_000)).toEqual({ code: 75, signal: null });
      expect(worker.output()).toContain('shutdown timed out');
    } finally {
      await exitWithin(worker, 0);
      await proxy.close();
      await admin.quit();
      await rm(imageRoot, { recursive: true, force: true });
      await removeTestKeys(outagePrefix);
    }
  }, 60_000);
});

/** The value of the sample of `name` with exactly `labels` (in any order), undefined when there is none. */
function sampleValue(samples: readonly string[], name: string, labels: Record<string, string>): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  for (const line of samples) {
    const match = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (match?.[1] !== name) continue;
    const found = [...(match[2] ?? '').matchAll(/([a-z_][a-z0-9_]*)="((?:[^"\\]|\\.)*)"/gi)].map((m) => [m[1]!, m[2]!]);
    if (JSON.stringify(found.sort()) === wanted) return Number(match[3]);
  }
  return undefined;
}
