/**
 * Entry number -> non-negative int32 (a slot, a node), in memory proportional to the entries held,
 * not to the numbers ever handed out. Hash sets never reuse an entry number: a set that turns over
 * its entries (a feed replacing 1M entries a day) holds numbers far beyond its size, and an array
 * indexed by the number directly grew with every number handed out (17.5 MB for the 1,000 live
 * entries of a set that had churned 2M; gigabytes per worker within a year of a rotating feed).
 *
 * Two layouts, chosen whenever the map outgrows (or shrinks far below) its current one:
 * - dense: `values[entry - base]`, while the held numbers span at most DENSE_SPAN_FACTOR times as
 *   many numbers as there are entries (a fresh set; a feed removing its oldest entries first, whose
 *   window slides up: the base follows the lowest held number);
 * - sparse: an open-addressing table (linear probing, Fibonacci hashing, backward-shift deletion)
 *   when the held numbers are scattered (entries removed here and there over a long history).
 * Either way at most 64 bytes per held entry, or 8 KiB while few are held (the first window, sized
 * by the constructor's `capacity`, stays until the first relayout), typically 4-8 (dense) or 16-32
 * (sparse). Only changes look entries up (the indexes' queries go slot -> entry through
 * their own arrays), so the choice costs matching nothing.
 */

const NONE = -1;
/** Smallest array either layout allocates. */
const MIN_LENGTH = 64;
/** Dense while the held numbers span no more than this many numbers per entry held. */
const DENSE_SPAN_FACTOR = 4;
/** A dense array shrinks once entries fill less than 1/DENSE_SHRINK of it (and it is longer than SHRINK_FLOOR). */
const DENSE_SHRINK = 16;
/** A table is laid out at most half full, grows past 5/8 full and shrinks below 1/SPARSE_SHRINK. */
const SPARSE_SHRINK = 8;
const SHRINK_FLOOR = 1024;
/** 2^32 / golden ratio: Fibonacci hashing spreads runs and strides of numbers over the table. */
const GOLDEN = 0x9e3779b1 | 0;

export class EntryMap {
  private count = 0;
  /** Dense: values[entry - base]. Sparse: values[i] for keys[i]. NONE where nothing is held. */
  private values: Int32Array;
  /** Sparse layout's keys (NONE = empty cell); null while dense. */
  private keys: Int32Array | null = null;
  private base = 0;
  /** Sparse: 32 - log2(capacity), and capacity - 1. */
  private shift = 0;
  private mask = 0;

  /** `capacity`: numbers the first dense window covers (from the first number set on an empty map). */
  constructor(capacity = 0) {
    this.values = new Int32Array(Math.max(MIN_LENGTH, Math.ceil(capacity))).fill(NONE);
  }

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the typed arrays held. */
  get byteLength(): number {
    return this.values.byteLength + (this.keys?.byteLength ?? 0);
  }

  /** Which layout is in use (for tests and reports). */
  get layout(): 'dense' | 'sparse' {
    return this.keys === null ? 'dense' : 'sparse';
  }

  /** The value held for `entry` (a non-negative integer), or -1. */
  get(entry: number): number {
    const keys = this.keys;
    if (keys === null) {
      const i = entry - this.base;
      return i >= 0 && i < this.values.length ? this.values[i]! : NONE;
    }
    for (let i = Math.imul(entry, GOLDEN) >>> this.shift; ; i = (i + 1) & this.mask) {
      const key = keys[i]!;
      if (key === entry) return this.values[i]!;
      if (key === NONE) return NONE;
    }
  }

  has(entry: number): boolean {
    return this.get(entry) !== NONE;
  }

  /** Holds `value` (a non-negative int32) for `entry` (a non-negative int32), replacing any. */
  set(entry: number, value: number): void {
    const keys = this.keys;
    if (keys === null) {
      const i = entry - this.base;
      if (i >= 0 && i < this.values.length) {
        if (this.values[i] === NONE) this.count++;
        this.values[i] = value;
        return;
      }
    } else {
      let i = Math.imul(entry, GOLDEN) >>> this.shift;
      for (; ; i = (i + 1) & this.mask) {
        const key = keys[i]!;
        if (key === entry) {
          this.values[i] = value;
          return;
        }
        if (key === NONE) break;
      }
      if (8 * (this.count + 1) <= 5 * keys.length) {
        keys[i] = entry;
        this.values[i] = value;
        this.count++;
        return;
      }
    }
    this.relayout(entry);
    this.set(entry, value);
  }

