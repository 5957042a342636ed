/**
 * `ListStore.delete` and `HashSetStore.delete` on a Redis Cluster: their scripts find keys named at
 * run time (staged imports, flood counters) by SCAN on the node that runs them, which holds the
 * prefix's hash tag, so every key of the deleted list or set goes, and nothing else; the last
 * version of each stays in its tombstones, so the one made again goes on after it.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { hashSetTombstonesKey } from '../../src/hashsets/hash-set-keys.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { listTombstonesKey } from '../../src/lists/list-keys.js';
import { ListStore } from '../../src/lists/list-store.js';
import { createRedis, type RedisClient } from '../../src/runtime/redis.js';
import { seededHash as hash } from '../harness/hashes.js';
import { redisServerAvailable, startLocalCluster, type LocalCluster } from '../harness/redis-cluster.js';

/** Every key on every primary. */
async function allKeys(redis: RedisClient): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  return (await Promise.all(nodes.map((node) => node.keys('*')))).flat().sort();
}

describe.skipIf(!redisServerAvailable())('deleting a list or a hash set on a Redis Cluster', () => {
  let cluster: LocalCluster;
  let redis: RedisClient;
  const prefix = '{abuse-scan}';

  beforeAll(async () => {
    cluster = await startLocalCluster();
    redis = createRedis(cluster.url);
  }, 30_000);

  afterAll(async () => {
    await redis?.quit();
    await cluster?.stop();
  });

  it('unlinks every key of the list or set, those found by SCAN included, and leaves the others', async () => {
    const lists = new ListStore(redis, { prefix });
    const sets = new HashSetStore(redis, { prefix });
    await lists.add('kept', [canonicalEntry('kept.example')]);
    await lists.add('doomed', [canonicalEntry('evil.example')]);
    await redis.hset(lists.keys('doomed').staging('under-way'), 'd:staged.example', '2026-01-01T00:00:00.000Z {}');
    await sets.create({ name: 'kept', algorithm: 'pdq' });
    await sets.create({ name: 'doomed', algorithm: 'pdq' });
    await sets.add('doomed', [{ id: 'a', hash: hash(1) }]);
    await new RedisFloodGuard(redis, prefix).recordMatch((await sets.summary('doomed')).config, { entryNo: 0, id: 'a' }, 'item-1');
    const before = await allKeys(redis);
    const doomed = before.filter((key) => /:(list|hashset):doomed:/.test(key));
    expect(doomed.some((key) => key.includes(':staging:')) && doomed.some((key) => key.includes(':flood:'))).toBe(true);

    expect(await lists.delete('doomed')).toEqual({ name: 'doomed', version: 1, entries: 1 });
    expect(await sets.delete('doomed')).toEqual({ name: 'doomed', version: 1, entries: 1 });
    const tombstones = [listTombstonesKey(prefix), hashSetTombstonesKey(prefix)];
    expect(await allKeys(redis)).toEqual([...before.filter((key) => !doomed.includes(key)), ...tombstones].sort());
    expect({ lists: await lists.names(), sets: await sets.names() }).toEqual({ lists: ['kept'], sets: ['kept'] });
    expect([await redis.hget(tombstones[0]!, 'doomed'), await redis.hget(tombstones[1]!, 'doomed')]).toEqual(['1', '1']);
    // Made again: past the deleted one's last version.
    expect(await lists.add('doomed', [canonicalEntry('evil.example')])).toMatchObject({ version: 2 });
    await sets.create({ name: 'doomed', algorithm: 'pdq' });
    expect(await sets.version('doomed')).toBe(2);
  });
});
