/**
 * One multi-index hashing table: a substring key -> the slots whose hash has that key.
 *
 * Compacted entries live CSR-style: `offsets[key]..offsets[key + 1]` indexes `slots`, a direct table
 * over the whole key space (2^width + 1 offsets), so a probe is two array reads and no hashing.
 * Entries added since the last compaction go to an overflow multimap, so add() never rebuilds;
 * removals of compacted entries leave a tombstone (-1) in `slots`. The owning index compacts every
 * table once the pending work (overflow + tombstones) passes a fraction of the size, which keeps
 * add/remove amortised O(1) per table.
 */
import { extractKey } from './mih-layout.js';
import { OverflowMultimap } from './overflow-multimap.js';

export const TOMBSTONE = -1;

export class SubstringTable {
  readonly start: number;
  readonly width: number;
  offsets: Uint32Array;
  slots: Int32Array;
  readonly overflow = new OverflowMultimap();
  tombstones = 0;

  constructor(start: number, width: number) {
    this.start = start;
    this.width = width;
    this.offsets = new Uint32Array(2 ** width + 1);
    this.slots = new Int32Array(0);
  }

  keyOf(words: Uint32Array, base: number): number {
    return extractKey(words, base, this.start, this.width);
  }

  add(key: number, slot: number): void {
    this.overflow.insert(key, slot);
  }

  remove(key: number, slot: number): boolean {
    const { slots } = this;
    for (let i = this.offsets[key]!, end = this.offsets[key + 1]!; i < end; i++) {
      if (slots[i] === slot) {
        slots[i] = TOMBSTONE;
        this.tombstones++;
        return true;
      }
    }
    return this.overflow.remove(key, slot);
  }

  /**
   * Rebuilds the CSR arrays from the live slots (counting sort by key, slots ascending within a
   * bucket) and empties the overflow. `keys[i]` is the key of `liveSlots[i]`.
   */
  compact(liveSlots: Int32Array, keys: Uint32Array, liveCount: number): void {
    const offsets = new Uint32Array(2 ** this.width + 1);
    for (let i = 0; i < liveCount; i++) offsets[keys[i]! + 1]!++;
    for (let key = 1; key < offsets.length; key++) offsets[key]! += offsets[key - 1]!;
    const slots = new Int32Array(liveCount);
    // Fill with offsets[key] as a cursor, then shift back: no second 2^width array needed.
    for (let i = 0; i < liveCount; i++) slots[offsets[keys[i]!]!++] = liveSlots[i]!;
    for (let key = offsets.length - 1; key > 0; key--) offsets[key] = offsets[key - 1]!;
    offsets[0] = 0;
    this.offsets = offsets;
    this.slots = slots;
    this.tombstones = 0;
    this.overflow.clear();
  }
}
