/**
 * List and hash-set replicas across a Redis failover that loses the last writes, against real
 * Redis. A promoted replica that missed a write is at the version before it; later writes reach
 * the lost version number again with other contents. The failover is played on one Redis: every
 * key of the list or set is DUMPed before the write that will be lost and RESTOREd after the
 * worker has applied it, as the promoted replica would hold them.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { HashSetReplicas } from '../../src/hashsets/hash-set-replicas.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { ListReplica } from '../../src/lists/list-replica.js';
import { ListStore } from '../../src/lists/list-store.js';
import { createLogger } from '../../src/runtime/logger.js';
import { waitUntil } from '../harness/fleet.js';
import { seededHash as hash } from '../harness/hashes.js';
import { targetOf } from '../harness/link-targets.js';
import { suiteRedis } from '../harness/redis.js';

/** Every key under `keyPrefix`, as DUMPs: what a replica that saw no later write holds. */
async function snapshot(redis: Redis, keyPrefix: string): Promise<Array<[string, Buffer]>> {
  const keys = await redis.keys(`${keyPrefix.replace(/[{}[\]*?\\]/g, '\\$&')}*`);
  return Promise.all(keys.map(async (key) => [key, (await redis.dumpBuffer(key))!] as [string, Buffer]));
}

/** Puts the keys back as they were at `snapshot` time, dropping keys made since: the failover. */
async function failOverTo(redis: Redis, keyPrefix: string, dumps: Array<[string, Buffer]>): Promise<void> {
  const now = await redis.keys(`${keyPrefix.replace(/[{}[\]*?\\]/g, '\\$&')}*`);
  if (now.length) await redis.del(...now);
  for (const [key, dump] of dumps) await redis.restore(key, 0, dump);
}

const listMatches = (replica: ListReplica, url: string) => replica.current().matchTargets([targetOf(url)]).matches.length;

