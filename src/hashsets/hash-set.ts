/**
 * One hash set held entirely in memory, entries keyed by their string id and mapped to the dense
 * numeric entry numbers of its Hamming index. Adding, removing, disabling and enabling an entry are
 * incremental: none of them rebuilds the index. Used for sets loaded from CSV files (the embedded
 * scan), by tests and by tools; workers hold Redis-backed sets as `ReplicatedHashSet`, which keeps
 * only the index and numbers in memory.
 */
import { ScanError } from '../errors.js';
import { blockhashBitsFromBlank } from '../images/blockhash.js';
import type { HashBytes } from '../matching/hash-bits.js';
import { EntryIndex, type VariantMatch } from './entry-index.js';
import { entryRefusal, HASH_BITS, type HashSetConfig } from './hash-set-config.js';

export interface HashSetEntry {
  /** Unique within the set: the hash-sharing program's id, or the hash's hex when none was given. */
  id: string;
  hash: HashBytes;
  label?: string;
  /** Where the entry came from: an import file, a hash-sharing feed, an operator. */
  source?: string;
  /** ISO time it was added. */
  addedAt: string;
  addedBy?: string;
  /** Present while the entry is disabled: it is kept but never matched. */
  disabled?: { reason: string; at: string };
}

export type NewHashSetEntry = Omit<HashSetEntry, 'addedAt' | 'disabled'> & Partial<Pick<HashSetEntry, 'addedAt' | 'disabled'>>;

/** `unchanged`: the id was already there with the same hash (re-imports are no-ops). */
export type AddOutcome = 'added' | 'unchanged' | 'conflict';

/** The id and label of a matched entry, for the verdict's evidence. */
export interface EntryDescription {
  id: string;
  label?: string;
}

/** What the hash-set signal type needs of a set, wherever the set is kept. */
export interface MatchableHashSet {
  readonly config: HashSetConfig;
  /** Changes whenever the set's contents change; reported in verdicts. */
  readonly version: string;
  /** Enabled entries within the set's threshold of any of `variants`, closest first. */
  match(variants: readonly HashBytes[]): VariantMatch[];
  /** Id and label of matched entries, in order (undefined for one removed meanwhile). */
  describe(entryNos: readonly number[]): Promise<Array<EntryDescription | undefined>>;
  /**
   * The entry's side of the blank rule (passesBlankRule), read from its own hash: for a blockhash
   * set, how many bits the entry's hash is from a blank image's (blockhashBitsFromBlank), exact up
   * to the set's threshold; an entry farther than that may read Infinity instead (a match is within
   * the threshold, so the rule needs no more). Infinity for a PDQ set's entries (no blank rule);
   * undefined for an entry not held or disabled (it matches nothing). Synchronous: called for hits
   * while matching.
   */
  bitsFromBlank(entryNo: number): number | undefined;
}

export interface HashSetOptions {
  /** Entries expected: lays the index out for this size up front. Default 0 (grows). */
  expectedSize?: number;
  /** Fixed version to report instead of the change counter (a CSV file's digest). */
  versionTag?: string;
}

export class HashSet implements MatchableHashSet {
  private readonly index: EntryIndex;
  private readonly entryNoOf = new Map<string, number>();
  /** Entries by entry number; holes are removed entries whose numbers wait in `freeNumbers`. */
  private readonly entries: Array<HashSetEntry | undefined> = [];
  private readonly freeNumbers: number[] = [];
  private changes = 0;

  constructor(
    readonly config: HashSetConfig,
    private readonly options: HashSetOptions = {},
  ) {
    this.index = new EntryIndex(HASH_BITS[config.algorithm], config.threshold, options.expectedSize ?? 0);
  }

  get version(): string {
    return this.options.versionTag ?? String(this.changes);
  }

  /** Entries held, disabled ones included. */
  get size(): number {
    return this.entryNoOf.size;
  }

  /** Entries that can match. */
  get enabledSize(): number {
    return this.index.size;
  }

