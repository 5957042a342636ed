import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { RequestListener } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig, type FleetConfigInput } from '../../src/config/config.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline, type PipelineServices } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { startServer } from '../integration/unfurl-servers.js';
import { TEST_REDIS_URL, testRedis } from './redis.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A scan worker in this process, on its own Redis connection. */
export async function startInProcessWorker(
  prefix: string,
  overrides: Partial<FleetConfigInput> = {},
  services: Pick<PipelineServices, 'allowPrivateAddressesFor'> = {},
) {
  const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, lockDurationMs: 5000, stalledIntervalMs: 2000, ...overrides });
  const logger = createLogger('silent');
  const connection = testRedis();
  const pipeline = await createScanPipeline(config, { logger, connection, ...services });
  const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
  await worker.run();
  return {
    worker,
    config,
    async stop() {
      await worker.shutdown();
      await pipeline.close();
      await connection.quit();
    },
  };
}

/**
 * A scan client and an in-process worker on `prefix`, and a local HTTP server (`handler`) for
 * their jobs' links: the worker may fetch from its 127.0.0.1 port, past the address guard.
 */
export async function startFleetWithServer(prefix: string, handler: RequestListener) {
  const server = await startServer(handler);
  const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  try {
    const worker = await startInProcessWorker(prefix, {}, { allowPrivateAddressesFor: [`127.0.0.1:${server.port}`] });
    return {
      server,
      client,
      worker,
      async stop() {
        await worker.stop();
        await client.close();
        await server.close();
      },
    };
  } catch (error) {
    // A worker that did not start leaves nothing to stop() for the caller: close the rest here.
    await client.close();
    await server.close();
    throw error;
  }
}

/** The jobId of every entry in the results stream, in order, duplicates included. */
export async function verdictJobIds(prefix: string): Promise<string[]> {
  const connection = testRedis();
  try {
    const entries = await connection.xrange(verdictKeys(prefix).stream, '-', '+');
    return entries.map(([, fields]) => fields[fields.indexOf('jobId') + 1]!);
  } finally {
    await connection.quit();
  }
}

/** Polls until `predicate` holds or the timeout passes; returns whether it held. */
export async function waitUntil(predicate: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return predicate();
}

/** `abuse-scan worker` as a child process: the compiled CLI, as ops run it (built once per run, build-once.ts). */
export function spawnWorkerProcess(prefix: string, env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['bin/abuse-scan.js', 'worker'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      REDIS_URL: TEST_REDIS_URL,
      ABUSE_SCAN_PREFIX: prefix,
      ABUSE_SCAN_LOCK_MS: '3000',
      ABUSE_SCAN_STALLED_INTERVAL_MS: '1000',
      // Child processes cannot be told to reach 127.0.0.1 (only code can), and names need DNS.
      ABUSE_SCAN_UNFURL: 'off',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output });
}

/** Resolves once the child has logged that it started taking jobs. */
export async function waitForWorkerStart(child: ReturnType<typeof spawnWorkerProcess>, timeoutMs = 20_000): Promise<void> {
  const started = await waitUntil(async () => child.output().includes('scan worker started'), timeoutMs, 50);
  if (!started) throw new Error(`worker did not start:\n${child.output()}`);
}

export async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

/**
 * The child's exit, or `'still running'` after `timeoutMs` (the child is then killed): a test of
 * a process that used to hang fails on its assertion instead of at the test timeout.
 */
export async function exitWithin(child: ChildProcess, timeoutMs: number): Promise<Awaited<ReturnType<typeof exitOf>> | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), timeoutMs)));
  const result = await Promise.race([exitOf(child), timedOut]);
  clearTimeout(timer);
  if (result === 'still running') {
    child.kill('SIGKILL');
    await exitOf(child);
  }
  return result;
}