describe('replicas across a failover that lost the last writes (real Redis)', () => {
  const { prefix, redis } = suiteRedis('replica-failover');

  it('a list: the lost version written again, and written past, is loaded again instead of kept or patched', async () => {
    const store = new ListStore(redis, { prefix });
    const keyPrefix = `${prefix}:list:failing:`;
    await store.add('failing', [canonicalEntry('kept.example')]);
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      const before = await snapshot(redis, keyPrefix);
      expect(await store.add('failing', [canonicalEntry('lost.example')])).toMatchObject({ version: 2 });
      expect(await waitUntil(async () => listMatches(replica, 'http://lost.example/') === 1, 2000, 10)).toBe(true);

      // Version 2 again, made by another write: the replica must not keep the lost one.
      await failOverTo(redis, keyPrefix, before);
      expect(await store.add('failing', [canonicalEntry('second.example')])).toMatchObject({ version: 2 });
      expect(await waitUntil(async () => listMatches(replica, 'http://second.example/') === 1, 2000, 10)).toBe(true);
      expect(listMatches(replica, 'http://lost.example/')).toBe(0);

      // Lost again, then written past the replica's version: version 3's records follow another
      // version 2 than the replica's and must not be applied on top of it.
      await failOverTo(redis, keyPrefix, before); // back to version 1: the replica holds a lost 2
      await store.add('failing', [canonicalEntry('third.example')]);
      await store.add('failing', [canonicalEntry('fourth.example')]);
      expect(await waitUntil(async () => listMatches(replica, 'http://fourth.example/') === 1, 2000, 10)).toBe(true);
      expect({ second: listMatches(replica, 'http://second.example/'), third: listMatches(replica, 'http://third.example/'), version: replica.current().versions().failing }).toEqual({
        second: 0,
        third: 1,
        version: '3',
      });
    } finally {
      await replica.close();
    }
  });

  it('a hash set: the lost version written again, and written past, is loaded again instead of kept or patched', async () => {
    const store = new HashSetStore(redis, { prefix });
    const keyPrefix = `${prefix}:hashset:failing:`;
    await store.create({ name: 'failing', algorithm: 'pdq' });
    await store.add('failing', [{ id: 'kept', hash: hash(1) }]);
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    const matches = (seed: number) => replicas.get('failing')?.match([hash(seed)]).length ?? 0;
    try {
      const before = await snapshot(redis, keyPrefix);
      expect(await store.add('failing', [{ id: 'lost', hash: hash(2) }])).toMatchObject({ version: 2 });
      expect(await waitUntil(async () => matches(2) === 1, 2000, 10)).toBe(true);

      await failOverTo(redis, keyPrefix, before);
      expect(await store.add('failing', [{ id: 'second', hash: hash(3) }])).toMatchObject({ version: 2 });
      expect(await waitUntil(async () => matches(3) === 1, 2000, 10)).toBe(true);
      expect(matches(2)).toBe(0);

      await failOverTo(redis, keyPrefix, before);
      await store.add('failing', [{ id: 'third', hash: hash(4) }]);
      await store.add('failing', [{ id: 'fourth', hash: hash(5) }]);
      expect(await waitUntil(async () => matches(5) === 1, 2000, 10)).toBe(true);
      expect({ second: matches(3), third: matches(4), version: replicas.get('failing')!.versionNumber }).toEqual({ second: 0, third: 1, version: 3 });
    } finally {
      await replicas.close();
    }
  });

  it('a staged import computed on a version that a failover lost is not committed onto the version written again', async () => {
    const store = new ListStore(redis, { prefix });
    const keyPrefix = `${prefix}:list:staged:`;
    await store.add('staged', [canonicalEntry('kept.example')]);
    const before = await snapshot(redis, keyPrefix);
    await store.add('staged', [canonicalEntry('lost.example')]);
    // The import stages its change against version 2 (with lost.example), then the failover and
    // another write make a version 2 without it, before the import commits.
    let failOver: (() => Promise<void>) | undefined = async () => {
      await failOverTo(redis, keyPrefix, before);
      await store.add('staged', [canonicalEntry('second.example')]);
    };
    // The first script call is the staging of the change: the failover comes once it ran.
    const stagingThenFailing = new Proxy(redis, {
      get(target, property, receiver) {
        if (property !== 'call') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: unknown[]) => {
          const reply: unknown = await (target.call as (...a: unknown[]) => Promise<unknown>)(...args);
          const hook = failOver;
          failOver = undefined;
          await hook?.();
          return reply;
        };
      },
    });
    await new ListStore(stagingThenFailing, { prefix }).import('staged', [canonicalEntry('imported.example')]);
    const values = [];
    for await (const page of store.scanEntries('staged')) values.push(...page.map(([field]) => field.slice(2)));
    expect(values.sort()).toEqual(['imported.example', 'kept.example', 'second.example']);
  });

  it('the changelog reader: records after a lost version are a gap for its holder, not for a replica of the new history', async () => {
    const store = new ListStore(redis, { prefix });
    const keyPrefix = `${prefix}:list:reader:`;
    await store.add('reader', [canonicalEntry('a.example')]);
    const before = await snapshot(redis, keyPrefix);
    await store.add('reader', [canonicalEntry('lost.example')]);
    const lost = (await store.identity('reader'))!;
    await failOverTo(redis, keyPrefix, before);
    const one = (await store.identity('reader'))!;
    await store.add('reader', [canonicalEntry('b.example')]);
    await store.add('reader', [canonicalEntry('c.example')]);
    expect(await store.changesSince('reader', 2, lost)).toEqual({ gap: true, version: 3 });
    expect(await store.changesSince('reader', 1, one)).toMatchObject({ gap: false, version: 3, changes: [{ version: 2 }, { version: 3 }] });
    // Without what it holds (tools), no check: the records as they are.
    expect(await store.changesSince('reader', 2)).toMatchObject({ gap: false, version: 3 });
  });
});
