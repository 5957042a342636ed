/**
 * A worker's copy of one Redis hash set: only the Hamming index, the numbers of disabled entries
 * and, for blockhash, the bitsFromBlank of entries near blank live in memory; ids and labels stay
 * in Redis and are read for matched entries only. Loaded once
 * from the set's packs, then kept current by applying changelog records.
 *
 * Memory follows the entries held, not the entry numbers handed out: numbers are never reused, so a
 * set that turns its entries over holds numbers far beyond its size (a feed replacing 1M entries a
 * day hands out 365M a year). An entry's state is the index's (enabled: in it) or the disabled map's,
 * both keyed through EntryMap (dense over the live numbers' window, or a hash table when scattered).
 *
 * A copy is of one incarnation of the set (HashSetIncarnation): a set deleted and created again
 * under the name restarts its entry numbers at 0, so until the replicas drop this copy, what it
 * matches must not be read (describe) nor counted (the flood guard, through `config.incarnation`)
 * in the new set: both check in Redis, in the same step, that the set is still the one loaded.
 */
import { performance } from 'node:perf_hooks';
import { blockhashBitsFromBlank } from '../images/blockhash.js';
import type { HashBytes } from '../matching/hash-bits.js';
import { sameVersion, type HeldIncarnation, type VersionedIdentity } from '../runtime/versioned-changelog.js';
import { EntryMap } from '../matching/entry-map.js';
import { EntryIndex, type VariantMatch } from './entry-index.js';
import { HASH_BITS, type HashSetConfig, type HashSetIncarnation } from './hash-set-config.js';
import type { EntryDescription, MatchableHashSet } from './hash-set.js';
import { PACK_ABSENT, PACK_DISABLED, PACK_ENABLED } from './hash-set-keys.js';
import type { HashSetChange, HashSetIdentity, HashSetStore } from './hash-set-store.js';

// The packs' state bytes, used as is.
const ABSENT = PACK_ABSENT;
const ENABLED = PACK_ENABLED;
const DISABLED = PACK_DISABLED;

export interface LoadStats {
  entries: number;
  ms: number;
}

/** Loads in a row whose changelog was trimmed past their start before a load gives up (the sync retries later). */
const LOAD_ATTEMPTS = 3;

export class ReplicatedHashSet implements MatchableHashSet {
  /** The set's configuration, with the incarnation loaded (which the flood guard checks). */
  readonly config: HashSetConfig & { incarnation: HashSetIncarnation };
  private readonly index: EntryIndex;
  /** Entries held but not matching (enabled ones are those in the index; any other is absent). */
  private readonly disabled = new EntryMap();
  /**
   * Blockhash sets: the enabled entries at most the threshold from blank, by their bitsFromBlank
   * (computed once, when the entry is put: its hash never changes). Only those can fail the
   * entry's side of the blank rule; the hashes themselves live in the index only. Entries farther
   * (photos are about 85-128 bits from blank) are not kept: a few near-flat entries cost a few
   * bytes each, not every entry of a 10M set.
   */
  private readonly nearBlank = new EntryMap();
  private versionNo: number;
  /** The stamp of the version held: the same version number written again (failover) is another version. */
  private versionStamp: string;

  private constructor(
    private readonly store: HashSetStore,
    config: HashSetConfig,
    version: number,
    expectedSize: number,
    createdAt = '',
    stamp = '',
    createdStamp = '',
  ) {
    this.config = { ...config, incarnation: { createdAt, createdStamp } };
    this.versionNo = version;
    this.versionStamp = stamp;
    // A quarter of headroom: the index's storage doubles when full, which at 10M entries stalls
    // the change that triggers it for a second or more; this way that happens only after 25% growth.
    this.index = new EntryIndex(HASH_BITS[config.algorithm], config.threshold, expectedSize + Math.ceil(expectedSize / 4));
  }

