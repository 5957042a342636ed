/**
 * A worker's copy of one Redis hash set: only the Hamming index and a byte of state per entry
 * number live in memory (~40 bytes an entry); ids and labels stay in Redis and are read for matched
 * entries only. Loaded once with HSCAN, then kept current by applying changelog records.
 */
import { performance } from 'node:perf_hooks';
import type { HashBytes } from '../matching/hash-bits.js';
import { EntryIndex, type VariantMatch } from './entry-index.js';
import { HASH_BITS, type HashSetConfig } from './hash-set-config.js';
import type { EntryDescription, MatchableHashSet } from './hash-set.js';
import type { HashSetChange, HashSetStore } from './hash-set-store.js';

const ABSENT = 0;
const ENABLED = 1;
const DISABLED = 2;

export interface LoadStats {
  entries: number;
  ms: number;
}

export class ReplicatedHashSet implements MatchableHashSet {
  private readonly index: EntryIndex;
  /** ABSENT / ENABLED / DISABLED by entry number. */
  private state = new Uint8Array(1024);
  private versionNo: number;

  private constructor(
    private readonly store: HashSetStore,
    readonly config: HashSetConfig,
    version: number,
    expectedSize: number,
  ) {
    this.versionNo = version;
    this.index = new EntryIndex(HASH_BITS[config.algorithm], config.threshold, expectedSize);
  }

  /**
   * Loads the set: every entry by HSCAN, then the changelog from the version read before the scan.
   * Changes made during the scan may show up in both; applying a record is idempotent (entry numbers
   * are never reused and an entry's hash never changes), so the result is the set at the new version.
   */
  static async load(store: HashSetStore, name: string): Promise<{ set: ReplicatedHashSet; stats: LoadStats }> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const summary = await store.summary(name);
      const set = new ReplicatedHashSet(store, summary.config, summary.version, summary.size);
      let entries = 0;
      for await (const batch of store.scanEntries(name)) {
        for (const entry of batch) set.put(entry.entryNo, entry.disabled ? DISABLED : ENABLED, entry.hash);
        entries += batch.length;
      }
      const since = await store.changesSince(name, summary.version);
      // A gap here means the changelog was trimmed past the load's start while it ran: load again.
      if (since.gap && attempt < 3) continue;
      if (!since.gap) set.apply(since.changes);
      return { set, stats: { entries, ms: performance.now() - started } };
    }
  }

  get version(): string {
    return String(this.versionNo);
  }

  get versionNumber(): number {
    return this.versionNo;
  }

  /** Matchable entries. */
  get size(): number {
    return this.index.size;
  }

  /** True when adds took it far past the size its index was laid out for: reload it. */
  get outgrown(): boolean {
    return this.index.outgrown;
  }

  /** Applies changelog records in order (records at or below the current version are replays). */
  apply(changes: readonly HashSetChange[]): void {
    for (const change of changes) {
      const { entryNo } = change;
      const state = this.stateOf(entryNo);
      if (change.op === 'add' || change.op === 'enable') {
        if (change.op === 'add' ? state === ABSENT : state !== ENABLED) this.put(entryNo, ENABLED, change.hash!);
      } else {
        if (state === ENABLED) this.index.remove(entryNo);
        this.state[entryNo] = change.op === 'remove' ? ABSENT : DISABLED;
      }
      if (change.version > this.versionNo) this.versionNo = change.version;
    }
  }

  match(variants: readonly HashBytes[]): VariantMatch[] {
    return this.index.query(variants);
  }

  async describe(entryNos: readonly number[]): Promise<Array<EntryDescription | undefined>> {
    const ids = await this.store.idsOf(this.config.name, entryNos);
    const infos = await this.store.info(this.config.name, ids.filter((id): id is string => id !== undefined));
    let next = 0;
    return ids.map((id) => {
      if (id === undefined) return undefined;
      const label = infos[next++]?.label;
      return label === undefined ? { id } : { id, label };
    });
  }

  private stateOf(entryNo: number): number {
    return entryNo < this.state.length ? this.state[entryNo]! : ABSENT;
  }

  private put(entryNo: number, state: number, hash: HashBytes): void {
    if (entryNo >= this.state.length) {
      const grown = new Uint8Array(Math.max(entryNo + 1, this.state.length * 2));
      grown.set(this.state);
      this.state = grown;
    }
    if (this.state[entryNo] === ENABLED) this.index.remove(entryNo);
    this.state[entryNo] = state;
    if (state === ENABLED) this.index.add(entryNo, hash);
  }
}
