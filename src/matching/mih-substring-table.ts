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
 * removals of compacted entries leave a tombstone (~slot, negative). The owning index rebuilds a
 * table once the pending work passes a fraction of its size, which keeps changes amortised O(1)
 * per table; the rebuild (SubstringTableBuilder) runs in bounded slices while the old table keeps
 * answering.
 */
import { extractKey } from './mih-layout.js';
import { OverflowMultimap } from './overflow-multimap.js';

export const EMPTY_BUCKET = -1;
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
  /** Bucket-list entries remove() examined since creation (tests: O(log bucket) each, see remove). */
  listProbes = 0;

  constructor(start: number, width: number, inlineWords = 0, heads?: Int32Array, lists?: Int32Array) {
    this.start = start;
    this.width = width;
    this.inlineWords = inlineWords;
    this.stride = 1 + inlineWords;
    this.heads = heads ?? new Int32Array(2 ** width).fill(EMPTY_BUCKET);
    this.lists = lists ?? new Int32Array(1); // never empty: CandidateBuffer reads lists[0] unconditionally
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
      // Bisection, not a walk: a bucket may hold thousands of copies of one hash, removed one by one.
      // Lists are built ascending by slot and a tombstone (~slot) keeps its slot's place in that order.
      const { lists, stride } = this;
      const at = -head - 2;
      let low = 0;
      let high = lists[at]! - 1;
      let probes = 0;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const i = at + 1 + middle * stride;
        const stored = lists[i]!;
        const held = stored < 0 ? ~stored : stored;
        probes++;
        if (held < slot) low = middle + 1;
        else if (held > slot) high = middle - 1;
        else if (stored < 0) break; // an earlier entry's tombstone: a reused slot is in the overflow
        else {
          lists[i] = ~slot;
          this.tombstones++;
          this.listProbes += probes;
          return true;
        }
      }
      this.listProbes += probes;
    }
    return this.overflow.remove(key, slot);
  }
}

/** The packed hashes a build reads keys and inlined words from (re-read each slice: the store may grow). */
export interface PackedWords {
  readonly words: Uint32Array;
  readonly wordCount: number;
}

/**
 * Builds a fresh table (heads and lists) from a fixed list of live slots, ascending, in slices of
 * bounded work (`step`), so that a rebuild never holds the event loop for long; the table it
 * replaces keeps answering meanwhile. Slots stay ascending within a bucket (SubstringTable.remove
 * bisects on that order). `scratchSlots` and
 * `scratchKeys` (at least `count` long, reusable by the next table's build once this one is done)
 * receive the entries grouped by their key's top bits first, so that the passes over `heads` stay
 * within a cache-sized window at a time (~3x faster at 10M entries than updating it in random order).
 */
export class SubstringTableBuilder {
  /** Bucket counts first, then the finished heads. A fresh array is zeroed: no fill needed. */
  private readonly heads: Int32Array;
  private lists = new Int32Array(1);
  private readonly stride: number;
  private readonly shift: number;
  /** Counting-sort cursors per group of keys (top bits of the key). */
  private readonly cursors: Uint32Array;
  private phase = 0;
  private at = 0;
  private listLength = 0;
  /** The finished table, once `step` has done all the work. */
  result: SubstringTable | null = null;

  constructor(
    private readonly start: number,
    private readonly width: number,
    private readonly inlineWords: number,
    private readonly slots: Int32Array,
    private readonly count: number,
    private readonly scratchSlots: Int32Array,
    private readonly scratchKeys: Uint32Array,
    private readonly store: PackedWords,
  ) {
    this.heads = new Int32Array(2 ** width);
    this.stride = 1 + inlineWords;
    this.shift = Math.max(0, width - 11);
    this.cursors = new Uint32Array(2 ** (width - this.shift) + 1);
  }

  /** Does at most about `units` items of work (slots or keys); returns the units left over. */
  step(units: number): number {
    while (units > 0 && this.result === null) {
      const length = this.phase <= 2 || this.phase === 5 ? this.count : this.heads.length;
      const end = Math.min(length, this.at + units);
      this.run(this.at, end);
      units -= end - this.at;
      this.at = end;
      if (end === length) this.endPhase();
    }
    return units;
  }

  private run(from: number, to: number): void {
    const { heads, slots, scratchSlots, scratchKeys, cursors, shift, start, width, stride, inlineWords } = this;
    const { words, wordCount } = this.store;
    switch (this.phase) {
      case 0: // group sizes
        for (let i = from; i < to; i++) cursors[(extractKey(words, slots[i]! * wordCount, start, width) >>> shift) + 1]!++;
        return;
      case 1: // stable scatter by group (keys read twice rather than held in another N-long array)
        for (let i = from; i < to; i++) {
          const key = extractKey(words, slots[i]! * wordCount, start, width);
          const at = cursors[key >>> shift]!++;
          scratchKeys[at] = key;
          scratchSlots[at] = slots[i]!;
        }
        return;
      case 2: // bucket sizes
        for (let i = from; i < to; i++) heads[scratchKeys[i]!]!++;
        return;
      case 3: // list space
        for (let key = from; key < to; key++) if (heads[key]! > 1) this.listLength += heads[key]! * stride + 1;
        return;
      case 4: // heads
        for (let key = from; key < to; key++) {
          const count = heads[key]!;
          if (count === 0) {
            heads[key] = EMPTY_BUCKET;
          } else if (count === 1) {
            heads[key] = SINGLE_PENDING;
          } else {
            heads[key] = -this.listLength - 2;
            this.listLength += count * stride + 1; // lists[at] counts the slots placed so far, ending at the bucket size
          }
        }
        return;
      default: {
        const lists = this.lists;
        for (let i = from; i < to; i++) {
          const key = scratchKeys[i]!;
          const head = heads[key]!;
          const slot = scratchSlots[i]!;
          if (head === SINGLE_PENDING) {
            heads[key] = slot;
          } else {
            const at = -head - 2;
            const entry = at + 1 + lists[at]!++ * stride;
            lists[entry] = slot;
            for (let w = 0; w < inlineWords; w++) lists[entry + 1 + w] = words[slot * wordCount + w]!;
          }
        }
      }
    }
  }

  private endPhase(): void {
    if (this.phase === 0) for (let group = 1; group < this.cursors.length; group++) this.cursors[group]! += this.cursors[group - 1]!;
    if (this.phase === 3) {
      this.lists = new Int32Array(Math.max(1, this.listLength));
      this.listLength = 0; // phase 4 reuses it as the next list's offset
    }
    this.phase++;
    this.at = 0;
    if (this.phase === 6) this.result = new SubstringTable(this.start, this.width, this.inlineWords, this.heads, this.lists);
  }
}
