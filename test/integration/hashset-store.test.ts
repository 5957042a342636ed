import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { EntryIdError, entryIdRefusal, MAX_ID_LENGTH } from '../../src/hashsets/hash-list-parser.js';
import { hashSetTombstonesKey } from '../../src/hashsets/hash-set-keys.js';
import { HashSetReplicas } from '../../src/hashsets/hash-set-replicas.js';
import { HashSetStore, REMOVE_BATCH } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import { createLogger } from '../../src/runtime/logger.js';
import { waitUntil } from '../harness/fleet.js';
import { deletePrefix, testRedis, uniquePrefix } from '../harness/redis.js';
import { seededHash as hash } from '../harness/hashes.js';

const entry = (id: string, seed: number, label?: string) => ({ id, hash: hash(seed), ...(label && { label }) });

describe('hash sets in Redis', () => {
  const prefix = uniquePrefix('hashsets');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('keeps every key under the prefix, hash tag included', async () => {
    await store.create({ name: 'keys', algorithm: 'pdq' });
    await store.add('keys', [entry('a', 1)]);
    const keys = await redis.keys(`*hashset*keys*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith(`${prefix}:`)).toBe(true);
  });

  it('add refuses, writing nothing, an id an import would refuse or read back as another: empty, or longer than 256 characters', async () => {
    expect(await store.create({ name: 'ids', algorithm: 'pdq' })).toBe(true);
    const longest = 'x'.repeat(MAX_ID_LENGTH);
    for (const id of ['', 'x'.repeat(MAX_ID_LENGTH + 1)]) {
      const refused = await store.add('ids', [entry('fine', 1), { id, hash: hash(2) }]).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(EntryIdError);
      expect(refused).toMatchObject({ id, refusal: entryIdRefusal(id) });
    }
    expect(await store.summary('ids')).toMatchObject({ version: 0, size: 0 });
    // What an import accepts, the store takes: up to 256 characters.
    expect(await store.add('ids', [entry(longest, 1)])).toEqual({ version: 1, added: 1, unchanged: 0, conflicts: [] });
  });

  it('adds 40,000 entries in one change (its 160,000 script arguments overflowed the call stack when spread)', async () => {
    await store.create({ name: 'large-batch', algorithm: 'pdq' });
    const result = await store.add('large-batch', Array.from({ length: 40_000 }, (_, i) => entry(`e${i}`, 1_000_000 + i)));
    expect(result).toMatchObject({ version: 1, added: 40_000 });
    expect(await store.summary('large-batch')).toMatchObject({ size: 40_000, version: 1 });
  }, 30_000);

  it('bumps the version once per change and never for a no-op', async () => {
    expect(await store.create({ name: 'v', algorithm: 'pdq' })).toBe(true);
    expect(await store.create({ name: 'v', algorithm: 'blockhash' })).toBe(false);
    expect((await store.summary('v')).config.algorithm).toBe('pdq');
    expect(await store.add('v', [entry('a', 1), entry('b', 2)])).toEqual({ version: 1, added: 2, unchanged: 0, conflicts: [] });
    expect(await store.add('v', [entry('a', 1), { id: 'b', hash: hash(3) }])).toEqual({ version: 1, added: 0, unchanged: 1, conflicts: ['b'] });
    expect(await store.disable('v', 'a', 'false positive')).toEqual({ version: 2, changed: true });
    expect(await store.disable('v', 'a', 'again')).toEqual({ version: 2, changed: false });
    expect((await store.info('v', ['a']))[0]).toMatchObject({ disabled: { reason: 'false positive' } });
    expect(await store.enable('v', 'a')).toEqual({ version: 3, changed: true });
    expect(await store.remove('v', ['b', 'missing'])).toEqual({ version: 4, removed: 1 });
    expect(await store.remove('v', ['b'])).toEqual({ version: 4, removed: 0 });
    await expect(store.add('nope', [entry('a', 1)])).rejects.toMatchObject({ code: 'hashset_not_found' });
  });

  it('removes many ids in changes of REMOVE_BATCH (one long script held Redis for seconds), and reads their info the same way', async () => {
    await store.create({ name: 'many', algorithm: 'pdq' });
    const ids = Array.from({ length: 2 * REMOVE_BATCH + 500 }, (_, i) => `e${i}`);
    for (let start = 0; start < ids.length; start += REMOVE_BATCH) {
      await store.add('many', ids.slice(start, start + REMOVE_BATCH).map((id, i) => ({ id, hash: hash(start + i) })));
    }
    const added = (await store.summary('many')).version;
    expect((await store.info('many', [...ids, 'missing'])).map((info) => info !== undefined)).toEqual([...ids.map(() => true), false]);
    expect(await store.remove('many', [...ids, 'missing'])).toEqual({ version: added + 3, removed: ids.length });
    expect((await store.summary('many')).size).toBe(0);
  });

  it('delete removes every key of the set (packs, changelog, quarantine, flood counters), announces it and says what it deleted; a missing set: undefined', async () => {
    await store.create({ name: 'doomed', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.add('doomed', Array.from({ length: 5000 }, (_, i) => entry(`e${i}`, 100 + i))); // two packs
    await store.disable('doomed', 'e1', 'fp');
    const { config } = await store.summary('doomed');
    const guard = new RedisFloodGuard(redis, prefix);
    expect(await guard.recordMatch(config, { entryNo: 0, id: 'e0' }, 'item-1')).toBe(false);
    expect(await guard.recordMatch(config, { entryNo: 0, id: 'e0' }, 'item-2')).toBe(true);
    const keys = store.keys('doomed');
    const before = await redis.keys(`${prefix}*`);
    const own = before.filter((key) => key.startsWith(`${prefix}:hashset:doomed:`));
    expect(own).toEqual(expect.arrayContaining([keys.meta, keys.entries, keys.info, keys.ids, keys.log, keys.quarantine, `${keys.packPrefix}0`, `${keys.packPrefix}1`]));
    expect(own.filter((key) => key.startsWith(keys.floodPrefix))).toHaveLength(1);

    const subscriber = redis.duplicate();
    const published: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => published.push(message));
    await subscriber.subscribe(store.channel);
    try {
      expect(await store.delete('doomed')).toEqual({ name: 'doomed', version: 2, entries: 5000 });
      expect(await waitUntil(async () => published.includes('doomed deleted'), 1000, 10)).toBe(true);
    } finally {
      await subscriber.quit();
    }
    // Left under the prefix: the tombstones, which keep the last version for a set created again.
    const tombstones = hashSetTombstonesKey(prefix);
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual([...new Set([...before.filter((key) => !own.includes(key)), tombstones])].sort());
    expect(await redis.hget(tombstones, 'doomed')).toBe('2');
    expect(await store.names()).not.toContain('doomed');
    await expect(store.summary('doomed')).rejects.toMatchObject({ code: 'hashset_not_found' });
    expect(await store.delete('doomed')).toBeUndefined();
    expect(await store.delete('never-made')).toBeUndefined();
  });

  it('a set deleted and created again starts fresh (past the old versions), even when a worker counted a match of the old one after the deletion', async () => {
    await store.create({ name: 'again', algorithm: 'pdq' });
    const atZero = (await store.identity('again'))!;
    await store.add('again', [entry('old', 1)]);
    const { config } = await store.summary('again');
    await store.delete('again');
    // A job that started on the deleted set still counts its match: the meta and a counter come back.
    await new RedisFloodGuard(redis, prefix).recordMatch(config, { entryNo: 0, id: 'old' }, 'late-item');
    new RedisFloodGuard(redis, prefix).recordSuppressions(config, 1);
    expect(await redis.keys(`${prefix}:hashset:again:*`)).toHaveLength(2);
    await expect(store.summary('again')).rejects.toMatchObject({ code: 'hashset_not_found' });

    expect(await store.create({ name: 'again', algorithm: 'pdq', kind: 'review', threshold: 20 })).toBe(true);
    const fresh = await store.summary('again');
    expect(fresh).toMatchObject({ version: 2, size: 0, matches: 0, suppressions: 0, nextEntryNo: 0, config: { kind: 'review', threshold: 20 } });
    expect((await redis.keys(`${prefix}:hashset:again:*`)).sort()).toEqual([store.keys('again').meta]);
    expect(await store.add('again', [entry('new', 2)])).toMatchObject({ version: 3, added: 1 });
    const { set } = await ReplicatedHashSet.load(store, 'again');
    expect({ size: set.size, old: set.match([hash(1)]).length, fresh: set.match([hash(2)]).length }).toEqual({ size: 1, old: 0, fresh: 1 });

    // A reader that held the old set at version 0 sees a gap, also when both were created in the
    // same millisecond (same creation time): version 0 has a stamp of its own.
    await redis.hset(store.keys('again').meta, 'createdAt', atZero.createdAt);
    expect(await store.changesSince('again', 0, atZero)).toEqual({ gap: true, version: 3 });
  });

  it('applies only the changes since a replica version (incremental), then reloads after a gap', async () => {
    await store.create({ name: 'inc', algorithm: 'pdq' });
    await store.add('inc', [entry('a', 1, 'A'), entry('b', 2)]);
    const { set } = await ReplicatedHashSet.load(store, 'inc');
    expect(set.version).toBe('1');
    await store.add('inc', [entry('c', 3)]);
    await store.disable('inc', 'a', 'fp');
    await store.remove('inc', ['b']);
    const since = await store.changesSince('inc', 1);
    expect(since).toMatchObject({ gap: false, version: 4, changes: [{ op: 'add', version: 2 }, { op: 'disable', version: 3 }, { op: 'remove', version: 4 }] });
    if (since.gap) throw new Error('unexpected gap');
    set.apply(since.changes, since.stamp);
    expect(set.version).toBe('4');
    expect(set.match([hash(1)])).toEqual([]);
    expect(set.match([hash(2)])).toEqual([]);
    const [match] = set.match([hash(3, 4)]);
    expect(match).toMatchObject({ distance: 4 });
    expect(await set.describe([match!.entryNo])).toEqual([{ id: 'c' }]);
    // Replaying records already applied changes nothing.
    set.apply(since.changes, since.stamp);
    expect(set.size).toBe(1);

    // The changelog trimmed past a replica's version: it must reload in full.
    await store.enable('inc', 'a');
    await redis.xtrim(store.keys('inc').log, 'MAXLEN', 0);
    expect(await store.changesSince('inc', 4)).toEqual({ gap: true, version: 5 });
  });

  it('a cold load reads the packs: added, disabled, enabled and removed entries as they stand', async () => {
    await store.create({ name: 'cold', algorithm: 'pdq' });
    await store.add('cold', Array.from({ length: 5000 }, (_, i) => entry(`e${i}`, 100 + i)));
    await store.disable('cold', 'e1', 'fp');
    await store.disable('cold', 'e4500', 'fp');
    await store.enable('cold', 'e4500');
    await store.remove('cold', ['e2', 'e4999']);
    const { set, stats } = await ReplicatedHashSet.load(store, 'cold');
    expect(stats.entries).toBe(4998);
    expect(set.size).toBe(4997);
    expect(set.version).toBe('5');
    for (const [seed, found] of [[100, 1], [101, 0], [102, 0], [4600, 1], [5099, 0], [5098, 1]] as const) {
      expect(set.match([hash(seed, 2)]).length, `seed ${seed}`).toBe(found);
    }
    const [match] = set.match([hash(4600)]);
    expect(await set.describe([match!.entryNo])).toEqual([{ id: 'e4500' }]);
  });

  it('a worker replica follows changes by pub/sub and reloads in full when the changelog is gone', async () => {
    await store.create({ name: 'live', algorithm: 'pdq' });
    await store.add('live', [entry('a', 1)]);
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      expect(replicas.get('live')!.version).toBe('1');
      await store.add('live', [entry('b', 2)]);
      expect(await waitUntil(async () => replicas.get('live')!.match([hash(2)]).length === 1, 1000, 10)).toBe(true);

      // Drop the changelog and move the version on (as a long outage would): the next change shows a gap.
      await redis.del(store.keys('live').log);
      await redis.hincrby(store.keys('live').meta, 'version', 5);
      await store.add('live', [entry('c', 3)]);
      expect(await waitUntil(async () => replicas.get('live')?.match([hash(3)]).length === 1, 2000, 10)).toBe(true);
      expect(replicas.get('live')!.version).toBe('8');
      expect(replicas.get('live')!.match([hash(2)])).toHaveLength(1);

      // A new set appears by its creation message.
      await store.create({ name: 'later', algorithm: 'blockhash' });
      expect(await waitUntil(async () => replicas.get('later') !== undefined, 1000, 10)).toBe(true);
    } finally {
      await replicas.close();
    }
  });

  it('the periodic check catches a change whose message was missed', async () => {
    await store.create({ name: 'missed', algorithm: 'pdq' });
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 100 });
    await replicas.start();
    try {
      // Written behind the store's back: no message, only the version moves. The record chains on
      // the version it follows (its stamp, which a set has from its creation on), as every writer's does.
      const { stamp } = await store.summary('missed');
      await redis.xadd(store.keys('missed').log, '1-0', 'op', 'add', 'no', '0', 'hash', Buffer.from(hash(9)), 'prev', stamp, 'stamp', `${stamp}1`);
      await redis.hset(store.keys('missed').entries, 'x', Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), Buffer.from(hash(9))]));
      await redis.hset(store.keys('missed').meta, 'version', 1, 'nextEntryNo', 1, 'stamp', `${stamp}1`);
      expect(await store.version('missed')).toBe(1);
      expect(await waitUntil(async () => replicas.get('missed')?.match([hash(9)]).length === 1, 2000, 20)).toBe(true);
    } finally {
      await replicas.close();
    }
  });

  it('flood guard: quarantines an entry past maxItems distinct items in its window, shared through Redis', async () => {
    await store.create({ name: 'flood', algorithm: 'pdq', flood: { maxItems: 3, windowSeconds: 1 } });
    const { config } = await store.summary('flood');
    let now = Date.UTC(2026, 0, 1);
    const workerA = new RedisFloodGuard(redis, prefix, undefined, () => now);
    const workerB = new RedisFloodGuard(redis, prefix, undefined, () => now);
    const match = { entryNo: 0, id: 'e0' };
    expect(await workerA.recordMatch(config, match, 'item-1')).toBe(false);
    expect(await workerB.recordMatch(config, match, 'item-2')).toBe(false);
    expect(await workerA.recordMatch(config, match, 'item-2')).toBe(false);
    expect(await workerB.recordMatch(config, match, 'item-3')).toBe(false);
    now += 1000; // next window: the count starts again
    for (const item of ['item-4', 'item-5', 'item-6']) expect(await workerA.recordMatch(config, match, item)).toBe(false);
    expect(await workerB.recordMatch(config, match, 'item-7')).toBe(true);
    now += 60_000;
    expect(await workerA.recordMatch(config, match, 'item-8')).toBe(true);
    expect(await store.quarantined('flood')).toEqual([expect.objectContaining({ id: 'e0', items: 4, windowSeconds: 1 })]);
    expect((await store.summary('flood')).matches).toBe(9);
    expect(await store.release('flood', ['e0'])).toBe(1);
    expect(await workerA.recordMatch(config, match, 'item-9')).toBe(false);
  });

  it('flood guard: a release within the window also clears its counter, so the next match does not re-quarantine', async () => {
    await store.create({ name: 'flood-release', algorithm: 'pdq', flood: { maxItems: 3, windowSeconds: 3600 } });
    await store.add('flood-release', [entry('viral', 1), entry('other', 2)]);
    const { config } = await store.summary('flood-release');
    const now = Date.UTC(2026, 0, 1, 10, 30);
    const guard = new RedisFloodGuard(redis, prefix, undefined, () => now);
    const viral = { entryNo: 0, id: 'viral' };
    const other = { entryNo: 1, id: 'other' };
    for (const item of ['item-1', 'item-2', 'item-3']) {
      expect(await guard.recordMatch(config, viral, item)).toBe(false);
      expect(await guard.recordMatch(config, other, item)).toBe(false);
    }
    expect(await guard.recordMatch(config, viral, 'item-4')).toBe(true);
    expect(await store.release('flood-release', ['viral', 'unknown-id'], now + 60_000)).toBe(1);
    expect(await store.quarantined('flood-release')).toEqual([]);
    // Same window: counting starts again from the release, up to maxItems new items.
    for (const item of ['item-5', 'item-6', 'item-7']) expect(await guard.recordMatch(config, viral, item)).toBe(false);
    expect(await guard.recordMatch(config, viral, 'item-8')).toBe(true);
    // Only the released entry's counter was cleared.
    expect(await guard.recordMatch(config, other, 'item-4')).toBe(true);
  });
});
