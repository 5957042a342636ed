/**
 * Hash-set replicas under production races, against real Redis: a changelog trimmed while a load
 * runs, a set deleted (HashSetStore.delete) and re-created under the same name (the deleted copy
 * dropped before the new one loads, and never described as, nor counted against, the new set's
 * entries), a set that outgrows its index in one change, and Redis going away under a running replica.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { floodWindow, RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { hashSetTombstonesKey } from '../../src/hashsets/hash-set-keys.js';
import { HashSetReplicas } from '../../src/hashsets/hash-set-replicas.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import { createLogger } from '../../src/runtime/logger.js';
import { waitUntil } from '../harness/fleet.js';
import { seededHash as hash } from '../harness/hashes.js';
import { suiteRedis } from '../harness/redis.js';
import { redisProxy } from '../harness/redis-proxy.js';

const entry = (id: string, seed: number) => ({ id, hash: hash(seed) });

/** A store whose pack reads (a load's bulk) wait while `gate` is set: a reload held open as long as a test needs. */
class GatedStore extends HashSetStore {
  gate: Promise<void> | undefined;
  override async *readPacks(name: string, nextEntryNo: number, inFlight?: number) {
    if (this.gate) await this.gate;
    yield* super.readPacks(name, nextEntryNo, inFlight);
  }
}

/**
 * A subscriber connection already connected: its 'ready' (which makes the replicas check every
 * set, besides start's own check) has passed, so no sync of start() can run late, after a test's
 * writes, and find them before the check the test makes.
 */
async function readySubscriber(redis: Redis): Promise<Redis> {
  const subscriber = redis.duplicate();
  await new Promise((resolve) => subscriber.once('ready', resolve));
  return subscriber;
}

/** A gate to set on a GatedStore, and the function that opens it. */
function gate(): { closed: Promise<void>; open: () => void } {
  let open!: () => void;
  const closed = new Promise<void>((resolve) => (open = resolve));
  return { closed, open };
}

