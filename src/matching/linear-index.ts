/**
 * Linear scan over packed words: the reference every other index is tested against, and the fastest
 * index for small sets (no probing overhead, sequential memory). Removal swaps the last slot in, so
 * the scan never meets a hole.
 */
import { popcount32, type HashBytes } from './hash-bits.js';
import { assertRadius, compareMatches, type HashIndex, type HashMatch } from './hash-index.js';
import { PackedHashStore } from './packed-hash-store.js';

export class LinearIndex implements HashIndex {
  private readonly store: PackedHashStore;
  private readonly queryWords: Uint32Array;

  constructor(bits: number, expectedSize = 0) {
    this.store = new PackedHashStore(bits, expectedSize);
    this.queryWords = new Uint32Array(this.store.wordCount);
  }

  get bits(): number {
    return this.store.bits;
  }

  get size(): number {
    return this.store.liveCount;
  }

  add(entryId: number, hash: HashBytes): void {
    this.store.insert(entryId, hash, false);
  }

  remove(entryId: number): boolean {
    return this.store.swapRemove(entryId);
  }

  has(entryId: number): boolean {
    return this.store.slotOf(entryId) >= 0;
  }

  get entryMapBytes(): number {
    return this.store.entryMapBytes;
  }

  query(hash: HashBytes, radius: number): HashMatch[] {
    assertRadius(radius);
    this.store.pack(hash, this.queryWords);
    const matches: HashMatch[] = [];
    const { words, entryOfSlot, slotCount, wordCount } = this.store;
    const found = (slot: number, distance: number): void => {
      matches.push({ entryId: entryOfSlot[slot]!, distance });
    };
    if (wordCount === 8) scan256(words, slotCount, this.queryWords, radius, found);
    else if (wordCount === 2) scan64(words, slotCount, this.queryWords, radius, found);
    else scanAnyLength(words, slotCount, wordCount, this.queryWords, radius, found);
    return matches.sort(compareMatches);
  }
}

type OnMatch = (slot: number, distance: number) => void;

/**
 * PDQ / blockhash: the query's eight words live in locals and the partial distance is checked every
 * two words; random hashes are ~32 bits apart after 64 bits, so most slots exit after one check.
 */
function scan256(words: Uint32Array, slotCount: number, query: Uint32Array, radius: number, found: OnMatch): void {
  const q0 = query[0]!, q1 = query[1]!, q2 = query[2]!, q3 = query[3]!;
  const q4 = query[4]!, q5 = query[5]!, q6 = query[6]!, q7 = query[7]!;
  for (let slot = 0, base = 0; slot < slotCount; slot++, base += 8) {
    let distance = popcount32(words[base]! ^ q0) + popcount32(words[base + 1]! ^ q1);
    if (distance > radius) continue;
    distance += popcount32(words[base + 2]! ^ q2) + popcount32(words[base + 3]! ^ q3);
    if (distance > radius) continue;
    distance += popcount32(words[base + 4]! ^ q4) + popcount32(words[base + 5]! ^ q5);
    if (distance > radius) continue;
    distance += popcount32(words[base + 6]! ^ q6) + popcount32(words[base + 7]! ^ q7);
    if (distance <= radius) found(slot, distance);
  }
}

function scan64(words: Uint32Array, slotCount: number, query: Uint32Array, radius: number, found: OnMatch): void {
  const q0 = query[0]!, q1 = query[1]!;
  for (let slot = 0, base = 0; slot < slotCount; slot++, base += 2) {
    const distance = popcount32(words[base]! ^ q0) + popcount32(words[base + 1]! ^ q1);
    if (distance <= radius) found(slot, distance);
  }
}

function scanAnyLength(
  words: Uint32Array,
  slotCount: number,
  wordCount: number,
  query: Uint32Array,
  radius: number,
  found: OnMatch,
): void {
  for (let slot = 0, base = 0; slot < slotCount; slot++, base += wordCount) {
    let distance = 0;
    for (let w = 0; w < wordCount && distance <= radius; w++) distance += popcount32(words[base + w]! ^ query[w]!);
    if (distance <= radius) found(slot, distance);
  }
}
