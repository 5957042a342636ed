/**
 * Packs of removed entries are freed: a pack (4096 entry numbers) whose every entry was removed is
 * unlinked, by the per-bucket count in `packlive`, so a rotating feed (add new hashes, remove old
 * ones) keeps only the packs of its live entries. Cold loads (which skip missing packs) and replicas
 * following the changelog see the same set as before; buckets begun before counts were kept (no
 * count) never lose their pack.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { PACK_ENTRIES } from '../../src/hashsets/hash-set-keys.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import { deletePrefix, testRedis, uniquePrefix } from '../harness/redis.js';
import { seededHash as hash } from '../harness/hashes.js';

describe('hash-set packs of removed entries', () => {
  const prefix = uniquePrefix('hashset-packs');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await redis.quit();
  });

  /** Bucket numbers of the set's packs in Redis. */
  async function packs(name: string): Promise<number[]> {
    const { packPrefix } = store.keys(name);
    return (await redis.keys(`${packPrefix}*`)).map((key) => Number(key.slice(packPrefix.length))).sort((a, b) => a - b);
  }

  async function counts(name: string): Promise<Record<string, string>> {
    return redis.hgetall(store.keys(name).packLive);
  }

  /** Which of `seeds` (id -> hash seed) the replica matches exactly. */
  function matched(set: ReplicatedHashSet, seeds: ReadonlyMap<string, number>): string[] {
    return [...seeds].filter(([, seed]) => set.match([hash(seed)]).some((match) => match.distance === 0)).map(([id]) => id).sort();
  }

  /** A replica that catches up with the changelog only (never reloads). */
  async function follow(name: string, replica: ReplicatedHashSet): Promise<void> {
    const since = await store.changesSince(name, replica.versionNumber, replica.held);
    if (since.gap) throw new Error('the follower met a gap');
    replica.apply(since.changes, since.stamp);
  }

  it('a rotating feed keeps only the packs of live entries; cold loads and an incremental replica see the same set', async () => {
    const name = 'feed';
    await store.create({ name, algorithm: 'pdq' });
    const follower = (await ReplicatedHashSet.load(store, name)).set;
    const seeds = new Map<string, number>(); // every id ever added -> its hash seed
    const enabled = new Set<string>(); // the ids that must match
    const add = async (entries: Array<[string, number]>) => {
      for (const [id, seed] of entries) {
        seeds.set(id, seed);
        enabled.add(id);
      }
      expect((await store.add(name, entries.map(([id, seed]) => ({ id, hash: hash(seed) })))).added).toBe(entries.length);
      await follow(name, follower);
    };
    const remove = async (ids: string[]) => {
      for (const id of ids) enabled.delete(id);
      expect((await store.remove(name, ids)).removed).toBe(ids.length);
      await follow(name, follower);
    };
    const round = (day: number) => Array.from({ length: PACK_ENTRIES }, (_, i): [string, number] => [`d${day}-${i}`, day * 10_000 + i + 1]);

    // Four "days" of a feed: each adds a full bucket and removes the day before's.
    for (let day = 0; day < 4; day++) {
      await add(round(day));
      if (day > 0) await remove(round(day - 1).map(([id]) => id));
      expect(await packs(name)).toEqual([day]);
    }
    expect(await counts(name)).toEqual({ 3: String(PACK_ENTRIES) });

    // A partly emptied bucket keeps its pack, a disabled entry included (it stays in its pack).
    const day3 = round(3).map(([id]) => id);
    expect((await store.disable(name, day3[0]!, 'fp')).changed).toBe(true);
    await follow(name, follower);
    enabled.delete(day3[0]!);
    await remove(day3.slice(1, 2048));
    expect(await packs(name)).toEqual([3]);
    expect(await counts(name)).toEqual({ 3: '2049' });

    // The last bucket, emptied while entry numbers are still handed out in it: its pack goes, and
    // comes back with the next entries.
    await add(Array.from({ length: 10 }, (_, i): [string, number] => [`t${i}`, 900_000 + i]));
    await remove(['t0', 't1', 't2', 't3', 't4']);
    expect(await packs(name)).toEqual([3, 4]);
    await remove(['t5', 't6', 't7', 't8', 't9']);
    expect(await packs(name)).toEqual([3]);
    expect(await counts(name)).toEqual({ 3: '2049' });
    await add(Array.from({ length: 3 }, (_, i): [string, number] => [`u${i}`, 910_000 + i]));
    // An id removed and added again gets a new entry number, as before.
    await add([['d0-5', 6]]);
    expect((await store.summary(name)).nextEntryNo).toBe(4 * PACK_ENTRIES + 14);
    expect(await packs(name)).toEqual([3, 4]);
    expect(await counts(name)).toEqual({ 3: '2049', 4: '4' });

    const expected = [...enabled].sort();
    expect(expected).toHaveLength(2048 + 4);
    const { set: cold, stats } = await ReplicatedHashSet.load(store, name);
    expect(stats.entries).toBe(2049 + 4); // the disabled entry included
    expect(cold.size).toBe(expected.length);
    expect(follower.size).toBe(expected.length);
    expect(follower.version).toBe(cold.version);
    expect(matched(cold, seeds)).toEqual(expected);
    expect(matched(follower, seeds)).toEqual(expected);
    const readded = cold.match([hash(6)]).find((match) => match.distance === 0)!;
    expect(readded.entryNo).toBe(4 * PACK_ENTRIES + 13);
    expect(await cold.describe([readded.entryNo])).toEqual([{ id: 'd0-5' }]);
    let packsRead = 0;
    for await (const _ of store.readPacks(name, (await store.summary(name)).nextEntryNo)) packsRead++;
    expect(packsRead).toBe(2);

    // Only the disabled entry left: the pack stays; removed, the pack goes.
    await remove(day3.slice(2048));
    expect(await packs(name)).toEqual([3, 4]);
    expect(await counts(name)).toEqual({ 3: '1', 4: '4' });
    await remove([day3[0]!]);
    expect(await packs(name)).toEqual([4]);
    expect(await counts(name)).toEqual({ 4: '4' });
    const { set: after } = await ReplicatedHashSet.load(store, name);
    const left = ['d0-5', 'u0', 'u1', 'u2'];
    expect(matched(after, seeds)).toEqual(left);
    expect(matched(follower, seeds)).toEqual(left);
    expect(after.size).toBe(4);
    expect(follower.size).toBe(4);

    // Delete takes the counts with it; a set created again under the name starts without any.
    await store.delete(name);
    expect(await redis.keys(`${prefix}:hashset:${name}:*`)).toEqual([]);
    await redis.hset(store.keys(name).packLive, '0', '7'); // as a writer without counts deleting the set would leave them
    expect(await store.create({ name, algorithm: 'pdq' })).toBe(true);
    expect(await redis.exists(store.keys(name).packLive)).toBe(0);
    await store.add(name, [{ id: 'a', hash: hash(1) }]);
    expect(await counts(name)).toEqual({ 0: '1' });
    await store.remove(name, ['a']);
    expect(await packs(name)).toEqual([]);
    expect(await counts(name)).toEqual({});
  });

  it('a set written before counts were kept never loses a pack of those buckets; buckets begun since are freed', async () => {
    const name = 'legacy';
    await store.create({ name, algorithm: 'pdq' });
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `e${from + i}`);
    const entries = (from: number, n: number) => ids(from, n).map((id, i) => ({ id, hash: hash(from + i + 1) }));
    await store.add(name, entries(0, PACK_ENTRIES + 100)); // bucket 0 full, bucket 1 begun
    await redis.del(store.keys(name).packLive); // as written before counts were kept
    const follower = (await ReplicatedHashSet.load(store, name)).set;

    // Bucket 0 emptied: no count, so its pack stays.
    await store.remove(name, ids(0, PACK_ENTRIES));
    expect(await packs(name)).toEqual([0, 1]);
    // Entries added to bucket 1 (begun uncounted) stay uncounted; bucket 2 begins counted.
    await store.add(name, entries(PACK_ENTRIES + 100, 4100));
    expect(await counts(name)).toEqual({ 2: '104' });
    await store.remove(name, ids(PACK_ENTRIES, 4200));
    expect(await packs(name)).toEqual([0, 1]);
    expect(await counts(name)).toEqual({});
    await follow(name, follower);

    const seeds = new Map(ids(0, 2 * PACK_ENTRIES + 104).map((id, i) => [id, i + 1] as [string, number]));
    const { set: cold, stats } = await ReplicatedHashSet.load(store, name);
    expect(stats.entries).toBe(0);
    expect(matched(cold, seeds)).toEqual([]);
    expect(follower.size).toBe(0);
  });

  it('a count that says 0 while the pack still holds entries (a writer that keeps no counts added to the bucket) is corrected, not trusted', async () => {
    const name = 'drift';
    await store.create({ name, algorithm: 'pdq' });
    await store.add(name, Array.from({ length: 10 }, (_, i) => ({ id: `a${i}`, hash: hash(i + 1) })));
    await store.add(name, Array.from({ length: 5 }, (_, i) => ({ id: `b${i}`, hash: hash(100 + i) })));
    await redis.hincrby(store.keys(name).packLive, '0', -5); // the b entries, as if added uncounted
    await store.remove(name, Array.from({ length: 10 }, (_, i) => `a${i}`));
    expect(await packs(name)).toEqual([0]);
    expect(await counts(name)).toEqual({ 0: '5' });
    const { set } = await ReplicatedHashSet.load(store, name);
    expect(set.size).toBe(5);
    await store.remove(name, ['b0', 'b1', 'b2', 'b3', 'b4']);
    expect(await packs(name)).toEqual([]);
    expect(await counts(name)).toEqual({});
  });
});
