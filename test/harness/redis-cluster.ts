import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { createRedis } from '../../src/runtime/redis.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { unusedPort } from '../integration/unfurl-servers.js';

export interface LocalCluster {
  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (the primaries) */
  url: string;
  /** Every node's port and process id (primaries first, then their replicas in the same order). */
  nodes: Array<{ port: number; pid: number }>;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** Replicas per primary (default 0): with one, a primary that dies is failed over. */
  replicasPerPrimary?: number;
  /** cluster-node-timeout (default Redis' 15000): how long a silent node takes to be failed over. */
  nodeTimeoutMs?: number;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/**
 * Three primaries on free loopback ports, slots spread over them, nothing kept on disk; with
 * `replicasPerPrimary`, replicas that take over a primary that fails.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-cluster-'));
  const primaries = 3;
  const count = primaries * (1 + (options.replicasPerPrimary ?? 0));
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await unusedPort());
  const children: ChildProcess[] = [];
  for (const port of ports) {
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      ...(options.nodeTimeoutMs === undefined ? [] : ['--cluster-node-timeout', String(options.nodeTimeoutMs)]),
      '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no',
    ], { stdio: 'ignore', detached: false });
    child.on('error', () => undefined);
    child.unref();
    children.push(child);
  }
  const stop = async () => {
    for (const port of ports) {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }).on('error', () => undefined);
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      client.disconnect();
    }
    // One that did not take SHUTDOWN (frozen, or never up) is killed: nothing outlives the test.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  let clients: Redis[] = [];
  try {
    for (const port of ports) await waitFor(() => accepts(port));
    clients = ports.map((port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 3 }).on('error', () => undefined));
    const slotsPerNode = Math.ceil(16384 / primaries);
    for (const [i, client] of clients.slice(0, primaries).entries()) {
      const slots = Array.from({ length: Math.min(slotsPerNode, 16384 - i * slotsPerNode) }, (_, k) => i * slotsPerNode + k);
      await client.call('CLUSTER', 'ADDSLOTS', ...slots);
    }
    for (const port of ports.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(port));
    // Each replica follows primary i % 3, once it has heard of it.
    for (const [i, replica] of clients.slice(primaries).entries()) {
      const primaryId = (await clients[i % primaries]!.call('CLUSTER', 'MYID')) as string;
      await waitFor(async () => ((await replica.call('CLUSTER', 'NODES')) as string).includes(primaryId));
      await replica.call('CLUSTER', 'REPLICATE', primaryId);
    }
    for (const client of clients) await waitFor(async () => ((await client.call('CLUSTER', 'INFO')) as string).includes('cluster_state:ok'));
    // A replica takes over only once it has synced with its primary.
    for (const replica of clients.slice(primaries)) await waitFor(async () => (await replica.info('replication')).includes('master_link_status:up'));
  } catch (error) {
    await stop();
    throw error;
  } finally {
    for (const client of clients) client.disconnect();
  }
  return {
    url: `redis-cluster://${ports.slice(0, primaries).map((p) => `127.0.0.1:${p}`).join(',')}`,
    nodes: ports.map((port, i) => ({ port, pid: children[i]!.pid! })),
    stop,
  };
}

/**
 * For one describe block (call it inside the describe, behind `skipIf(!redisServerAvailable())`):
 * a local cluster started before its tests and stopped after them. Its url is there once they run.
 */
export function suiteCluster(): { readonly url: string } {
  let cluster: LocalCluster | undefined;
  beforeAll(async () => {
    cluster = await startLocalCluster();
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return {
    get url() {
      if (!cluster) throw new Error('the cluster starts in beforeAll: read its url inside tests and hooks');
      return cluster.url;
    },
  };
}

/**
 * A scan worker in this process on the cluster at `url`, configured from `env` as `abuse-scan
 * worker` is, with the default (hash-tagged) prefix.
 */
export async function startClusterWorker(url: string, env: NodeJS.ProcessEnv = {}) {
  const config = loadConfig(env, { redisUrl: url });
  const logger = createLogger('silent');
  const connection = createRedis(config.redisUrl);
  const pipeline = await createScanPipeline(config, { logger, connection });
  const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
  await worker.run();
  return {
    worker,
    config,
    connection,
    logger,
    async stop() {
      await worker.shutdown();
      await pipeline.close();
      // Not quit: after a test froze a node, a QUIT could wait on it; nothing is left to send.
      connection.disconnect();
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.once('close', () => socket.destroy());
    setTimeout(() => socket.end(), 0);
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('local Redis Cluster did not come up');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
