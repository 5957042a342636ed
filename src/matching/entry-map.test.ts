/**
 * EntryMap holds what a Map would, through every layout change, in memory proportional to the
 * entries it holds: entry numbers are never reused, so a churned set's numbers run far beyond its size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryMap } from './entry-map.js';
import { MAX_ENTRY_ID } from './hash-index.js';

/** 64 bytes per entry held, or 8 KiB for a handful (entry-map.ts's bounds). */
const boundFor = (size: number): number => Math.max(64 * size + 64, 8192);

function expectSame(map: EntryMap, model: Map<number, number>): void {
  expect(map.size).toBe(model.size);
  const seen = new Map<number, number>();
  map.forEach((entry, value) => seen.set(entry, value));
  expect(seen).toEqual(model);
}

type Pattern = 'feed' | 'random' | 'descending' | 'strided' | 'bursts';

/** Numbers an owner hands out (never reused) under a pattern, and which held one a removal picks. */
function scenario(pattern: Pattern, rand: () => number) {
  let next = pattern === 'descending' ? MAX_ENTRY_ID : Math.floor(rand() * 1e6);
  const fresh = (): number => {
    if (pattern === 'descending') return next--;
    const n = next;
    next += pattern === 'strided' ? 1024 : pattern === 'bursts' && rand() < 0.01 ? 1 + Math.floor(rand() * 1e7) : 1;
    return n;
  };
  return { fresh, oldestFirst: pattern === 'feed' };
}

describe('EntryMap', () => {
  it.each<Pattern>(['feed', 'random', 'descending', 'strided', 'bursts'])('%s numbers: same answers as a Map, memory bounded by the entries held', (pattern) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 5000 }), (seed, capacity) => {
        let state = seed;
        const rand = (): number => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
        const { fresh, oldestFirst } = scenario(pattern, rand);
        const map = new EntryMap(capacity);
        const model = new Map<number, number>();
        const held: number[] = [];
        // Grow to a few thousand, shrink to a few, grow again: every relayout in both directions.
        const phases = [3000, 20, 2500, 0, 600];
        let step = 0;
        for (const target of phases) {
          while (held.length !== target) {
            const add = held.length < target ? rand() < 0.8 : rand() < 0.2;
            if (add) {
              const entry = fresh();
              const value = Math.floor(rand() * 2 ** 31);
              map.set(entry, value);
              model.set(entry, value);
              held.push(entry);
            } else if (held.length > 0) {
              const at = oldestFirst ? 0 : Math.floor(rand() * held.length);
              const entry = held[at]!;
              held.splice(at, 1);
              expect(map.delete(entry)).toBe(true);
              expect(map.delete(entry)).toBe(false);
              model.delete(entry);
            }
            if (++step % 97 === 0 && held.length > 0) {
              // A value replaced in place, a number never handed out, and the bound.
              const entry = held[Math.floor(rand() * held.length)]!;
              map.set(entry, 7);
              model.set(entry, 7);
              expect(map.get(entry)).toBe(7);
              expect(map.get(fresh())).toBe(-1);
            }
            // The first window (`capacity`) may stay until the map empties or relayouts.
            expect(map.byteLength).toBeLessThanOrEqual(Math.max(boundFor(map.size), 4 * capacity + 256));
          }
          expectSame(map, model);
          for (const entry of held) expect(map.get(entry)).toBe(model.get(entry));
          expect(map.byteLength).toBeLessThanOrEqual(Math.max(boundFor(map.size), 4 * capacity + 256));
        }
      }),
      { numRuns: 6 },
    );
  });

  it('stays dense and small for a feed that removes its oldest entries first, however far its numbers run', () => {
    const map = new EntryMap(1000);
    let oldest = 0;
    let next = 0;
    for (; next < 1000; next++) map.set(next, next & 0xffff);
    // 1M numbers through a 1,000-entry window.
    let missed = 0;
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < 1000; i++) map.set(next, next++ & 0xffff);
      for (let i = 0; i < 1000; i++) if (!map.delete(oldest++)) missed++;
    }
    expect(missed).toBe(0);
    expect(map.size).toBe(1000);
    expect(map.layout).toBe('dense');
    expect(map.byteLength).toBeLessThanOrEqual(8 * 4 * 1000);
    for (let entry = oldest; entry < next; entry++) expect(map.get(entry)).toBe(entry & 0xffff);
    expect(map.get(oldest - 1)).toBe(-1);
    expect(map.get(next)).toBe(-1);
  });

  it('switches to a table when a few entries are left scattered over many numbers, and back when they bunch up', () => {
    const map = new EntryMap();
    for (let entry = 0; entry < 100_000; entry++) map.set(entry, entry);
    for (let entry = 0; entry < 100_000; entry++) if (entry % 1000 !== 0) map.delete(entry);
    expect(map.size).toBe(100);
    expect(map.layout).toBe('sparse');
    expect(map.byteLength).toBeLessThanOrEqual(boundFor(100));
    for (let entry = 0; entry < 100_000; entry += 1000) expect(map.get(entry)).toBe(entry);
    expect(map.get(1)).toBe(-1);
    // The scattered ones go; a run of new numbers comes.
    for (let entry = 0; entry < 100_000; entry += 1000) map.delete(entry);
    for (let entry = 200_000; entry < 210_000; entry++) map.set(entry, 1);
    expect(map.layout).toBe('dense');
    expect(map.byteLength).toBeLessThanOrEqual(8 * 4 * 10_000);
  });

  it('takes back old entries below its window without a relayout for each', () => {
    const map = new EntryMap();
    for (let entry = 1_000_000; entry < 1_010_000; entry++) map.set(entry, 0);
    // Old entries enabled again, newest first: each lands below the lowest number held.
    let relayouts = 0;
    let bytes = map.byteLength;
    for (let entry = 999_999; entry >= 990_000; entry--) {
      map.set(entry, 1);
      if (map.byteLength !== bytes) relayouts++;
      bytes = map.byteLength;
    }
    expect(relayouts).toBeLessThanOrEqual(3);
    expect(map.size).toBe(20_000);
    expect(map.get(990_000)).toBe(1);
    expect(map.get(1_009_999)).toBe(0);
  });
});
