/**
 * Loading a replica builds its index in slices between turns of the event loop (other sets' jobs,
 * lock renewals and /metrics keep running), and the loaded set matches exactly.
 */
import { describe, expect, it } from 'vitest';
import { hammingDistance } from '../matching/hash-bits.js';
import { seededRandom } from '../../test/harness/seeded-random.js';
import { resolveHashSetConfig } from './hash-set-config.js';
import { PACK_ENABLED, PACK_ENTRIES } from './hash-set-keys.js';
import type { HashSetStore } from './hash-set-store.js';
import { ReplicatedHashSet } from './replicated-hash-set.js';

/** Just what `load` reads: the summary, the packs, and an empty changelog (read last: `onChangesRead`). */
function storeOf(hashes: Uint8Array[], onChangesRead: () => void): HashSetStore {
  const config = resolveHashSetConfig({ name: 'big', algorithm: 'pdq' });
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
