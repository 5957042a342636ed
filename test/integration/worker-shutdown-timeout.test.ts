/** SIGTERM while Redis is down: BullMQ's close never returns (taskforcesh/bullmq#4656), so the drain is bounded. */
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { EXIT_CODES } from '../../src/runtime/runnable.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { exitWithin, spawnWorkerProcess, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { startPrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';

describe('shutdown while Redis is down', () => {
  const prefix = uniquePrefix('shutdown-timeout');
  const cleanups: Array<() => Promise<unknown>> = [];

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('gives up draining after ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS and exits with the documented code', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: redis.url, ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: '2000' });
    cleanups.push(() => exitWithin(worker, 0));
    await waitForWorkerStart(worker);

    // Jobs in flight when Redis goes cannot store their verdicts, so the drain cannot finish
    // (with none in flight, BullMQ's close may or may not return, depending on timing).
    const client = createScanClient({ connection: redis.url, prefix });
    await client.enqueueBulk(Array.from({ length: 400 }, (_, i) => ({ job: mixedJob(i) })));
    await client.close();
    const admin = redis.admin();
    expect(await waitUntil(async () => (await admin.xlen(verdictKeys(prefix).stream)) >= 5, 20_000, 20)).toBe(true);
    await admin.quit();

    await redis.stop();
    worker.kill('SIGTERM');

    expect(await exitWithin(worker, 20_000)).toEqual({ code: 75, signal: null });
    expect(EXIT_CODES.shutdownTimedOut).toBe(75); // README, Shutdown
    expect(worker.output()).toContain('shutdown timed out');
    expect(worker.output()).toMatch(/abandoning [1-9]\d* job\(s\) in flight/);
  }, 60_000);
});
