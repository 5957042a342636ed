/**
 * Hashes packed into one growable Uint32Array (big-endian words, so bit order matches the bytes),
 * with the slot <-> entryId maps the indexes share. One typed array instead of one object per entry
 * keeps 10M x 256-bit hashes at ~40 bytes an entry and lets scans run over contiguous memory.
 */
import { ScanError } from '../errors.js';
import { EntryMap } from './entry-map.js';
import { popcount32, type HashBytes } from './hash-bits.js';
import { assertEntryId } from './hash-index.js';

export function assertHashBits(bits: number): void {
  if (!Number.isInteger(bits) || bits <= 0 || bits % 8 !== 0 || bits > 4096) {
    throw new RangeError(`hash bits must be a positive multiple of 8 up to 4096, got ${bits}`);
  }
}

export function wordCountFor(bits: number): number {
  return Math.ceil(bits / 32);
}

export function assertHashLength(hash: HashBytes, bits: number): void {
  if (!(hash instanceof Uint8Array) || hash.length * 8 !== bits) {
    const got = hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash;
    throw new ScanError('invalid_hash', `expected a ${bits}-bit hash (${bits / 8} bytes), got ${got}`);
  }
}

/** Writes `hash` as big-endian words at `target[offset..]`, zero-padding the last word. */
export function packHash(hash: HashBytes, bits: number, target: Uint32Array, offset: number): void {
  assertHashLength(hash, bits);
  const words = wordCountFor(bits);
  for (let w = 0, i = 0; w < words; w++, i += 4) {
    target[offset + w] = ((hash[i] ?? 0) << 24) | ((hash[i + 1] ?? 0) << 16) | ((hash[i + 2] ?? 0) << 8) | (hash[i + 3] ?? 0);
  }
}

/**
 * Distance between the stored hash at `stored[base..]` and `query`, giving up as soon as the partial
 * sum passes `limit` (the caller only needs to know it is too far): returns a value > limit then.
 */
export function distanceWithin(stored: Uint32Array, base: number, query: Uint32Array, wordCount: number, limit: number): number {
  let distance = 0;
  for (let w = 0; w < wordCount; w++) {
    distance += popcount32(stored[base + w]! ^ query[w]!);
    if (distance > limit) return distance;
  }
  return distance;
}

/** Exact distance (no early exit), for indexes that prune on the value itself. */
export function fullDistance(stored: Uint32Array, base: number, query: Uint32Array, wordCount: number): number {
  let distance = 0;
  for (let w = 0; w < wordCount; w++) distance += popcount32(stored[base + w]! ^ query[w]!);
  return distance;
}

const EMPTY = -1;

export class PackedHashStore {
  readonly bits: number;
  readonly wordCount: number;
  /** `words[slot * wordCount + w]`; read directly by the indexes' inner loops. */
  words: Uint32Array;
  /** Entry id held by each slot, EMPTY for a vacated slot. */
  entryOfSlot: Int32Array;
  /** Slots in use are 0..slotCount-1 (some may be vacated). */
  slotCount = 0;
  liveCount = 0;
  /**
   * Slot of each entry held, in memory proportional to the entries held: entry numbers are never
   * reused, so an array indexed by the number grew with every number a set ever handed out.
   */
  private readonly slotOfEntry: EntryMap;
  private freeSlots: Int32Array;
  private freeCount = 0;

  constructor(bits: number, initialCapacity = 16) {
    assertHashBits(bits);
    this.bits = bits;
    this.wordCount = wordCountFor(bits);
    const capacity = Math.max(16, Math.ceil(initialCapacity));
    this.words = new Uint32Array(capacity * this.wordCount);
    this.entryOfSlot = new Int32Array(capacity).fill(EMPTY);
    this.slotOfEntry = new EntryMap(capacity);
    this.freeSlots = new Int32Array(0);
  }

  get capacity(): number {
    return this.entryOfSlot.length;
  }

  slotOf(entryId: number): number {
    return entryId >= 0 ? this.slotOfEntry.get(entryId) : EMPTY;
  }

  /** Bytes of the entry -> slot map (the only structure here sized by entries rather than slots). */
  get entryMapBytes(): number {
    return this.slotOfEntry.byteLength;
  }

  /** Packs the query into `target` after checking its length. */
  pack(hash: HashBytes, target: Uint32Array, offset = 0): void {
    packHash(hash, this.bits, target, offset);
  }

  /**
   * Stores the hash and returns its slot. With `reuseVacated`, slots freed by `vacate` are filled
   * first (indexes whose tables point at slots); otherwise a new slot is appended.
   */
  insert(entryId: number, hash: HashBytes, reuseVacated: boolean): number {
    assertEntryId(entryId);
    if (this.slotOf(entryId) !== EMPTY) throw new RangeError(`entry ${entryId} is already in the index`);
    assertHashLength(hash, this.bits);
    let slot: number;
    if (reuseVacated && this.freeCount > 0) {
      slot = this.freeSlots[--this.freeCount]!;
    } else {
      if (this.slotCount === this.capacity) this.growSlots(this.capacity * 2);
      slot = this.slotCount++;
    }
    this.pack(hash, this.words, slot * this.wordCount);
    this.entryOfSlot[slot] = entryId;
    this.slotOfEntry.set(entryId, slot);
    this.liveCount++;
    return slot;
  }

  /** Moves the last slot into the removed one so that 0..slotCount-1 stays gap-free (for scans). */
  swapRemove(entryId: number): boolean {
    const slot = this.slotOf(entryId);
    if (slot === EMPTY) return false;
    const last = this.slotCount - 1;
    if (slot !== last) {
      const moved = this.entryOfSlot[last]!;
      this.words.copyWithin(slot * this.wordCount, last * this.wordCount, (last + 1) * this.wordCount);
      this.entryOfSlot[slot] = moved;
      this.slotOfEntry.set(moved, slot);
    }
    this.entryOfSlot[last] = EMPTY;
    this.slotOfEntry.delete(entryId);
    this.slotCount--;
    this.liveCount--;
    return true;
  }

  /** Marks the entry's slot empty (its words stay readable) and returns it, or EMPTY if absent. */
  vacate(entryId: number, recycle: boolean): number {
    const slot = this.slotOf(entryId);
    if (slot === EMPTY) return EMPTY;
    this.entryOfSlot[slot] = EMPTY;
    this.slotOfEntry.delete(entryId);
    this.liveCount--;
    if (recycle) this.release(slot);
    return slot;
  }

  /** Lets `insert(..., true)` reuse a slot vacated earlier without recycling (nothing may still point at it). */
  release(slot: number): void {
    if (this.freeCount === this.freeSlots.length) {
      const grown = new Int32Array(Math.max(16, this.freeSlots.length * 2));
      grown.set(this.freeSlots);
      this.freeSlots = grown;
    }
    this.freeSlots[this.freeCount++] = slot;
  }

  private growSlots(capacity: number): void {
    const words = new Uint32Array(capacity * this.wordCount);
    words.set(this.words);
    this.words = words;
    const entryOfSlot = new Int32Array(capacity).fill(EMPTY);
    entryOfSlot.set(this.entryOfSlot);
    this.entryOfSlot = entryOfSlot;
  }
}
