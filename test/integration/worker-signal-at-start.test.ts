/** A signal while the worker starts: the start-up stops, no job is taken, exit 0 (README, Shutdown). */
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { exitWithin, spawnWorkerProcess, verdictJobIds } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { closedPort, removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

type WorkerProcess = ReturnType<typeof spawnWorkerProcess>;

/**
 * Sends SIGTERM as soon as the worker logs that it is starting (its signal handlers are in
 * place), or after `timeoutMs` if it never does.
 */
function sigtermOnceStarting(worker: WorkerProcess, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve) => {
    const send = () => {
      clearTimeout(timer);
      worker.stderr!.off('data', check);
      worker.kill('SIGTERM');
      resolve();
    };
    const check = () => {
      if (worker.output().includes('"msg":"starting"')) send();
    };
    const timer = setTimeout(send, timeoutMs);
    worker.stderr!.on('data', check);
  });
}

describe('a signal during start-up', () => {
  const prefix = uniquePrefix('signal-at-start');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('stops the start-up: exit 0, and the job waiting in the queue is not taken', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const { jobId } = await client.enqueue(mixedJob(1));
    // Models on (the default): loading them makes the start-up long enough to be signalled in.
    const worker = spawnWorkerProcess(prefix);
    await sigtermOnceStarting(worker);

    expect(await exitWithin(worker, 20_000)).toEqual({ code: 0, signal: null });
    const connection = testRedis();
    const queue = new Queue('links', { connection, prefix });
    expect(await queue.getJobState(jobId)).toBe('waiting');
    await queue.close();
    await connection.quit();
    expect(await verdictJobIds(prefix)).toEqual([]);
    expect(worker.output()).toContain('signal during start-up');
    expect(worker.output()).not.toContain('scan worker started');
    await client.close();
  }, 40_000);

  it('while Redis cannot be reached: exits 0 at once instead of dying of the signal or waiting for Redis', async () => {
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, ABUSE_SCAN_MODELS: 'off' });
    await sigtermOnceStarting(worker);

    expect(await exitWithin(worker, 10_000)).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('signal during start-up');
  }, 40_000);
});
