/**
 * A Redis that answers but refuses (here: full, maxmemory under noeviction) fails BullMQ's job
 * fetch with an error reply, which BullMQ's fetch loop only reports, then fetches again at once
 * while it thinks jobs are waiting: tens of thousands of commands a second, and as many
 * "worker error" reports. The fleet's worker waits a while after such a failure instead.
 */
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { waitUntil } from '../harness/fleet.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';

async function commandsProcessed(admin: Redis): Promise<number> {
  const stats = await admin.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(stats)![1]);
}

/** Fills the server up to its maxmemory (set just above what it uses now): writes are refused with OOM from then on. */
async function fill(admin: Redis, prefix: string): Promise<void> {
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', String(used + 4 * 1024 * 1024));
  const chunk = 'x'.repeat(64 * 1024);
  for (let i = 0; ; i++) {
    try {
      await admin.set(`${prefix}:filler:${i}`, chunk);
    } catch (error) {
      expect(String(error)).toMatch(/^ReplyError: OOM/);
      return;
    }
  }
}

/** A worker of the fleet on `redis`, logging into `lines`, with jobs waiting on `links` that Redis then refuses it (full). */
async function startRefusedWorker(redis: PrivateRedis, admin: Redis, prefix: string, lines: string[]) {
  const logger = createLogger('info', 'refusals-test', new Writable({ write: (chunk, _, done) => void (lines.push(String(chunk)), done()) }));
  const config = loadConfig({}, { redisUrl: redis.url, prefix, models: 'off', unfurl: 'off', lockDurationMs: 3000, stalledIntervalMs: 1000 });
  // Jobs waiting before the worker starts: BullMQ fetches straight away (not drained) and,
  // refused, straight away again, every time.
  const queue = new Queue('links', { connection: { port: redis.port, host: '127.0.0.1' }, prefix });
  await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'scan', data: { contentId: `c-${i}` }, opts: { jobId: `refused-${i}` } })));
  await queue.close();
  await fill(admin, prefix);
  const connection = createRedis(redis.url);
  connection.on('error', () => undefined);
  const pipeline = await createScanPipeline(config, { logger, connection });
  const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
  await worker.run();
  expect(await waitUntil(async () => lines.some((line) => line.includes('"msg":"worker error') && line.includes('OOM')), 5000, 20)).toBe(true);
  return {
    worker,
    async stop() {
      await worker.shutdown();
      await pipeline.close();
      connection.disconnect();
    },
  };
}

describe('a worker whose job fetch Redis refuses (out of memory, noeviction)', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    admin = redis.admin();
  });
  afterEach(async () => {
    await admin.config('SET', 'maxmemory', '0');
    await admin.flushall(); // the test's own server
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('fetches again after a pause, not in a busy loop, and takes the jobs once Redis accepts writes again', async () => {
    const prefix = uniquePrefix('refusals');
    const lines: string[] = [];
    const fleet = await startRefusedWorker(redis, admin, prefix, lines);
    try {
      const before = await commandsProcessed(admin);
      const measuredFrom = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const perSecond = ((await commandsProcessed(admin)) - before) / ((Date.now() - measuredFrom) / 1000);
      // Two queues fetching once a second, their stalled checkers, the job sweeps: a few a
      // second, not the tens of thousands of a busy loop.
      expect(perSecond).toBeLessThan(50);
      expect(await admin.xlen(verdictKeys(prefix).stream)).toBe(0);

      // Redis accepts writes again: the worker takes the jobs waiting (each refused as invalid_job).
      await admin.config('SET', 'maxmemory', '0');
      expect(await waitUntil(async () => (await admin.xlen(verdictKeys(prefix).stream)) === 5, 10_000)).toBe(true);
    } finally {
      await fleet.stop();
    }
  }, 30_000);

  it('still closes at once: the pause before the next fetch does not hold up shutdown', async () => {
    const lines: string[] = [];
    const fleet = await startRefusedWorker(redis, admin, uniquePrefix('refusals-close'), lines);
    try {
      // The fetch refused is pausing now (its error was just reported), ~900 ms to go.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stopping = Date.now();
      await fleet.worker.shutdown();
      expect(Date.now() - stopping).toBeLessThan(500);
    } finally {
      await fleet.stop();
    }
  }, 30_000);
});
