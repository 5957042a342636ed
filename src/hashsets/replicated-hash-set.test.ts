/**
 * Loading a replica builds its index in slices between turns of the event loop (other sets' jobs,
 * lock renewals and /metrics keep running), and the loaded set matches exactly. A replica's memory
 * follows the entries it holds, not the entry numbers the set has handed out (never reused).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hammingDistance, type HashBytes } from '../matching/hash-bits.js';
import { deletePrefix, testRedis, uniquePrefix } from '../../test/harness/redis.js';
import { nearHash, seededRandom } from '../../test/harness/seeded-random.js';
import type { VariantMatch } from './entry-index.js';
import { resolveHashSetConfig } from './hash-set-config.js';
import { PACK_ENABLED, PACK_ENTRIES } from './hash-set-keys.js';
import { HashSetStore } from './hash-set-store.js';
import { ReplicatedHashSet } from './replicated-hash-set.js';
import { HashSet } from './hash-set.js';
import { blockhashBitsFromBlank } from '../images/blockhash.js';

/** Just what `load` reads: the summary, the packs, and an empty changelog (read last: `onChangesRead`). */
function storeOf(hashes: Uint8Array[], onChangesRead: () => void, algorithm: 'pdq' | 'blockhash' = 'pdq'): HashSetStore {
  const config = resolveHashSetConfig({ name: 'big', algorithm });
  const store = {
    summary: async () => ({ config, version: 1, size: hashes.length, createdAt: 't0', matches: 0, suppressions: 0, nextEntryNo: hashes.length }),
    async *readPacks() {
      for (let first = 0; first < hashes.length; first += PACK_ENTRIES) {
        const entries = hashes.slice(first, first + PACK_ENTRIES);
        const pack = Buffer.alloc(entries.length * 33);
        entries.forEach((hash, i) => {
          pack[i * 33] = PACK_ENABLED;
          pack.set(hash, i * 33 + 1);
        });
        yield { firstEntryNo: first, pack };
      }
    },
    changesSince: async () => {
      onChangesRead();
      return { gap: false, changes: [] };
    },
  };
  return store as unknown as HashSetStore;
}

describe('ReplicatedHashSet.load', () => {
  it('builds the index without holding the event loop, then matches exactly', async () => {
    const rand = seededRandom(9);
    const hashes = Array.from({ length: 40_000 }, () => Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)));
    // From the last read on, all that is left of the load is the index build.
    let ticks = 0;
    let last = 0;
    let maxGapMs = 0;
    let timer: NodeJS.Timeout | undefined;
    const onChangesRead = (): void => {
      last = performance.now();
      timer = setInterval(() => {
        const now = performance.now();
        maxGapMs = Math.max(maxGapMs, now - last);
        last = now;
        ticks++;
      }, 1);
    };
    const { set } = await ReplicatedHashSet.load(storeOf(hashes, onChangesRead), 'big');
    clearInterval(timer);
    maxGapMs = Math.max(maxGapMs, performance.now() - last);
    // Timers fired during the build (a build in one piece lets none fire), and no gap came near a
    // whole build's length. The bound is loose: on a loaded 2-core CI machine the OS may preempt
    // this process for tens of ms between two slices (seen: a 675 ms test with a gap over 80 ms).
    expect(ticks).toBeGreaterThan(2);
    expect(maxGapMs).toBeLessThan(250); // ~8 ms slices
    expect(set.size).toBe(hashes.length);
    const query = Uint8Array.from(hashes[123]!);
    query[0]! ^= 0xff;
    const expected = hashes
      .map((hash, entryNo) => ({ entryNo, distance: hammingDistance(hash, query), variant: 0 }))
      .filter(({ distance }) => distance <= 31)
      .sort((a, b) => a.distance - b.distance || a.entryNo - b.entryNo);
    expect(set.match([query])).toEqual(expected);
  });
});

describe('ReplicatedHashSet.bitsFromBlank', () => {
  it("gives an entry's own bits from blank as a HashSet of the same hashes does, up to the threshold, and undefined once it cannot match", async () => {
    const rand = seededRandom(11);
    const nearBlank = new Uint8Array(32);
    nearBlank[0] = 0xf0; // a small white mark on black: 4 bits from blank
    const caption = new Uint8Array(32);
    caption.fill(0xf0, 0, 8); // 32 bits from blank
    const photo = Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
    const hashes = [nearBlank, caption, photo];
    expect(hashes.map(blockhashBitsFromBlank)).toEqual([4, 32, expect.any(Number)]);
    expect(blockhashBitsFromBlank(photo)).toBeGreaterThan(64);
    const { set } = await ReplicatedHashSet.load(storeOf(hashes, () => undefined, 'blockhash'), 'big');
    const file = new HashSet(resolveHashSetConfig({ name: 'big', algorithm: 'blockhash' }));
    hashes.forEach((hash, i) => file.add({ id: `e${i}`, hash }));
    // Exact up to the threshold (64); the replica keeps no more, Infinity standing for "farther".
    expect([0, 1, 2, 3].map((entryNo) => set.bitsFromBlank(entryNo))).toEqual([4, 32, Infinity, undefined]);
    expect([0, 1, 2, 3].map((entryNo) => file.bitsFromBlank(entryNo))).toEqual([4, 32, blockhashBitsFromBlank(photo), undefined]);
    set.apply(
      [
        { version: 2, op: 'disable', entryNo: 0 },
        { version: 3, op: 'remove', entryNo: 1 },
      ],
      's3',
    );
    expect([0, 1].map((entryNo) => set.bitsFromBlank(entryNo))).toEqual([undefined, undefined]);
    set.apply([{ version: 4, op: 'enable', entryNo: 0, hash: nearBlank }], 's4');
    expect(set.bitsFromBlank(0)).toBe(4);
  });

  it('is Infinity for the entries of a PDQ set (no blank rule)', async () => {
    const { set } = await ReplicatedHashSet.load(storeOf([new Uint8Array(32).fill(0x5a)], () => undefined), 'big');
    expect([set.bitsFromBlank(0), set.bitsFromBlank(1)]).toEqual([Infinity, undefined]);
  });
});