describe('hash-set replicas under races (real Redis)', () => {
  const { prefix, redis } = suiteRedis('hashset-races');
  const store = new HashSetStore(redis, { prefix });
  /**
   * A deletion as a release from before the tombstones made it: a set created again then restarts
   * at version 0, so it can reach the number a replica holds of the deleted one. Replicas must
   * still tell the two apart (by the incarnation, not the number).
   */
  const deleteKeepingNoTombstone = async (name: string) => {
    await store.delete(name);
    await redis.hdel(hashSetTombstonesKey(prefix), name);
  };

  it('a load whose changelog is trimmed past its start on every attempt fails instead of labelling later entries with an earlier version', async () => {
    await store.create({ name: 'trimmed', algorithm: 'pdq' });
    await store.add('trimmed', [entry('first', 1)]);
    // A writer that trims the changelog hard, adding one entry per version while every load reads the packs.
    const writer = new HashSetStore(redis, { prefix, changelogMaxLength: 1 });
    let next = 0;
    class RacingStore extends HashSetStore {
      override async *readPacks(name: string, nextEntryNo: number, inFlight?: number) {
        for (let i = 0; i < 250; i++, next++) await writer.add('trimmed', [entry(`during-${next}`, 1000 + next)]);
        yield* super.readPacks(name, nextEntryNo, inFlight);
      }
    }
    const outcome = await ReplicatedHashSet.load(new RacingStore(redis, { prefix }), 'trimmed').then(
      ({ set }) => set,
      (error: unknown) => error,
    );
    if (outcome instanceof ReplicatedHashSet) {
      // Whatever version it names, its entries must be that version's: one per version here.
      expect({ version: outcome.versionNumber, size: outcome.size }).toEqual({ version: outcome.versionNumber, size: outcome.versionNumber });
    }
    expect(outcome).toBeInstanceOf(Error);
  });

  it('a set deleted and re-created under the same name is reloaded, config included, whatever version the new one reached', async () => {
    await store.create({ name: 'reborn', algorithm: 'pdq' });
    await store.add('reborn', [entry('old-a', 11)]);
    await store.add('reborn', [entry('old-b', 12)]);
    const subscriber = redis.duplicate();
    const replicas = new HashSetReplicas({ store, subscriber, logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      expect(replicas.get('reborn')).toMatchObject({ versionNumber: 2 });
      // Messages lost (as while the subscriber reconnects): only the version check can tell.
      await subscriber.unsubscribe();

      // Same version number as the replica's: 2.
      await deleteKeepingNoTombstone('reborn');
      await store.create({ name: 'reborn', algorithm: 'pdq', kind: 'negative' });
      await store.add('reborn', [entry('new-c', 13)]);
      await store.add('reborn', [entry('new-d', 14)]);
      await replicas.check();
      const same = replicas.get('reborn')!;
      expect({ kind: same.config.kind, old: same.match([hash(11)]).length, fresh: same.match([hash(13)]).length }).toEqual({ kind: 'negative', old: 0, fresh: 1 });

      // Past the replica's version: the new set's changelog must not be applied on the old contents.
      await deleteKeepingNoTombstone('reborn');
      await store.create({ name: 'reborn', algorithm: 'pdq' });
      for (const [id, seed] of [['x', 21], ['y', 22], ['z', 23]] as const) await store.add('reborn', [entry(id, seed)]);
      await replicas.check();
      const past = replicas.get('reborn')!;
      expect({ kind: past.config.kind, version: past.versionNumber, size: past.size, stale: past.match([hash(14)]).length }).toEqual({ kind: 'block', version: 3, size: 3, stale: 0 });
    } finally {
      await replicas.close();
    }
  });

  it('running replicas drop a deleted set within a second (not matched, not named in verdicts), and load one created again fresh', async () => {
    await store.create({ name: 'retired', algorithm: 'pdq' });
    await store.add('retired', [entry('old', 41)]);
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      expect(replicas.get('retired')!.match([hash(41)])).toHaveLength(1);
      const started = Date.now();
      expect(await store.delete('retired')).toEqual({ name: 'retired', version: 1, entries: 1 });
      expect(await waitUntil(async () => replicas.get('retired') === undefined, 1000, 10)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
      // The sets the signal type matches and names in a verdict's versions.
      expect(replicas.sets().map((set) => set.config.name)).not.toContain('retired');

      await store.create({ name: 'retired', algorithm: 'pdq', kind: 'review' });
      await store.add('retired', [entry('new', 42)]);
      expect(await waitUntil(async () => replicas.get('retired')?.match([hash(42)]).length === 1, 1000, 10)).toBe(true);
      const fresh = replicas.get('retired')!;
      // Created at 2, past the deleted set's last version (1); the add makes 3.
      expect({ kind: fresh.config.kind, version: fresh.versionNumber, size: fresh.size, stale: fresh.match([hash(41)]).length }).toEqual({ kind: 'review', version: 3, size: 1, stale: 0 });
    } finally {
      await replicas.close();
    }
  });

  it('an empty set deleted and created again, messages lost, is told apart though its version (0) and creation time are the same', async () => {
    await store.create({ name: 'twin', algorithm: 'pdq' });
    const subscriber = redis.duplicate();
    const replicas = new HashSetReplicas({ store, subscriber, logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      const before = (await store.identity('twin'))!;
      await subscriber.unsubscribe();
      await deleteKeepingNoTombstone('twin');
      await store.create({ name: 'twin', algorithm: 'pdq', kind: 'negative' });
      // Created in the same millisecond as far as the creation time tells: version 0's stamp differs.
      await redis.hset(store.keys('twin').meta, 'createdAt', before.createdAt);
      await replicas.check();
      expect(replicas.get('twin')!.config.kind).toBe('negative');

      // Deleted and not created again: the check finds it gone.
      await store.delete('twin');
      await replicas.check();
      expect(replicas.get('twin')).toBeUndefined();
    } finally {
      await replicas.close();
    }
  });

  it('a set deleted and re-created (messages lost): the deleted copy stops matching before the new one has loaded, and its stale matches name and count nothing of the new set', async () => {
    // recreate.mjs: a worker holds `csam` with one entry (#0); the set is deleted and created again,
    // and the new set's entry #0 is another image. The worker hears of it only at its version check.
    await store.create({ name: 'csam', algorithm: 'pdq' });
    const OLD = hash(1);
    await store.add('csam', [{ id: 'old-bad-image', hash: OLD, label: 'old label' }]);
    const reader = new GatedStore(redis, { prefix });
    const subscriber = await readySubscriber(redis);
    const replicas = new HashSetReplicas({ store: reader, subscriber, logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      // What a job in flight holds: the copy of the old set, as matched just before the check.
      const stale = replicas.get('csam')!;
      expect(stale.match([OLD])).toEqual([{ entryNo: 0, distance: 0, variant: 0 }]);
      await subscriber.unsubscribe();

      await store.delete('csam');
      // maxItems 1: a second distinct item counted against an entry quarantines it.
      await store.create({ name: 'csam', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
      await store.add('csam', Array.from({ length: 50 }, (_, i) => ({ id: `new-${i}`, hash: hash(1_000_000 + i), label: `new label ${i}` })));

      // The copy's match, before the sync notices: not described as the new set's entry #0 ...
      const [hit] = stale.match([OLD]);
      expect(await stale.describe([hit!.entryNo])).toEqual([undefined]);
      // ... nor counted against it, even under the id an unchecked describe gave it (new-0), by two
      // items (unchecked: the new set's `matches` at 2, and new-0 quarantined by maxItems 1).
      const guard = new RedisFloodGuard(redis, prefix);
      for (const item of ['c:tenant\u0000post-1', 'c:tenant\u0000post-2']) {
        expect(await guard.recordMatchAmong(stale.config, [{ entryNo: hit!.entryNo, id: 'new-0' }], item)).toBe(0);
      }
      // (The config the signal type hands the guard carries the incarnation loaded.)
      expect(stale.config.incarnation).toEqual({ createdAt: stale.createdAt, createdStamp: expect.any(String) });

      // The check finds another incarnation: the copy is dropped at once, while the new one loads.
      const held = gate();
      reader.gate = held.closed;
      let done = false;
      const checking = replicas.check().then(() => (done = true));
      expect(await waitUntil(async () => replicas.get('csam') === undefined, 2000, 5)).toBe(true);
      expect(done).toBe(false);
      expect(replicas.sets().map((set) => set.config.name)).not.toContain('csam');
      held.open();
      await checking;

      const fresh = replicas.get('csam')!;
      expect({ old: fresh.match([OLD]).length, new0: fresh.match([hash(1_000_000)]).map((h) => h.entryNo), size: fresh.size }).toEqual({ old: 0, new0: [0], size: 50 });
      expect(await fresh.describe([0])).toEqual([{ id: 'new-0', label: 'new label 0' }]);
      const meta = store.keys('csam');
      expect({
        matches: await redis.hget(meta.meta, 'matches'),
        quarantined: await store.quarantined('csam'),
        floodCounters: await redis.keys(`${meta.floodPrefix}*`),
      }).toEqual({ matches: '0', quarantined: [], floodCounters: [] });

      // The new copy counts as ever.
      expect(await guard.recordMatchAmong(fresh.config, [{ entryNo: 0, id: 'new-0' }], 'c:tenant\u0000post-3')).toBe(0);
      expect(await redis.hget(meta.meta, 'matches')).toBe('1');
      expect(await redis.exists(meta.flood(0, floodWindow(Date.now(), 3600)))).toBe(1);
    } finally {
      await replicas.close();
    }
  });

  it('a reload of the same set (changelog gap) keeps the copy matching until the reload is in', async () => {
    await store.create({ name: 'gapped', algorithm: 'pdq' });
    await store.add('gapped', [entry('kept', 51)]);
    const reader = new GatedStore(redis, { prefix });
    const subscriber = await readySubscriber(redis);
    const replicas = new HashSetReplicas({ store: reader, subscriber, logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      await subscriber.unsubscribe();
      await store.add('gapped', [entry('later', 52)]);
      await redis.del(store.keys('gapped').log); // the records since the copy's version are gone: a gap
      const held = gate();
      reader.gate = held.closed;
      const checking = replicas.check();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const during = replicas.get('gapped');
      expect({ held: during?.versionNumber, kept: during?.match([hash(51)]).length }).toEqual({ held: 1, kept: 1 });
      expect(await during!.describe([0])).toEqual([{ id: 'kept' }]);
      held.open();
      await checking;
      expect(replicas.get('gapped')!.match([hash(52)])).toHaveLength(1);
    } finally {
      await replicas.close();
    }
  });

  it('describe() and the flood guard read and count only in the incarnation a copy was loaded from', async () => {
    const guard = new RedisFloodGuard(redis, prefix);
    await store.create({ name: 'inc', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.add('inc', [{ id: 'a', hash: hash(61), label: 'first' }]);
    const { set: copy } = await ReplicatedHashSet.load(store, 'inc');
    const keys = store.keys('inc');
    // The same incarnation, later versions (other stamps): read and counted as ever.
    await store.add('inc', [entry('b', 62)]);
    expect(await copy.describe([0, 1, 7])).toEqual([{ id: 'a', label: 'first' }, { id: 'b' }, undefined]);
    expect(await guard.recordMatchAmong(copy.config, [{ entryNo: 0, id: 'a' }], 'item-1')).toBe(0);
    expect(await redis.hget(keys.meta, 'matches')).toBe('1');
    // recordSuppressions is not awaited (fire and forget): its effect is waited for. (Also loads
    // its script, so that the later calls run in order with this connection's next commands.)
    guard.recordSuppressions(copy.config, 2);
    expect(await waitUntil(async () => (await redis.hget(keys.meta, 'suppressions')) === '2', 2000, 10)).toBe(true);

    // Deleted and not created again: nothing read, nothing written (no meta left behind either).
    await store.delete('inc');
    expect(await copy.describe([0])).toEqual([undefined]);
    expect(await guard.recordMatchAmong(copy.config, [{ entryNo: 0, id: 'a' }], 'item-2')).toBe(0);
    guard.recordSuppressions(copy.config, 1);
    expect(await redis.keys(`${prefix}:hashset:inc:*`)).toEqual([]);

    // Created again in the same millisecond as far as createdAt tells: the creation stamp differs.
    await store.create({ name: 'inc', algorithm: 'pdq', kind: 'negative', flood: { maxItems: 1, windowSeconds: 3600 } });
    await redis.hset(keys.meta, 'createdAt', copy.createdAt);
    await store.add('inc', [{ id: 'a', hash: hash(63), label: 'another a' }]);
    expect(await copy.describe([0])).toEqual([undefined]);
    for (const item of ['item-3', 'item-4']) expect(await guard.recordMatchAmong(copy.config, [{ entryNo: 0, id: 'a' }], item)).toBe(0);
    guard.recordSuppressions(copy.config, 5);
    expect(await redis.hmget(keys.meta, 'matches', 'suppressions')).toEqual(['0', null]);
    expect({ quarantined: await store.quarantined('inc'), counters: await redis.keys(`${keys.floodPrefix}*`) }).toEqual({ quarantined: [], counters: [] });

    // A copy of the new incarnation reads it; one of a set from before creation stamps (none in
    // its meta) is checked by its creation time.
    const { set: renewed } = await ReplicatedHashSet.load(store, 'inc');
    expect(await renewed.describe([0])).toEqual([{ id: 'a', label: 'another a' }]);
    guard.recordSuppressions(renewed.config, 5);
    expect(await waitUntil(async () => (await redis.hget(keys.meta, 'suppressions')) === '5', 2000, 10)).toBe(true);
    await redis.hdel(keys.meta, 'createdStamp');
    const { set: legacy } = await ReplicatedHashSet.load(store, 'inc');
    expect(legacy.config.incarnation.createdStamp).toBe('');
    expect(await legacy.describe([0])).toEqual([{ id: 'a', label: 'another a' }]);
    expect(await renewed.describe([0])).toEqual([undefined]); // its creation stamp is no longer the set's
  });

  it('a set that outgrows its index in one change is reloaded with a fitting index, even when no further change comes', async () => {
    await store.create({ name: 'grown', algorithm: 'pdq' });
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      // Loaded empty: laid out for a handful of entries (a linear scan). One import batch of 3000 follows.
      await store.add('grown', Array.from({ length: 3000 }, (_, i) => entry(`e${i}`, 5000 + i)));
      expect(await waitUntil(async () => replicas.get('grown')?.versionNumber === 1, 2000, 10)).toBe(true);
      // The reload it starts on its own (no further change comes) swaps in a fitting index.
      await waitUntil(async () => replicas.get('grown')?.outgrown === false, 5000, 10);
      const set = replicas.get('grown')!;
      expect({ size: set.size, outgrown: set.outgrown }).toEqual({ size: 3000, outgrown: false });
    } finally {
      await replicas.close();
    }
  });

  it('Redis going away: matching goes on with the last replica, the outage is logged (not printed raw), and changes made meanwhile arrive once it is back', async () => {
    await store.create({ name: 'outage', algorithm: 'pdq' });
    await store.add('outage', [entry('before', 31)]);
    const proxy = await redisProxy();
    const connection = new Redis(proxy.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    connection.on('error', () => undefined); // the worker's own connection: reported by the worker
    const lines: string[] = [];
    const logger = createLogger('warn', 'test', new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const replicas = new HashSetReplicas({ store: new HashSetStore(connection, { prefix }), subscriber: connection.duplicate(), logger, checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      proxy.down();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(replicas.get('outage')!.match([hash(31)])).toHaveLength(1);
      await store.add('outage', [entry('during', 32)]); // straight to Redis: the replica cannot hear of it
      await new Promise((resolve) => setTimeout(resolve, 200));
      await proxy.up();
      expect(await waitUntil(async () => replicas.get('outage')!.match([hash(32)]).length === 1, 3000, 20)).toBe(true);
      expect(replicas.get('outage')!.versionNumber).toBe(2);
      expect(printed.mock.calls.filter((call) => String(call[0]).includes('[ioredis]'))).toEqual([]);
      expect(lines.some((line) => line.includes('subscriber'))).toBe(true);
    } finally {
      printed.mockRestore();
      await proxy.up();
      await replicas.close();
      connection.disconnect();
      await proxy.close();
    }
  });

  it('close() returns while Redis cannot be reached', async () => {
    await store.create({ name: 'closing', algorithm: 'pdq' });
    const proxy = await redisProxy();
    const connection = new Redis(proxy.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    connection.on('error', () => undefined);
    const subscriber = connection.duplicate();
    subscriber.on('error', () => undefined);
    const replicas = new HashSetReplicas({ store: new HashSetStore(connection, { prefix }), subscriber, logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    try {
      proxy.down();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = await Promise.race([replicas.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 2000, 'still closing'))]);
      expect(closed).toBe('closed');
    } finally {
      subscriber.disconnect();
      connection.disconnect();
      await proxy.close();
    }
  });
});
