import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { exitOf, spawnWorkerProcess, waitForWorkerStart } from '../harness/fleet.js';
import { unusedPort } from './unfurl-servers.js';
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
    expect(metrics).toMatch(/abuse_scan_verdicts_total\{queue="links",decision="allow"\} 1/);
    expect(metrics).toMatch(/abuse_scan_job_duration_seconds_count\{queue="links"\} 1/);
    expect(metrics).toContain('abuse_scan_process_cpu_seconds_total');
    // Backlog read from Redis at scrape time: nothing waiting, the one job kept as completed.
    expect(metrics).toMatch(/abuse_scan_queue_jobs\{queue="links",state="wait"\} 0/);
    expect(metrics).toMatch(/abuse_scan_queue_jobs\{queue="links",state="completed"\} 1/);
    expect(metrics).toMatch(/abuse_scan_queue_jobs\{queue="images",state="wait"\} 0/);
    expect(metrics).toMatch(/abuse_scan_verdict_stream_entries 1/);

    worker.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    await client.close();
  }, 30_000);
});