  /** Forgets `entry`; false when nothing was held for it. */
  delete(entry: number): boolean {
    const keys = this.keys;
    if (keys === null) {
      const i = entry - this.base;
      if (!(i >= 0 && i < this.values.length) || this.values[i] === NONE) return false;
      this.values[i] = NONE;
      this.count--;
      if (this.values.length > SHRINK_FLOOR && this.count * DENSE_SHRINK < this.values.length) this.relayout(NONE);
      return true;
    }
    const { values, mask, shift } = this;
    let hole = Math.imul(entry, GOLDEN) >>> shift;
    for (; ; hole = (hole + 1) & mask) {
      const key = keys[hole]!;
      if (key === entry) break;
      if (key === NONE) return false;
    }
    // Backward-shift deletion: pull later cells of the run into the hole when their home allows.
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const key = keys[j]!;
      if (key === NONE) break;
      const home = Math.imul(key, GOLDEN) >>> shift;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = key;
        values[hole] = values[j]!;
        hole = j;
      }
    }
    keys[hole] = NONE;
    values[hole] = NONE;
    this.count--;
    if (keys.length > SHRINK_FLOOR && this.count * SPARSE_SHRINK < keys.length) this.relayout(NONE);
    return true;
  }

  /** Forgets every entry, keeping the layout (a refill of the same numbers needs no relayout). */
  clear(): void {
    this.values.fill(NONE);
    this.keys?.fill(NONE);
    this.count = 0;
  }

  /** An empty map with this one's layout (to be filled with about the same numbers). */
  emptyCopy(): EntryMap {
    const copy = new EntryMap(0);
    copy.values = new Int32Array(this.values.length).fill(NONE);
    copy.keys = this.keys === null ? null : new Int32Array(this.keys.length).fill(NONE);
    copy.base = this.base;
    copy.shift = this.shift;
    copy.mask = this.mask;
    return copy;
  }

  /** Calls `visit` for every entry held, in no particular order. */
  forEach(visit: (entry: number, value: number) => void): void {
    const { keys, values, base } = this;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value !== NONE) visit(keys === null ? base + i : keys[i]!, value);
    }
  }

  /**
   * Lays the map out again for the entries held plus `extra` (an entry about to be set, or NONE):
   * dense over their span with as much room again on the side `extra` came from (above, as a feed
   * grows; below, as old entries come back), or a table at most half full. O(current length), paid
   * for by the changes since the last relayout (dense: the span must double; sparse: a table's
   * load must pass 5/8 or drop below 1/8, from 1/4..1/2).
   */
  private relayout(extra: number): void {
    const held = this.count + (extra === NONE ? 0 : 1);
    if (this.count === 0) {
      // Nothing to move: start afresh (keeping an array of the first window's size as it is).
      this.keys = null;
      this.base = extra === NONE ? 0 : extra;
      if (this.values.length > SHRINK_FLOOR && extra === NONE) this.values = new Int32Array(MIN_LENGTH).fill(NONE);
      return;
    }
    let heldLow = Infinity;
    let heldHigh = -1;
    this.forEach((entry) => {
      if (entry < heldLow) heldLow = entry;
      if (entry > heldHigh) heldHigh = entry;
    });
    const low = extra === NONE ? heldLow : Math.min(heldLow, extra);
    const high = extra === NONE ? heldHigh : Math.max(heldHigh, extra);
    const span = high - low + 1;
    const oldKeys = this.keys;
    const oldValues = this.values;
    const oldBase = this.base;
    if (span <= DENSE_SPAN_FACTOR * Math.max(held, MIN_LENGTH / 2)) {
      const length = Math.max(MIN_LENGTH, 2 * span);
      const base = extra !== NONE && extra < heldLow ? Math.max(0, high + 1 - length) : low;
      const values = new Int32Array(length).fill(NONE);
      if (oldKeys === null) {
        values.set(oldValues.subarray(heldLow - oldBase, heldHigh + 1 - oldBase), heldLow - base);
      } else {
        for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== NONE) values[oldKeys[i]! - base] = oldValues[i]!;
      }
      this.keys = null;
      this.values = values;
      this.base = base;
      return;
    }
    let capacity = MIN_LENGTH;
    while (capacity < 2 * held) capacity *= 2;
    this.keys = new Int32Array(capacity).fill(NONE);
    this.values = new Int32Array(capacity).fill(NONE);
    this.shift = 32 - Math.log2(capacity);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < oldValues.length; i++) {
      const value = oldValues[i]!;
      if (value !== NONE) this.set(oldKeys === null ? oldBase + i : oldKeys[i]!, value);
    }
  }
}
