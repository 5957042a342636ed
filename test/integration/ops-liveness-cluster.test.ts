/**
 * The worker's Redis liveness watchdog on a real Redis Cluster, with the real worker's targets: a
 * node freezes (SIGSTOP: its sockets stay open, nothing answers), as a node stuck in a swap storm
 * or a paused VM does, then thaws well inside cluster-node-timeout (15 s), so the cluster never
 * marks it failed.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { RedisLiveness } from '../../src/ops/redis-liveness.js';
import type { RedisClient } from '../../src/runtime/redis.js';
import { verdictKeys } from '../../src/verdicts/verdict-keys.js';
import { waitUntil } from '../harness/fleet.js';
import { mixedJob } from '../harness/jobs.js';
import { redisServerAvailable, startClusterWorker, suiteCluster } from '../harness/redis-cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The process ids of the cluster's primaries, the one serving `key`'s slot first. */
async function primaryPids(cluster: RedisClient, key: string): Promise<number[]> {
  const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await cluster.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
  const owns = ([start, end]: [number, number, ...unknown[]]) => start <= slot && slot <= end;
  const pids: number[] = [];
  for (const [, , [host, port]] of [...ranges.filter(owns), ...ranges.filter((range) => !owns(range))]) {
    const node = new Redis({ host, port, maxRetriesPerRequest: 1 });
    try {
      pids.push(Number(/process_id:(\d+)/.exec(await node.info('server'))![1]));
    } finally {
      node.disconnect();
    }
  }
  return [...new Set(pids)];
}

/** /healthz's answer every 100 ms for `ms`: true for 200. */
async function sample(liveness: RedisLiveness, ms: number): Promise<boolean[]> {
  const samples: boolean[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) samples.push(liveness.health().healthy);
  return samples;
}

describe.skipIf(!redisServerAvailable())('/healthz of a worker on a Redis Cluster with a frozen node', () => {
  const cluster = suiteCluster();

  /** A running worker watched as `abuse-scan worker` watches it, with a short timeout; and its cluster's primaries. */
  async function watchedWorker() {
    const { worker, config, connection, logger, stop } = await startClusterWorker(cluster.url, { ABUSE_SCAN_UNFURL: 'off', ABUSE_SCAN_MODELS: 'off' });
    const liveness = new RedisLiveness({ targets: () => worker.livenessTargets(), unhealthyAfterMs: 2000, intervalMs: 500, logger });
    const [owner, ...others] = await primaryPids(connection, verdictKeys(config.prefix).stream);
    liveness.start();
    return {
      liveness,
      owner: owner!,
      other: others[0]!,
      async close() {
        await liveness.stop();
        await stop();
      },
    };
  }

  it('stays unhealthy while the node serving the fleet\'s keys is frozen (other nodes answering do not count), and is healthy again once it answers', async () => {
    const { liveness, owner, close } = await watchedWorker();
    let frozen = false;
    try {
      await sleep(1500);
      expect(liveness.health()).toEqual({ healthy: true });

      process.kill(owner, 'SIGSTOP');
      frozen = true;
      await sleep(3000); // past unhealthyAfterMs and a round
      expect((await sample(liveness, 3000)).filter(Boolean)).toEqual([]);

      process.kill(owner, 'SIGCONT');
      frozen = false;
      // Before: the state made for the node list of a reconnect was never probed again: 503 for good.
      expect(await waitUntil(async () => liveness.health().healthy, 15_000, 100)).toBe(true);
      expect((await sample(liveness, 2000)).filter((healthy) => !healthy)).toEqual([]);
      // And healthy rightly: the worker scans again. Within BullMQ's runRetryDelay (15 s, not set
      // by the worker) of the thaw: a job fetch that failed on a connection reset waits that long.
      // Before: its blocking Cluster connection could be left ready with no node connection; it
      // never took a job again, and stop() waited on it for good (this test's 60 s timeout).
      const client = createScanClient({ connection: cluster.url });
      try {
        const [enqueued] = await client.enqueueBulk([{ job: mixedJob(1) }]);
        expect(await client.waitForVerdict(enqueued!.jobId, { timeoutMs: 20_000 })).toMatchObject({ jobId: enqueued!.jobId });
      } finally {
        await client.close();
      }
    } finally {
      if (frozen) process.kill(owner, 'SIGCONT');
      await close();
    }
  }, 60_000);

  it('stays healthy while a node holding none of the fleet\'s keys is frozen', async () => {
    const { liveness, other, close } = await watchedWorker();
    let frozen = false;
    try {
      await sleep(1500);
      process.kill(other, 'SIGSTOP');
      frozen = true;
      expect((await sample(liveness, 5000)).filter((healthy) => !healthy)).toEqual([]);
    } finally {
      if (frozen) process.kill(other, 'SIGCONT');
      await close();
    }
  }, 60_000);
});
