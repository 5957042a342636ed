/**
 * A compacted bucket may hold thousands of slots (copies of one hash, near-blank frames): removing
 * them one by one must not search the whole bucket each time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededHashes, seededRandom } from '../../test/harness/seeded-random.js';
import { type SubstringTable, SubstringTableBuilder } from './mih-substring-table.js';
import { PackedHashStore } from './packed-hash-store.js';

/** A table over bits [0, width) of the store's live slots, built in one go. */
function buildTable(store: PackedHashStore, width: number, inlineWords: number): SubstringTable {
  const live = Int32Array.from({ length: store.slotCount }, (_, slot) => slot).filter((slot) => store.entryOfSlot[slot]! >= 0);
  const builder = new SubstringTableBuilder(0, width, inlineWords, live, live.length, new Int32Array(live.length), new Uint32Array(live.length), store);
  builder.step(Infinity);
  return builder.result!;
}

/** Live slots the table holds under `key` (bucket list or inline head, then overflow). */
function slotsUnder(table: SubstringTable, key: number): number[] {
  const found: number[] = [];
  const head = table.heads[key]!;
  if (head >= 0) found.push(head);
  if (head <= -2) {
    const at = -head - 2;
    for (let i = 0; i < table.lists[at]!; i++) {
      const slot = table.lists[at + 1 + i * table.stride]!;
      if (slot >= 0) found.push(slot);
    }
  }
  table.overflow.visitNeighbours(key, Uint32Array.of(0), (slot) => found.push(slot));
  return found.sort((a, b) => a - b);
}

function shuffled(count: number, seed: number): number[] {
  const rand = seededRandom(seed);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

describe('SubstringTable removal from large buckets', () => {
  it.each([0, 3])('removes 6,000 copies of one hash in O(log bucket) list probes each (%i inlined words)', (inlineWords) => {
    const copies = 6_000;
    const store = new PackedHashStore(256, copies + 2_000);
    const [shared] = seededHashes(1, 1);
    const others = seededHashes(2, 2_000);
    // Copies interleaved with other hashes: the bucket's slots are not one contiguous range.
    const copySlots: number[] = [];
    for (let id = 0; id < copies + others.length; id++) {
      const isCopy = id % 4 !== 3;
      const slot = store.insert(id, isCopy ? shared! : others[id >> 2]!, true);
      if (isCopy) copySlots.push(slot);
    }
    expect(copySlots).toHaveLength(copies);
    const table = buildTable(store, 16, inlineWords);
    const key = table.keyOf(store.words, copySlots[0]! * store.wordCount);
    expect(slotsUnder(table, key)).toHaveLength(copySlots.length);
    for (const i of shuffled(copySlots.length, 3)) expect(table.remove(key, copySlots[i]!)).toBe(true);
    expect(slotsUnder(table, key)).toEqual([]);
    expect(table.tombstones).toBe(copySlots.length);
    // A walk of the bucket examines about half of it per removal: ~9e6 entries here.
    expect(table.listProbes).toBeLessThan(copySlots.length * (Math.log2(copySlots.length) + 2));
  });

  it('finds each slot wherever the table holds it: list, tombstone of an earlier entry in the slot, overflow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 3 }), (seed, inlineWords) => {
        const rand = seededRandom(seed);
        const store = new PackedHashStore(256, 64);
        const pool = seededHashes(seed, 4); // four hashes: buckets of many slots
        const held = new Map<number, number>(); // slot -> key
        let nextId = 0;
        for (let i = 0; i < 300; i++) {
          const slot = store.insert(nextId++, pool[Math.floor(rand() * pool.length)]!, true);
          held.set(slot, -1);
        }
        const table = buildTable(store, 12, inlineWords);
        for (const slot of held.keys()) held.set(slot, table.keyOf(store.words, slot * store.wordCount));
        for (let step = 0; step < 600; step++) {
          const slots = [...held.keys()];
          if (rand() < 0.55 && slots.length > 0) {
            const slot = slots[Math.floor(rand() * slots.length)]!;
            const key = held.get(slot)!;
            expect(table.remove(key ^ 1, slot)).toBe(false);
            expect(table.remove(key, slot)).toBe(true);
            expect(table.remove(key, slot)).toBe(false);
            store.vacate(store.entryOfSlot[slot]!, true);
            held.delete(slot);
          } else {
            // Vacated slots are reused first: a slot tombstoned in a list comes back in the overflow.
            const slot = store.insert(nextId++, pool[Math.floor(rand() * pool.length)]!, true);
            const key = table.keyOf(store.words, slot * store.wordCount);
            table.add(key, slot);
            held.set(slot, key);
          }
        }
        for (const key of new Set(held.values())) {
          expect(slotsUnder(table, key)).toEqual([...held].filter(([, k]) => k === key).map(([slot]) => slot).sort((a, b) => a - b));
        }
      }),
      { numRuns: 40 },
    );
  });
});