  /**
   * Adds an entry. `quality` (PDQ) below the set's floor, or a blockhash that is a blank image's
   * hash (it can never match, blockhashEntryCanMatch), is refused with `hash_low_quality`; the
   * same id again is `unchanged` when the hash is the same and a `conflict` (nothing changes) when not.
   */
  add(entry: NewHashSetEntry, quality?: number): AddOutcome {
    if (entry.hash.length * 8 !== HASH_BITS[this.config.algorithm]) {
      throw new ScanError('invalid_hash', `expected a ${HASH_BITS[this.config.algorithm]}-bit ${this.config.algorithm} hash`);
    }
    const refusal = entryRefusal(this.config, entry.hash, quality);
    if (refusal) throw new ScanError('hash_low_quality', refusal);
    const known = this.get(entry.id);
    if (known) return Buffer.compare(known.hash, entry.hash) === 0 ? 'unchanged' : 'conflict';
    const entryNo = this.freeNumbers.pop() ?? this.entries.length;
    const stored: HashSetEntry = { ...entry, hash: Uint8Array.from(entry.hash), addedAt: entry.addedAt ?? new Date().toISOString() };
    this.entries[entryNo] = stored;
    this.entryNoOf.set(entry.id, entryNo);
    if (!stored.disabled) this.index.add(entryNo, stored.hash);
    this.changes++;
    return 'added';
  }

  get(id: string): HashSetEntry | undefined {
    const entryNo = this.entryNoOf.get(id);
    return entryNo === undefined ? undefined : this.entries[entryNo];
  }

  /** Forgets the entry; false when the id is unknown. */
  remove(id: string): boolean {
    const entryNo = this.entryNoOf.get(id);
    if (entryNo === undefined) return false;
    if (!this.entries[entryNo]!.disabled) this.index.remove(entryNo);
    this.entries[entryNo] = undefined;
    this.entryNoOf.delete(id);
    this.freeNumbers.push(entryNo);
    this.changes++;
    return true;
  }

  /** Keeps the entry but stops it from matching; false when unknown or already disabled. */
  disable(id: string, reason: string, at = new Date().toISOString()): boolean {
    const entryNo = this.entryNoOf.get(id);
    const entry = entryNo === undefined ? undefined : this.entries[entryNo];
    if (!entry || entry.disabled) return false;
    this.index.remove(entryNo!);
    entry.disabled = { reason, at };
    this.changes++;
    return true;
  }

  /** Lets a disabled entry match again; false when unknown or not disabled. */
  enable(id: string): boolean {
    const entryNo = this.entryNoOf.get(id);
    const entry = entryNo === undefined ? undefined : this.entries[entryNo];
    if (!entry?.disabled) return false;
    delete entry.disabled;
    this.index.add(entryNo!, entry.hash);
    this.changes++;
    return true;
  }

  /** Every entry, disabled ones included, in entry-number order. */
  *all(): IterableIterator<HashSetEntry> {
    for (const entry of this.entries) if (entry) yield entry;
  }

  match(variants: readonly HashBytes[]): VariantMatch[] {
    if (this.index.outgrown) this.relayIndex();
    return this.index.query(variants);
  }

  /** Exact, from the stored hash (computed per call, about 2.5 us: only hits far enough from the frame ask). */
  bitsFromBlank(entryNo: number): number | undefined {
    const entry = this.entries[entryNo];
    if (!entry || entry.disabled) return undefined;
    return this.config.algorithm === 'blockhash' ? blockhashBitsFromBlank(entry.hash) : Infinity;
  }

  async describe(entryNos: readonly number[]): Promise<Array<EntryDescription | undefined>> {
    return entryNos.map((entryNo) => {
      const entry = this.entries[entryNo];
      return entry && { id: entry.id, ...(entry.label !== undefined && { label: entry.label }) };
    });
  }

  /** Lays the index out again for today's size (at most every 4x growth: amortised O(1) per add). */
  private relayIndex(): void {
    const enabled: Array<[number, HashBytes]> = [];
    this.entries.forEach((entry, entryNo) => {
      if (entry && !entry.disabled) enabled.push([entryNo, entry.hash]);
    });
    this.index.rebuild(enabled, enabled.length);
  }
}
