/**
 * A Redis Cluster failover of the primary serving the fleet's hash slot (SIGKILL; its replica
 * takes over after cluster-node-timeout) while producers enqueue and read verdicts, a
 * waitForVerdict waits, an operator's command runs and verdict consumers read: what reaches any
 * of them is `redis_unavailable`, as on a single Redis, never ioredis' own untyped errors
 * ("Connection is closed.", "Too many Cluster redirections. Last error: ReplyError: MOVED ..."),
 * and all of them work again once the replica has taken over.
 *
 * Two of each: on a Cluster the caller made with ioredis' defaults (it gives up on a command
 * after about a second of the failover, so its errors surely come), and from the URL (createRedis'
 * Cluster rides out some 5 s of it, so errors may not come at all).
 */
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { withRedis } from '../../src/cli/cli-redis.js';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { clusterNodes } from '../../src/runtime/redis.js';
import { createVerdictConsumer, type VerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { redisServerAvailable, startLocalCluster, type LocalCluster } from '../harness/redis-cluster.js';
import { uniquePrefix } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Seen {
  what: string;
  code: string | undefined;
  message: string;
}

function seen(what: string, error: unknown): Seen {
  const { code, message } = error as { code?: string; message?: string };
  return { what, code, message: String(message) };
}

describe.skipIf(!redisServerAvailable())('a Redis Cluster failover of the primary serving the fleet', () => {
  let cluster: LocalCluster | undefined;
  const closers: Array<() => unknown> = [];
  const env = { REDIS_URL: process.env.REDIS_URL, ABUSE_SCAN_PREFIX: process.env.ABUSE_SCAN_PREFIX };

  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
    await cluster?.stop();
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('every error producers, operators and consumers see is redis_unavailable (one per outage to onError); all work again once the replica took over', async () => {
    cluster = await startLocalCluster({ replicasPerPrimary: 1, nodeTimeoutMs: 1500 });
    const prefix = uniquePrefix('cluster-failover');
    /** The caller's own Cluster, with ioredis' defaults. */
    const own = new Cluster(clusterNodes(cluster.url).nodes, { redisOptions: { maxRetriesPerRequest: 1 } }).on('error', () => undefined);
    closers.push(() => own.disconnect());
    const admin = new Cluster(clusterNodes(cluster.url).nodes, { redisOptions: { maxRetriesPerRequest: 1 } }).on('error', () => undefined);
    closers.push(() => admin.disconnect());
    const store = new VerdictStore(admin, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });

    // The primary serving the prefix's slot.
    const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', store.keys.stream));
    const ranges = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    const ownerPort = ranges.find(([start, end]) => start <= slot && slot <= end)![2][1];
    const owner = cluster.nodes.find((node) => node.port === ownerPort)!;
    // Announcements through another primary reach every live node: waiters wake and read mid-failover.
    const publisher = new Redis({ port: ranges.find(([, , [, port]]) => port !== ownerPort)![2][1], host: '127.0.0.1', maxRetriesPerRequest: 1 }).on('error', () => undefined);
    closers.push(() => publisher.disconnect());

    const errors: Seen[] = [];
    const onErrors: Seen[] = [];
    const handled = { own: [] as string[], url: [] as string[] };
    const clients = { own: createScanClient({ connection: own, prefix }), url: createScanClient({ connection: cluster.url, prefix }) };
    const consumers: Record<'own' | 'url', VerdictConsumer> = {
      own: createVerdictConsumer({
        connection: own, prefix, group: 'own', blockMs: 500,
        handler: async (verdict) => void handled.own.push(verdict.jobId),
        onError: (error) => void onErrors.push(seen('own onError', error)),
      }),
      url: createVerdictConsumer({
        connection: cluster.url, prefix, group: 'url', blockMs: 500,
        handler: async (verdict) => void handled.url.push(verdict.jobId),
        onError: (error) => void onErrors.push(seen('url onError', error)),
      }),
    };
    for (const kind of ['own', 'url'] as const) {
      closers.push(() => clients[kind].close(), () => consumers[kind].close());
      await consumers[kind].start();
    }
    // The operator's commands, in this process.
    process.env.REDIS_URL = cluster.url;
    process.env.ABUSE_SCAN_PREFIX = prefix;

    await store.storeAll([sampleVerdict('before')]);
    expect(await waitUntil(async () => handled.own.includes('before') && handled.url.includes('before'), 5000, 50)).toBe(true);
    // Waiting across the failover (woken by announcements while the slot has no primary): neither
    // failing nor ending early.
    const longWaits = (['own', 'url'] as const).map((kind) =>
      clients[kind].waitForVerdict('after-failover', { timeoutMs: 25_000 }).then(
        (verdict) => verdict.jobId,
        (error: unknown) => seen(`${kind} long waitForVerdict`, error),
      ),
    );
    await sleep(300);

    process.kill(owner.pid, 'SIGKILL');
    const killedAt = Date.now();
    // A round of calls every 150 ms through the failover (the replica takes over some 3 s after
    // the kill), each round not waiting for the ones before.
    const calls: Array<Promise<unknown>> = [];
    for (let round = 1; Date.now() - killedAt < 6000; round++) {
      for (const kind of ['own', 'url'] as const) {
        const client = clients[kind];
        calls.push(
          client.enqueue({ contentId: `failover-${kind}-${round}`, surface: 'send', items: ['https://failover.example/'] }).catch((error: unknown) => void errors.push(seen(`${kind} enqueue`, error))),
          client.getVerdict('before').catch((error: unknown) => void errors.push(seen(`${kind} getVerdict`, error))),
          client.waitForVerdict('before', { timeoutMs: 3000 }).catch((error: unknown) => void errors.push(seen(`${kind} waitForVerdict`, error))),
        );
      }
      publisher.publish(store.keys.channel, 'after-failover').catch(() => undefined);
      calls.push(
        withRedis((redis, config) => new VerdictStore(redis, { prefix: config.prefix, retentionSeconds: 1, streamMaxLength: 1 }).get('before')).catch((error: unknown) =>
          void errors.push(seen('verdict command', error)),
        ),
      );
      await sleep(150);
    }
    await Promise.all(calls);

    // The failover was seen (surely by the caller's Cluster), and only as redis_unavailable.
    expect(errors.filter(({ what }) => what.startsWith('own ')).length).toBeGreaterThan(0);
    expect(errors.filter((error) => error.code !== 'redis_unavailable')).toEqual([]);
    // Enqueues work again.
    for (const client of Object.values(clients)) {
      const enqueueWorks = () => client.enqueue({ contentId: `after-${Date.now()}`, surface: 'send', items: ['https://failover.example/'] }).then(() => true, () => false);
      expect(await waitUntil(enqueueWorks, 15_000, 200)).toBe(true);
    }

    // The waits rode the failover out, and the consumers read again.
    await store.storeAll([sampleVerdict('after-failover')]);
    expect(await Promise.all(longWaits)).toEqual(['after-failover', 'after-failover']);
    expect(await waitUntil(async () => handled.own.includes('after-failover') && handled.url.includes('after-failover'), 10_000, 50)).toBe(true);
    expect(onErrors.filter(({ what }) => what === 'own onError').length).toBeGreaterThan(0);
    expect(onErrors.filter((error) => error.code !== 'redis_unavailable')).toEqual([]);
    // One report per outage (at most one more if a read got through mid-failover), not one per failed round.
    expect(onErrors.filter(({ what }) => what === 'own onError').length).toBeLessThanOrEqual(2);
    expect(onErrors.filter(({ what }) => what === 'url onError').length).toBeLessThanOrEqual(2);
  }, 45_000);
});
