/**
 * A rolling deploy is not a crash: a worker process SIGTERMed while a job slower than its shutdown
 * timeout is in flight hands the job back to the queue, so the stalled counter does not grow. Each
 * abandoned job used to wait for its lock to expire, and the stalled checker counted a stall every
 * time: after ABUSE_SCAN_MAX_STALLED + 1 ordinary deploys the job got a `job_stalled` verdict,
 * unscanned. The workers run `workers/scan-worker.ts` under tsx, configured like production by the
 * environment only (no build needed).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { EXIT_CODES } from '../../src/runtime/runnable.js';
import { exitWithin, REPO_ROOT, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { writeSlowImage } from '../harness/jobs.js';


describe('a job in flight through several graceful shutdowns', () => {
  const prefix = uniquePrefix('shutdown-hand-back');
  const cleanups: Array<() => Promise<unknown>> = [];

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await removeTestKeys(prefix);
  });

  it('goes back to the queue each time without counting a stall, then gets one verdict of its own', async () => {
    const imageRoot = await mkdtemp(join(tmpdir(), 'abuse-scan-hand-back-'));
    cleanups.push(() => rm(imageRoot, { recursive: true, force: true }));
    const image = await writeSlowImage(imageRoot, 7);
    const env = {
      ...process.env,
      REDIS_URL: TEST_REDIS_URL,
      ABUSE_SCAN_PREFIX: prefix,
      ABUSE_SCAN_QUEUES: 'images',
      ABUSE_SCAN_MODELS: 'off',
      ABUSE_SCAN_UNFURL: 'off',
      ABUSE_SCAN_IMAGE_ROOT: imageRoot,
      ABUSE_SCAN_LOCK_MS: '3000',
      ABUSE_SCAN_STALLED_INTERVAL_MS: '2000',
      ABUSE_SCAN_MAX_STALLED: '2',
      LOG_LEVEL: 'info',
    };
    const startWorker = (shutdownTimeoutMs: number) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'workers/scan-worker.ts'], {
        cwd: REPO_ROOT,
        env: { ...env, ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      cleanups.push(() => exitWithin(child, 0));
      return Object.assign(child, { output: () => output });
    };

    // 100 large images: a scan of seconds, far past a shutdown timeout of 100 ms.
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, imageRoot });
    cleanups.push(() => client.close());
    const { jobId } = await client.enqueue({ contentId: 'slow', surface: 'upload', items: Array.from({ length: 100 }, () => ({ path: image })) });
    const redis = testRedis();
    cleanups.push(() => redis.quit());
    const jobKey = `${prefix}:images:${jobId}`;

    for (let deploy = 1; deploy <= 4; deploy++) {
      const worker = startWorker(100);
      expect(await waitUntil(async () => (await redis.exists(`${jobKey}:lock`)) === 1, 30_000, 20)).toBe(true);
      worker.kill('SIGTERM');
      expect(await exitWithin(worker, 10_000)).toEqual({ code: EXIT_CODES.shutdownTimedOut, signal: null });
      expect(worker.output()).toContain('handed 1 abandoned job(s) back to the queue');
      // Waiting again at once, not left active until its lock expires; no stall, no attempt counted.
      expect(await redis.lpos(`${prefix}:images:wait`, jobId)).not.toBeNull();
      expect(await redis.hmget(jobKey, 'stc', 'atm')).toEqual([null, null]);
    }
    expect(await verdictJobIds(prefix)).toEqual([]);

    // A worker given time to finish: the job's one verdict, of a full scan on its first attempt.
    const last = startWorker(60_000);
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 60_000 });
    expect(verdict).toMatchObject({ jobId, attempt: 1 });
    expect(verdict.errors.map((error) => error.code)).not.toContain('job_stalled');
    expect(verdict.items).toHaveLength(100);
    last.kill('SIGTERM');
    expect(await exitWithin(last, 20_000)).toEqual({ code: EXIT_CODES.stopped, signal: null });
    expect(await verdictJobIds(prefix)).toEqual([jobId]);
  }, 120_000);
});
