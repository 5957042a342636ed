/** SIGTERM while Redis is down: BullMQ's close never returns (taskforcesh/bullmq#4656), so the drain is bounded. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { ABANDON_TIMEOUT_MS, EXIT_CODES } from '../../src/runtime/runnable.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { exitWithin, spawnWorkerProcess, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { startPrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';
import { writeSlowImage } from '../harness/jobs.js';


describe('shutdown while Redis is down', () => {
  const prefix = uniquePrefix('shutdown-timeout');
  const cleanups: Array<() => Promise<unknown>> = [];

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('gives up draining after ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS and exits with the documented code', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const imageRoot = await mkdtemp(join(tmpdir(), 'abuse-scan-slow-images-'));
    cleanups.push(() => rm(imageRoot, { recursive: true, force: true }));
    const image = await writeSlowImage(imageRoot);
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: redis.url, ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: '2000', ABUSE_SCAN_IMAGE_ROOT: imageRoot });
    cleanups.push(() => exitWithin(worker, 0));
    await waitForWorkerStart(worker);

    // Scans under way when Redis goes cannot store their verdicts, so the drain cannot finish
    // (with none under way, BullMQ's close may or may not return, depending on timing). Jobs of
    // two large images each keep the worker's slots busy scanning, not completing.
    const client = createScanClient({ connection: redis.url, prefix, imageRoot });
    await client.enqueueBulk(Array.from({ length: 200 }, (_, i) => ({ job: { contentId: `slow-${i}`, surface: 'upload', items: [{ path: image }, { path: image }] } })));
    await client.close();
    const admin = redis.admin();
    expect(await waitUntil(async () => (await admin.xlen(verdictKeys(prefix).stream)) >= 5, 20_000, 20)).toBe(true);
    await admin.quit();

    await redis.stop();
    worker.kill('SIGTERM');
    const signalled = Date.now();

    expect(await exitWithin(worker, 20_000)).toEqual({ code: 75, signal: null });
    // The try to hand the jobs back, with Redis down, costs at most ABANDON_TIMEOUT_MS more.
    expect(Date.now() - signalled).toBeLessThan(2000 + ABANDON_TIMEOUT_MS + 1000);
    expect(EXIT_CODES.shutdownTimedOut).toBe(75); // README, Shutdown
    expect(worker.output()).toContain('shutdown timed out');
    expect(worker.output()).toMatch(/abandoning [1-9]\d* job\(s\) in flight/);
    expect(worker.output()).toMatch(/handed 0 of [1-9]\d* abandoned job\(s\) back to the queue/);
  }, 60_000);
});