  /**
   * Loads the set: every pack (GET), then the changelog from the version read before the packs.
   * Changes made during the read may show up in both; applying a record is idempotent (entry numbers
   * are never reused and an entry's hash never changes), so the result is the set at the new version.
   * Without those records (trimmed meanwhile, or the set created again) the packs read are a mix of
   * versions that no version number describes: the load starts over, and after LOAD_ATTEMPTS throws.
   */
  static async load(store: HashSetStore, name: string): Promise<{ set: ReplicatedHashSet; stats: LoadStats }> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const summary = await store.summary(name);
      const set = new ReplicatedHashSet(store, summary.config, summary.version, summary.size, summary.createdAt, summary.stamp, summary.createdStamp);
      const slot = 1 + HASH_BITS[summary.config.algorithm] / 8;
      let entries = 0;
      for await (const { firstEntryNo, pack } of store.readPacks(name, summary.nextEntryNo)) {
        for (let offset = 0, entryNo = firstEntryNo; offset + slot <= pack.length; offset += slot, entryNo++) {
          const state = pack[offset]!;
          if (state === ABSENT) continue;
          set.put(entryNo, state, pack.subarray(offset + 1, offset + slot));
          entries++;
        }
      }
      const since = await store.changesSince(name, summary.version, set.held);
      if (since.gap) {
        if (attempt < LOAD_ATTEMPTS) continue;
        throw new Error(`hash set ${name} changed faster than its changelog keeps records during ${LOAD_ATTEMPTS} loads in a row`);
      }
      set.apply(since.changes, since.stamp);
      // The tables' build (~1.1 s at 1M entries, ~10 s at 10M) runs here, in slices that leave the
      // event loop free for the jobs and lock renewals of sets already loaded, rather than in a query.
      await set.index.finishInBackground();
      return { set, stats: { entries, ms: performance.now() - started } };
    }
  }

  get version(): string {
    return String(this.versionNo);
  }

  get versionNumber(): number {
    return this.versionNo;
  }

  /** What changesSince checks besides the version: this set's creation time and its version's stamp. */
  get held(): HeldIncarnation {
    return { createdAt: this.createdAt, stamp: this.versionStamp };
  }

  /** The set's creation time as loaded: a set of the same name created since is another set. */
  get createdAt(): string {
    return this.config.incarnation.createdAt;
  }

  /** The incarnation of the set this copy was loaded from. */
  get incarnation(): HashSetIncarnation {
    return this.config.incarnation;
  }

  /**
   * Whether `identity` is of the incarnation this copy was loaded from (at whatever version): false
   * for a set deleted and created again since, whose changelog and entry numbers are another set's.
   */
  isIncarnationOf(identity: Pick<HashSetIdentity, 'createdAt' | 'createdStamp'>): boolean {
    return identity.createdAt === this.incarnation.createdAt && identity.createdStamp === this.incarnation.createdStamp;
  }

  /** Whether this copy is exactly the set `identity` describes (same incarnation, version and stamp). */
  isAt(identity: VersionedIdentity): boolean {
    return sameVersion({ version: this.versionNo, ...this.held }, identity);
  }

  /** Matchable entries. */
  get size(): number {
    return this.index.size;
  }

  /**
   * Bytes this copy keeps by entry number (the index's entry -> slot map, the disabled entries):
   * proportional to the entries held, however many numbers the set has handed out. The hashes
   * and the index's tables are by slot, sized by the entries held.
   */
  entryMapBytes(): number {
    return this.index.entryMapBytes + this.disabled.byteLength + this.nearBlank.byteLength;
  }

  /** True when adds took it far past the size its index was laid out for: reload it. */
  get outgrown(): boolean {
    return this.index.outgrown;
  }

  /**
   * Applies changelog records in order (records at or below the current version are replays);
   * `stamp` is that of the last version they reach (changesSince's).
   */
  apply(changes: readonly HashSetChange[], stamp: string): void {
    for (const change of changes) {
      const { entryNo } = change;
      const state = this.stateOf(entryNo);
      if (change.op === 'add' || change.op === 'enable') {
        if (change.op === 'add' ? state === ABSENT : state !== ENABLED) this.put(entryNo, ENABLED, change.hash!);
      } else {
        if (state === ENABLED) this.forget(entryNo);
        if (change.op === 'remove') this.disabled.delete(entryNo);
        else this.disabled.set(entryNo, DISABLED);
      }
      if (change.version > this.versionNo) this.versionNo = change.version;
    }
    this.versionStamp = stamp;
  }

  match(variants: readonly HashBytes[]): VariantMatch[] {
    return this.index.query(variants);
  }

  /** From `nearBlank`: Infinity for an enabled entry farther from blank than the threshold. */
  bitsFromBlank(entryNo: number): number | undefined {
    if (!this.index.has(entryNo)) return undefined;
    const bits = this.nearBlank.get(entryNo);
    return bits < 0 ? Infinity : bits;
  }

  /**
   * Ids and labels of matched entries, read from the incarnation this copy was loaded from only:
   * when the set in Redis is no longer that one (deleted, or deleted and created again, before the
   * replicas dropped this copy), every entry is undefined, as removed ones are, and nothing of
   * the other incarnation is named.
   */
  async describe(entryNos: readonly number[]): Promise<Array<EntryDescription | undefined>> {
    if (entryNos.length === 0) return [];
    const described = await this.store.describe(this.config.name, entryNos, this.incarnation);
    if (described === undefined) return entryNos.map(() => undefined);
    return described.map((entry) => {
      if (entry === undefined) return undefined;
      const label = entry.info?.label;
      return label === undefined ? { id: entry.id } : { id: entry.id, label };
    });
  }

  private stateOf(entryNo: number): number {
    return this.index.has(entryNo) ? ENABLED : this.disabled.has(entryNo) ? DISABLED : ABSENT;
  }

  /** Holds the entry as ENABLED (matching `hash`) or as disabled (any other state a pack may hold). */
  private put(entryNo: number, state: number, hash: HashBytes): void {
    if (state === ENABLED) {
      // An entry is in one of the two at most (the look-up is skipped while nothing is disabled).
      if (this.index.has(entryNo)) this.index.remove(entryNo);
      else if (this.disabled.size > 0) this.disabled.delete(entryNo);
      this.index.add(entryNo, hash);
      if (this.config.algorithm === 'blockhash') {
        const bits = blockhashBitsFromBlank(hash);
        if (bits <= this.config.threshold) this.nearBlank.set(entryNo, bits);
        else if (this.nearBlank.size > 0) this.nearBlank.delete(entryNo);
      }
    } else {
      this.forget(entryNo);
      this.disabled.set(entryNo, DISABLED);
    }
  }

  /** Takes an entry out of the index (and out of `nearBlank`): disabled or removed. */
  private forget(entryNo: number): void {
    this.index.remove(entryNo);
    if (this.nearBlank.size > 0) this.nearBlank.delete(entryNo);
  }
}
