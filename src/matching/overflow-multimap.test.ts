/**
 * The overflow maps hold every entry added to an MIH table since its last build, copies of one
 * hash (one key) included: many slots under one key must cost no more per change than distinct
 * keys, and every slot must stay findable under its key.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/harness/seeded-random.js';
import { OverflowMultimap } from './overflow-multimap.js';

const EXACT = Uint32Array.of(0);

function slotsUnder(map: OverflowMultimap, key: number, masks = EXACT): number[] {
  const found: number[] = [];
  map.visitNeighbours(key, masks, (slot) => found.push(slot));
  return found.sort((a, b) => a - b);
}

function allSlots(map: OverflowMultimap): number[] {
  const found: number[] = [];
  map.forEachSlot((slot) => found.push(slot));
  return found.sort((a, b) => a - b);
}

function shuffled<T>(items: T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('OverflowMultimap with many slots under one key', () => {
  it('inserts and removes 20,000 copies of a key in O(1) probes each, among distinct keys', () => {
    const map = new OverflowMultimap();
    const copies = 20_000;
    const changes: Array<[key: number, slot: number]> = [];
    // Copies of one key interleaved with distinct keys, as a load of a set with many copies of one image.
    for (let slot = 0; slot < copies + 5_000; slot++) changes.push([slot % 5 === 4 ? 100_000 + slot : 7, slot]);
    for (const [key, slot] of changes) map.insert(key, slot);
    expect(map.size).toBe(changes.length);
    expect(slotsUnder(map, 7)).toHaveLength(copies);
    expect(slotsUnder(map, 100_004)).toEqual([4]);
    for (const [key, slot] of shuffled(changes, 1)) expect(map.remove(key, slot)).toBe(true);
    expect(map.size).toBe(0);
    expect(allSlots(map)).toEqual([]);
    // All copies in one probe run (a cell each, no cap) cost about copies^2 / 2 = 2e8 probes each way.
    expect(map.probes).toBeLessThan(8 * 2 * changes.length);
  });

  it('a probe for an absent key next to many copies examines few cells', () => {
    const map = new OverflowMultimap();
    for (let slot = 0; slot < 10_000; slot++) map.insert(3, slot);
    const before = map.probes;
    for (let key = 10; key < 1_010; key++) expect(map.remove(key, 0)).toBe(false);
    expect(map.probes - before).toBeLessThan(8 * 1_000);
  });

  it('remove tells a slot under another key, or absent, from a held one', () => {
    const map = new OverflowMultimap();
    map.insert(1, 10);
    map.insert(1, 11);
    map.insert(1, 12);
    map.insert(2, 20);
    expect(map.remove(2, 10)).toBe(false);
    expect(map.remove(1, 20)).toBe(false);
    expect(map.remove(1, 13)).toBe(false);
    expect(map.remove(1, 11)).toBe(true);
    expect(map.remove(1, 11)).toBe(false);
    expect(slotsUnder(map, 1)).toEqual([10, 12]);
    expect(map.remove(1, 10)).toBe(true);
    expect(slotsUnder(map, 1)).toEqual([12]);
    map.insert(1, 10);
    expect(slotsUnder(map, 1)).toEqual([10, 12]);
    expect(slotsUnder(map, 3, Uint32Array.of(0, 1, 2, 3))).toEqual([10, 12, 20]); // 3^2 = 1, 3^1 = 2
    expect(map.size).toBe(3);
  });
});

describe('OverflowMultimap against a plain model', () => {
  type Op = { insert: true; key: number } | { insert: false; pick: number; wrongKey: boolean };
  const op: fc.Arbitrary<Op> = fc.oneof(
    // Few keys (heavy sharing) and some from a wide range (distinct keys, directory growth).
    { weight: 5, arbitrary: fc.record({ insert: fc.constant(true as const), key: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 22 - 1 })) }) },
    { weight: 3, arbitrary: fc.record({ insert: fc.constant(false as const), pick: fc.nat(), wrongKey: fc.boolean() }) },
  );

  it('holds exactly the pairs inserted and not removed, through group growth, shrinking and tombstones', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 4 }), (ops, maskBits) => {
        const map = new OverflowMultimap();
        const model = new Map<number, number>(); // slot -> key
        let nextSlot = 0;
        const check = () => {
          expect(map.size).toBe(model.size);
          expect(allSlots(map)).toEqual([...model.keys()].sort((a, b) => a - b));
          const masks = Uint32Array.from(new Set([0, ...maskBits.map((bit) => 1 << bit)]));
          for (const key of [0, 1, 2, 3, ...model.values()].slice(0, 12)) {
            const expected = [...model].filter(([, held]) => masks.some((mask) => (key ^ mask) === held)).map(([slot]) => slot);
            expect(slotsUnder(map, key, masks)).toEqual(expected.sort((a, b) => a - b));
          }
        };
        ops.forEach((change, i) => {
          if (change.insert) {
            // A removed slot comes back now and then, as the store recycles vacated slots.
            const slot = i % 4 === 0 && nextSlot > model.size ? [...Array(nextSlot).keys()].find((s) => !model.has(s))! : nextSlot++;
            map.insert(change.key, slot);
            model.set(slot, change.key);
          } else {
            const held = [...model];
            if (held.length === 0) return;
            const [slot, key] = held[change.pick % held.length]!;
            if (change.wrongKey) {
              expect(map.remove(key ^ 1, slot)).toBe(false);
            } else {
              expect(map.remove(key, slot)).toBe(true);
              model.delete(slot);
            }
          }
          if (i % 50 === 0) check();
        });
        check();
      }),
      { numRuns: 150 },
    );
  });
});
