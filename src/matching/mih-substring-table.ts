/**
 * One multi-index hashing table: a substring key -> the slots whose hash has that key.
 *
 * Compacted entries live in a direct table over the whole key space, `heads[key]`:
 *   -1     empty bucket
 *   >= 0   the bucket's only slot, stored inline (no second memory access)
 *   <= -2  the bucket starts at `lists[-head - 2]`: a count, then that many slots
 * At the sizes MIH is for (about one entry per key), most non-empty buckets hold one slot, so
 * inlining it saves the cache miss into a separate slot array on most probes.
 *
 * Entries added since the last compaction go to an overflow multimap, so add() never rebuilds;
 * removals of compacted entries leave a tombstone (-1). The owning index compacts once the pending
 * work passes a fraction of its size, which keeps changes amortised O(1) per table.
 */
import { extractKey } from './mih-layout.js';
import { OverflowMultimap } from './overflow-multimap.js';

export const EMPTY_BUCKET = -1;
export const TOMBSTONE = -1;
/** Marks a one-slot bucket during compaction until its slot is written (never a valid head). */
const SINGLE_PENDING = -0x80000000;

export class SubstringTable {
  readonly start: number;
  readonly width: number;
  /**
   * Hash words copied next to each slot in bucket lists (0: slots only). With k words, a list entry
   * is [slot, word 0 .. word k-1] of the slot's packed hash, so that candidates from lists are
   * screened on their first 32k bits in the list's own cache lines (see mih-candidates.ts).
   */
  readonly inlineWords: number;
  /** Int32 words per list entry: 1 + inlineWords. */
  readonly stride: number;
  heads: Int32Array;
  lists: Int32Array;
  readonly overflow = new OverflowMultimap();
  tombstones = 0;

  constructor(start: number, width: number, inlineWords = 0) {
    this.start = start;
    this.width = width;
    this.inlineWords = inlineWords;
    this.stride = 1 + inlineWords;
    this.heads = new Int32Array(2 ** width).fill(EMPTY_BUCKET);
    this.lists = new Int32Array(1); // never empty: CandidateBuffer reads lists[0] unconditionally
  }

  keyOf(words: Uint32Array, base: number): number {
    return extractKey(words, base, this.start, this.width);
  }

  add(key: number, slot: number): void {
    this.overflow.insert(key, slot);
  }

  remove(key: number, slot: number): boolean {
    const head = this.heads[key]!;
    if (head === slot) {
      this.heads[key] = EMPTY_BUCKET;
      this.tombstones++;
      return true;
    }
    if (head <= -2) {
      const { lists } = this;
      const at = -head - 2;
      const stride = this.stride;
      for (let i = at + 1, end = at + 1 + lists[at]! * stride; i < end; i += stride) {
        if (lists[i] === slot) {
          lists[i] = TOMBSTONE;
          this.tombstones++;
          return true;
        }
      }
    }
    return this.overflow.remove(key, slot);
  }

  /**
   * Rebuilds heads and lists in place from the live slots (ascending; their keys are read from
   * `words`; slots stay ascending within a bucket) and empties the overflow. Reusing `heads` for the bucket
   * counts avoids a second 2^width array at the peak of a 10M-entry build. `scratchKeys` and
   * `scratchSlots` (at least liveCount long) receive the entries grouped by their key's top bits
   * first, so that the passes over `heads` stay within a cache-sized window at a time (~3x faster
   * at 10M entries than updating it in random order).
   */
  compact(
    liveSlots: Int32Array,
    liveCount: number,
    scratchSlots: Int32Array,
    scratchKeys: Uint32Array,
    words: Uint32Array,
    wordCount: number,
  ): void {
    groupByTopBits(liveSlots, liveCount, words, wordCount, this.start, this.width, scratchSlots, scratchKeys);
    liveSlots = scratchSlots;
    const keys = scratchKeys;
    const heads = this.heads;
    heads.fill(0);
    for (let i = 0; i < liveCount; i++) heads[keys[i]!]!++;
    let listLength = 0;
    const { stride, inlineWords } = this;
    for (let key = 0; key < heads.length; key++) if (heads[key]! > 1) listLength += heads[key]! * stride + 1;
    const lists = new Int32Array(Math.max(1, listLength));
    let next = 0;
    for (let key = 0; key < heads.length; key++) {
      const count = heads[key]!;
      if (count === 0) {
        heads[key] = EMPTY_BUCKET;
      } else if (count === 1) {
        heads[key] = SINGLE_PENDING;
      } else {
        heads[key] = -next - 2;
        next += count * stride + 1; // lists[at] counts the slots placed so far, ending at the bucket size
      }
    }
    for (let i = 0; i < liveCount; i++) {
      const key = keys[i]!;
      const head = heads[key]!;
      if (head === SINGLE_PENDING) {
        heads[key] = liveSlots[i]!;
      } else {
        const at = -head - 2;
        const slot = liveSlots[i]!;
        const entry = at + 1 + lists[at]!++ * stride;
        lists[entry] = slot;
        for (let w = 0; w < inlineWords; w++) lists[entry + 1 + w] = words[slot * wordCount + w]!;
      }
    }
    this.lists = lists;
    this.tombstones = 0;
    this.overflow.clear();
  }
}

/**
 * Stable counting sort of the slots on the top (up to) 11 bits of their key (bits [start, start +
 * width) of each packed hash, read twice rather than held in another N-long array), into `out`.
 */
function groupByTopBits(
  slots: Int32Array,
  count: number,
  words: Uint32Array,
  wordCount: number,
  start: number,
  width: number,
  outSlots: Int32Array,
  outKeys: Uint32Array,
): void {
  const shift = Math.max(0, width - 11);
  const cursors = new Uint32Array(2 ** (width - shift) + 1);
  for (let i = 0; i < count; i++) cursors[(extractKey(words, slots[i]! * wordCount, start, width) >>> shift) + 1]!++;
  for (let group = 1; group < cursors.length; group++) cursors[group]! += cursors[group - 1]!;
  for (let i = 0; i < count; i++) {
    const key = extractKey(words, slots[i]! * wordCount, start, width);
    const at = cursors[key >>> shift]!++;
    outKeys[at] = key;
    outSlots[at] = slots[i]!;
  }
}