describe('ReplicatedHashSet memory under churn (Redis)', () => {
  const prefix = uniquePrefix('replica-churn');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  /** Every live entry within the threshold of any variant, at its closest variant (ties: the earlier one). */
  function bruteForce(live: Map<number, HashBytes>, variants: readonly HashBytes[]): VariantMatch[] {
    const matches: VariantMatch[] = [];
    for (const [entryNo, hash] of live) {
      let best: VariantMatch | undefined;
      variants.forEach((variant, v) => {
        const distance = hammingDistance(hash, variant);
        if (distance <= 31 && (!best || distance < best.distance)) best = { entryNo, distance, variant: v };
      });
      if (best) matches.push(best);
    }
    return matches.sort((a, b) => a.distance - b.distance || a.entryNo - b.entryNo);
  }

  /** Near copies of live hashes (within and past the threshold) and random misses, two variants each. */
  function expectExact(set: ReplicatedHashSet, live: Map<number, HashBytes>, rand: () => number): void {
    const hashes = [...live.values()];
    for (let q = 0; q < 40; q++) {
      const random = () => Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
      const base = q % 4 === 3 || hashes.length === 0 ? random() : hashes[Math.floor(rand() * hashes.length)]!;
      const variants = [nearHash(base, Math.floor(rand() * 40)), q % 2 ? random() : nearHash(base, 20)];
      expect(set.match(variants)).toEqual(bruteForce(live, variants));
    }
  }

  /** 64 bytes per live entry, or 8 KiB for a handful (entry-map.ts): ~200x less than by entry number here. */
  const bound = (live: number): number => Math.max(64 * live + 64, 8192);

  it('a set that churned 200k entries loads, and then churns live, in memory for its live entries only', async () => {
    const rand = seededRandom(41);
    const hashOf = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
    await store.create({ name: 'churn', algorithm: 'pdq' });
    let id = 0;
    const round = async (count: number, remove: boolean): Promise<Array<{ id: string; hash: Uint8Array }>> => {
      const entries = Array.from({ length: count }, () => ({ id: `e${id++}`, hash: hashOf() }));
      await store.add('churn', entries);
      if (remove) await store.remove('churn', entries.map((entry) => entry.id));
      return entries;
    };
    for (let r = 0; r < 20; r++) await round(10_000, true);
    const kept = await round(1000, false);
    const summary = await store.summary('churn');
    expect(summary).toMatchObject({ size: 1000, nextEntryNo: 201_000 });

    const { set } = await ReplicatedHashSet.load(store, 'churn');
    expect(set.size).toBe(1000);
    // By entry number: 201,000 state bytes and a 400k-slot int32 map (1.8 MB).
    expect(set.entryMapBytes()).toBeLessThanOrEqual(bound(1000));
    const live = new Map(kept.map((entry, i) => [200_000 + i, entry.hash]));
    expectExact(set, live, rand);

    // Live: rounds of 10k added then removed, some kept entries disabled, enabled and replaced.
    const sync = async (): Promise<void> => {
      const since = await store.changesSince('churn', set.versionNumber, set.held);
      if (since.gap) throw new Error('the changelog was trimmed during the test');
      set.apply(since.changes, since.stamp);
    };
    for (let r = 0; r < 5; r++) {
      const added = await round(10_000, false);
      await sync();
      expect(set.size).toBe(live.size + 10_000);
      added.forEach((entry, i) => live.set(id - 10_000 + i, entry.hash));
      expectExact(set, live, rand);
      await store.remove('churn', added.map((entry) => entry.id));
      for (let i = 0; i < 10_000; i++) live.delete(id - 10_000 + i);
      // One kept entry replaced by a new one, one disabled (no longer matched) and one enabled again.
      const gone = kept[r]!;
      await store.remove('churn', [gone.id]);
      live.delete(200_000 + r);
      const [fresh] = await round(1, false);
      live.set(id - 1, fresh!.hash);
      await store.disable('churn', kept[100 + r]!.id, 'test');
      live.delete(200_100 + r);
      if (r > 0) {
        await store.enable('churn', kept[100 + r - 1]!.id);
        live.set(200_100 + r - 1, kept[100 + r - 1]!.hash);
      }
      await sync();
      expect(set.size).toBe(live.size);
      expect(set.entryMapBytes()).toBeLessThanOrEqual(bound(live.size));
      expectExact(set, live, rand);
    }
    const reloaded = (await ReplicatedHashSet.load(store, 'churn')).set;
    expect(reloaded.size).toBe(live.size);
    expect(reloaded.entryMapBytes()).toBeLessThanOrEqual(bound(live.size));
    expectExact(reloaded, live, rand);
  });
});
