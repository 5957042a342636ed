/**
 * Hash-set replicas under production races, against real Redis: a changelog trimmed while a load
 * runs, a set deleted (HashSetStore.delete) and re-created under the same name, a set that
 * outgrows its index in one change, and Redis going away under a running replica.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { HashSetReplicas } from '../../src/hashsets/hash-set-replicas.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import { createLogger } from '../../src/runtime/logger.js';
import { waitUntil } from '../harness/fleet.js';
import { seededHash as hash } from '../harness/hashes.js';
import { suiteRedis } from '../harness/redis.js';
import { redisProxy } from '../harness/redis-proxy.js';

const entry = (id: string, seed: number) => ({ id, hash: hash(seed) });

describe('hash-set replicas under races (real Redis)', () => {
  const { prefix, redis } = suiteRedis('hashset-races');
  const store = new HashSetStore(redis, { prefix });

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
      await store.delete('reborn');
      await store.create({ name: 'reborn', algorithm: 'pdq', kind: 'negative' });
      await store.add('reborn', [entry('new-c', 13)]);
      await store.add('reborn', [entry('new-d', 14)]);
      await replicas.check();
      const same = replicas.get('reborn')!;
      expect({ kind: same.config.kind, old: same.match([hash(11)]).length, fresh: same.match([hash(13)]).length }).toEqual({ kind: 'negative', old: 0, fresh: 1 });

      // Past the replica's version: the new set's changelog must not be applied on the old contents.
      await store.delete('reborn');
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
      expect({ kind: fresh.config.kind, version: fresh.versionNumber, size: fresh.size, stale: fresh.match([hash(41)]).length }).toEqual({ kind: 'review', version: 1, size: 1, stale: 0 });
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
      await store.delete('twin');
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
