/**
 * A hash set's index queried with several variants of one image hash, on sets where thousands of
 * entries share one hash (one image imported many times, near-blank frames): answers stay those
 * of a brute force over every entry and variant while the copies are added, indexed and removed.
 */
import { describe, expect, it } from 'vitest';
import { nearHash, seededHashes } from '../../test/harness/seeded-random.js';
import { hammingDistance, type HashBytes } from '../matching/hash-bits.js';
import { EntryIndex, type VariantMatch } from './entry-index.js';

function bruteForce(entries: Map<number, HashBytes>, variants: readonly HashBytes[], radius: number): VariantMatch[] {
  const matches: VariantMatch[] = [];
  for (const [entryNo, hash] of entries) {
    let best: VariantMatch | undefined;
    variants.forEach((variant, v) => {
      const distance = hammingDistance(hash, variant);
      if (distance <= radius && (!best || distance < best.distance)) best = { entryNo, distance, variant: v };
    });
    if (best) matches.push(best);
  }
  return matches.sort((a, b) => a.distance - b.distance || a.entryNo - b.entryNo);
}

describe('EntryIndex with thousands of copies of one hash', () => {
  // 2,000 entries at threshold 31 get MIH, at 0 a BK-tree (choose-index.ts).
  it.each([31, 0])('threshold %i: exact through adds, indexing and removal of the copies', async (threshold) => {
    const index = new EntryIndex(256, threshold, 2_000);
    const entries = new Map<number, HashBytes>();
    const put = (entryNo: number, hash: HashBytes) => {
      index.add(entryNo, hash);
      entries.set(entryNo, hash);
    };
    const drop = (entryNo: number) => {
      expect(index.remove(entryNo)).toBe(true);
      entries.delete(entryNo);
    };
    seededHashes(11, 2_000).forEach((hash, entryNo) => put(entryNo, hash));
    await index.finishInBackground();
    const [shared] = seededHashes(12, 1);
    for (let entryNo = 2_000; entryNo < 8_000; entryNo++) put(entryNo, entryNo % 3 === 0 ? nearHash(shared!, 2) : shared!);
    const variantSets = [
      [shared!, ...seededHashes(13, 7)],
      [nearHash(shared!, 5), nearHash(shared!, 1)],
      [entries.get(17)!, nearHash(entries.get(18)!, 20)],
    ];
    const check = () => {
      for (const variants of variantSets) expect(index.query(variants)).toEqual(bruteForce(entries, variants, threshold));
    };
    check(); // queries move pending copies into the tables, a few thousand at a time
    check();
    await index.finishInBackground();
    check();
    for (let entryNo = 2_000; entryNo < 8_000; entryNo += 2) drop(entryNo);
    check();
    for (let entryNo = 8_000; entryNo < 9_000; entryNo++) put(entryNo, shared!);
    check();
    for (let entryNo = 2_001; entryNo < 8_000; entryNo += 2) drop(entryNo);
    check();
    expect(index.size).toBe(entries.size);
  });
});
