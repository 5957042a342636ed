/**
 * The Hamming index of one hash set, by dense numeric entry number, queried with several variants of
 * one image hash at once (PDQ's eight rotations and mirrors). Adds and removes are incremental; the
 * index kind and layout are chosen by `createIndex` for the size the set had when it was built.
 */
import { createIndex, LINEAR_MAX_SIZE } from '../matching/choose-index.js';
import type { HashBytes } from '../matching/hash-bits.js';
import type { HashIndex } from '../matching/hash-index.js';

/** One stored entry within reach of a query, through the closest of the query's variants. */
export interface VariantMatch {
  entryNo: number;
  distance: number;
  /** Index of the query variant that came closest (0 = the hash as computed). */
  variant: number;
}

/** A set that grew past this multiple of the size its index was laid out for is worth re-laying. */
const OUTGROWN_FACTOR = 4;

export class EntryIndex {
  private index: HashIndex;
  /** Entry count the current index was created for. */
  private plannedSize: number;

  constructor(
    readonly bits: number,
    /** Radius queries use (the set's threshold); MIH lays its tables out for it. */
    readonly radius: number,
    expectedSize = 0,
  ) {
    this.plannedSize = expectedSize;
    this.index = createIndex(bits, radius, expectedSize);
  }

  get size(): number {
    return this.index.size;
  }

  /**
   * True when incremental adds took the set far past the size its index was chosen for (a linear
   * scan that now holds a million entries): the owner should build a fresh one (`rebuild`) from its
   * own copy of the entries, or reload. Queries stay exact either way, only slower. Counts live
   * entries only: the dead nodes removals leave in a BK-tree (exact-match sets) are the tree's own
   * upkeep, which compacts itself off the event loop once they outnumber the live ones.
   */
  get outgrown(): boolean {
    return this.index.size > Math.max(LINEAR_MAX_SIZE, OUTGROWN_FACTOR * this.plannedSize);
  }

  add(entryNo: number, hash: HashBytes): void {
    this.index.add(entryNo, hash);
  }

  remove(entryNo: number): boolean {
    return this.index.remove(entryNo);
  }

  has(entryNo: number): boolean {
    return this.index.has(entryNo);
  }

  /** Bytes the index keeps by entry number: proportional to the entries held, however high the numbers. */
  get entryMapBytes(): number {
    return this.index.entryMapBytes;
  }

  /** Replaces the index with one laid out for the current size, filled from `entries`. */
  rebuild(entries: Iterable<[entryNo: number, hash: HashBytes]>, size: number): void {
    const fresh = createIndex(this.bits, this.radius, size);
    for (const [entryNo, hash] of entries) fresh.add(entryNo, hash);
    this.index = fresh;
    this.plannedSize = size;
  }

  /**
   * Finishes the index's tables (after a bulk load) in slices between turns of the event loop, so
   * that the first match does not find the build still under way; matching stays exact meanwhile.
   */
  async finishInBackground(): Promise<void> {
    await this.index.compactInBackground?.();
  }

  /**
   * Every entry within `radius` of any of `variants`, once each, at its smallest distance (ties go
   * to the earlier variant), sorted by distance then entry number.
   */
  query(variants: readonly HashBytes[], radius = this.radius): VariantMatch[] {
    const best = new Map<number, VariantMatch>();
    variants.forEach((hash, variant) => {
      for (const { entryId, distance } of this.index.query(hash, radius)) {
        const known = best.get(entryId);
        if (!known || distance < known.distance) best.set(entryId, { entryNo: entryId, distance, variant });
      }
    });
    return [...best.values()].sort((a, b) => a.distance - b.distance || a.entryNo - b.entryNo);
  }
}
