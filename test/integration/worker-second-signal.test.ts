/**
 * Exits while the image model's thread is inside an onnxruntime run: a second signal (exit 1) and
 * a drain past the shutdown timeout (exit 75). Node's process.exit stops worker threads, and a
 * thread stopped inside `session.run()` aborted the whole process when the run returned
 * ("terminate called after throwing an instance of 'Napi::Error'", SIGABRT, 134 in a shell).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { EXIT_CODES } from '../../src/runtime/runnable.js';
import { exitWithin, REPO_ROOT, spawnWorkerProcess, verdictJobIds, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

/**
 * One model thread of one onnxruntime thread, batches of up to 32 and 64 jobs in flight: once the
 * first verdicts are out, the thread runs one long batch after another until the backlog is gone.
 */
const BUSY_MODEL = {
  ABUSE_SCAN_QUEUES: 'images',
  ABUSE_SCAN_CONCURRENCY: '64',
  ABUSE_SCAN_MODEL_THREADS: '1',
  ABUSE_SCAN_MODEL_INTRA_OP_THREADS: '1',
  ABUSE_SCAN_MODEL_MAX_BATCH: '32',
};

/** A worker busy with image inference: started, a backlog of image jobs, the first verdicts out. */
async function busyWorker(prefix: string, env: Record<string, string>) {
  const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  const worker = spawnWorkerProcess(prefix, { ...BUSY_MODEL, ...env });
  try {
    await waitForWorkerStart(worker, 60_000);
    const image = (await readFile(join(REPO_ROOT, 'fixtures/images/clouds.jpg'))).toString('base64');
    await client.enqueueBulk(
      Array.from({ length: 400 }, (_, i) => ({ job: { contentId: `image-${i}`, surface: 'upload' as const, items: [{ bytesBase64: image }] } })),
    );
    const running = await waitUntil(async () => (await verdictJobIds(prefix)).length >= 40, 60_000, 20);
    if (!running) throw new Error(`no verdicts:\n${worker.output()}`);
  } catch (error) {
    await exitWithin(worker, 0);
    throw error;
  } finally {
    await client.close();
  }
  return worker;
}

/** What onnxruntime-node prints when its error escapes a stopped thread, just before SIGABRT. */
const aborted = (output: string) => output.includes("terminate called after throwing an instance of 'Napi::Error'");

describe('exiting while an inference runs', () => {
  const prefixes: string[] = [];
  const prefix = (label: string) => (prefixes.push(uniquePrefix(label)), prefixes.at(-1)!);

  afterAll(async () => {
    for (const p of prefixes) await removeTestKeys(p);
  });

  it('a second signal exits 1, promptly, instead of aborting', async () => {
    const worker = await busyWorker(prefix('second-signal'), {});
    worker.kill('SIGTERM');
    expect(await waitUntil(async () => worker.output().includes('shutting down gracefully'), 5_000, 5)).toBe(true);
    worker.kill('SIGTERM');
    const sent = Date.now();

    const exit = await exitWithin(worker, 20_000);
    expect({ exit, aborted: aborted(worker.output()) }).toEqual({ exit: { code: EXIT_CODES.failed, signal: null }, aborted: false });
    expect(worker.output()).toContain('second signal: exiting without waiting');
    // At most the rest of the batch running (a batch of 32 takes about half a second), not the drain.
    expect(Date.now() - sent).toBeLessThan(3_000);
  }, 120_000);

  it('a drain past the shutdown timeout exits 75 instead of aborting', async () => {
    const worker = await busyWorker(prefix('timeout-inference'), { ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: '300' });
    worker.kill('SIGTERM');

    const exit = await exitWithin(worker, 20_000);
    expect({ exit, aborted: aborted(worker.output()) }).toEqual({ exit: { code: EXIT_CODES.shutdownTimedOut, signal: null }, aborted: false });
    expect(worker.output()).toContain('shutdown timed out');
  }, 120_000);
});
