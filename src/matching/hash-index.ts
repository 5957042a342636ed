/**
 * The one contract every Hamming-distance index over perceptual hashes implements (linear scan,
 * BK-tree, multi-index hashing). Indexes are exact: for the same contents and query they return the
 * same matches as the linear scan, which is the reference.
 */
import type { HashBytes } from './hash-bits.js';

export interface HashMatch {
  /** Dense numeric id assigned by the hash set that owns the index. */
  entryId: number;
  /** Hamming distance between the query and the stored hash. */
  distance: number;
}

export interface HashIndex {
  /** Hash length in bits (a multiple of 8, as HashBytes are whole bytes). */
  readonly bits: number;
  /** Number of entries currently stored. */
  readonly size: number;
  /** Stores `hash` under `entryId`; throws `invalid_hash` on a wrong length, RangeError if the id is present. */
  add(entryId: number, hash: HashBytes): void;
  /** Forgets `entryId`; false when it was not stored. */
  remove(entryId: number): boolean;
  /** Whether `entryId` is stored. */
  has(entryId: number): boolean;
  /**
   * Bytes of what the index keeps by entry id (its entry -> slot / node map): proportional to the
   * entries stored, however large the ids (a Redis hash set never reuses one: its ids grow without bound).
   */
  readonly entryMapBytes: number;
  /** Every entry within `radius` bits of `hash`, sorted by distance then entryId. */
  query(hash: HashBytes, radius: number): HashMatch[];
  /**
   * Folds pending changes into the index's static layout now (MIH: rebuild its tables; BK-tree:
   * drop dead routing nodes). Optional upkeep for after a bulk load or mass removal, so that the
   * work does not land on a later query; answers are the same either way.
   */
  compact?(): void;
  /**
   * The same upkeep without holding the event loop for more than a few ms at a time; queries and
   * changes stay allowed meanwhile. Resolves once every change made before the call is folded in.
   */
  compactInBackground?(): Promise<void>;
}

/** Largest entry id accepted: ids are kept in int32 arrays (sparse ids cost no more memory than dense ones: entry-map.ts). */
export const MAX_ENTRY_ID = 0x7ffffffe;

export function assertEntryId(entryId: number): void {
  if (!Number.isInteger(entryId) || entryId < 0 || entryId > MAX_ENTRY_ID) {
    throw new RangeError(`entryId must be an integer in 0..${MAX_ENTRY_ID}, got ${entryId}`);
  }
}

export function assertRadius(radius: number): void {
  if (!Number.isInteger(radius) || radius < 0) {
    throw new RangeError(`radius must be a non-negative integer, got ${radius}`);
  }
}

export function compareMatches(a: HashMatch, b: HashMatch): number {
  return a.distance - b.distance || a.entryId - b.entryId;
}
