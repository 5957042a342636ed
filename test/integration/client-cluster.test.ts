import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { clusterNodes } from '../../src/runtime/redis.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { redisServerAvailable, startLocalCluster, type LocalCluster } from '../harness/redis-cluster.js';
import { uniquePrefix } from '../harness/redis.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { sampleVerdict } from '../harness/verdicts.js';

describe.skipIf(!redisServerAvailable())('the producer client on a Redis Cluster', () => {
  const prefix = uniquePrefix('wait-cluster');
  let cluster: LocalCluster;
  let admin: Cluster;
  let client: ScanClient;

  /** The server-side ids of subscriber connections, on every primary (only the client subscribes). */
  async function subscribers(): Promise<Array<{ node: ReturnType<Cluster['nodes']>[number]; id: string }>> {
    const found = [];
    for (const node of admin.nodes('master')) {
      const list = (await node.client('LIST')) as string;
      for (const line of list.split('\n')) if (/ cmd=subscribe /.test(line)) found.push({ node, id: /^id=(\d+)/.exec(line)![1]! });
    }
    return found;
  }

  beforeAll(async () => {
    cluster = await startLocalCluster();
    admin = new Cluster(clusterNodes(cluster.url).nodes);
    client = createScanClient({ connection: cluster.url, prefix });
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    admin?.disconnect();
    await cluster?.stop();
  });

  it('waitForVerdict finds a verdict stored while the subscriber connection is replaced', async () => {
    const store = new VerdictStore(admin, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
    const waiting = client.waitForVerdict('stored-during-reconnect', { timeoutMs: 5000 });
    expect(await waitUntil(async () => (await subscribers()).length === 1, 5000, 20)).toBe(true);
    // The subscriber's connection drops (failover, idle timeout); the verdict is announced before
    // ioredis has subscribed again through another connection.
    for (const { node, id } of await subscribers()) await node.client('KILL', 'ID', id);
    await store.storeAll([sampleVerdict('stored-during-reconnect', 'block')]);
    const started = Date.now();
    expect((await waiting).jobId).toBe('stored-during-reconnect');
    // Found once subscribed again, not by the last read at the deadline.
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a repeated enqueue routed to the other queue is a duplicate there too', async () => {
    const first = await client.enqueue({ contentId: 'cluster-post', surface: 'send', items: ['https://a.example/'] });
    const [again] = await client.enqueueBulk([{ job: { contentId: 'cluster-post', surface: 'send', items: [{ bytesBase64: SMALL_PNG_BASE64 }] } }]);
    expect(again).toEqual({ jobId: first.jobId, queue: 'links', duplicate: true });
  });
});
