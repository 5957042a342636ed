import { once } from 'node:events';
import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createScanClient } from '../../src/client/scan-client.js';
import { readBacklog } from '../../src/ops/backlog.js';
import { BACKLOG_READ_TIMEOUT_MS, FleetMetrics } from '../../src/ops/metrics.js';
import { startOpsServer } from '../../src/ops/ops-server.js';
import { createRedis } from '../../src/runtime/redis.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { exitOf, exitWithin, spawnWorkerProcess, waitForWorkerStart } from '../harness/fleet.js';
import { unusedPort } from './unfurl-servers.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

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
    expect(value('abuse_scan_verdict_stream_entries', {})).toBe(1);

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
      expect((await fetch(`http://127.0.0.1:${ops.port}/healthz`)).status).toBe(200);
    } finally {
      await ops.close();
      connection.disconnect();
    }
  }, 15_000);
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
