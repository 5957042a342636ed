/**
 * Rebuilds a MihIndex's tables off the query path: the index stays queryable and changeable while
 * this runs, in slices of bounded work (`step`), between turns of the event loop when scheduled.
 *
 * Snapshot: the live slots are listed first (in slices too). While a rebuild runs the store reuses no
 * vacated slot and new entries get new slots, so the snapshot stays exactly "the slots marked in
 * `inSnapshot`" (a reused slot would be read as a snapshot one); the index reports each removal
 * (`slotVacated`), and vacated slots go back to the store only at the end.
 *
 * Tables are built one at a time from the snapshot (SubstringTableBuilder, sliced). With the same
 * layout, each new table is swapped in as soon as it is finished, in one synchronous step that
 * replays what changed since the snapshot (`catchUp`): snapshot entries removed since become
 * tombstones, entries added since come over from the old table's overflow. Only one table is held
 * twice at a time (~1/m of the tables' memory, plus 12 B per entry of scratch), not a whole second
 * index. A new layout (the set changed size enough) gets all its tables swapped in together at the
 * end instead: the old and new tables coexist until then.
 *
 * The index's unindexed list at the start is frozen: those slots are in the snapshot but not in the
 * old tables. The rebuild's first phase (`drainFrozen`, also called by queries, a bounded number at a
 * time) moves them into every old table's overflow, before the snapshot scan and so before any table
 * is swapped; queries verify outright only the ones not moved yet. `catchUp` leaves snapshot slots
 * out of a new table's overflow (its lists hold them), so no table gets a slot twice.
 */
import { performance } from 'node:perf_hooks';
import type { Substring } from './mih-layout.js';
import type { PackedHashStore } from './packed-hash-store.js';
import { type SubstringTable, SubstringTableBuilder } from './mih-substring-table.js';

/** Items of work (a slot or a key) per step call, and the time one turn of the event loop may take. */
const REBUILD_CHUNK = 16_384;
const REBUILD_SLICE_MS = 8;

/**
 * Runs `step` (about `units` items of work per call) until `finished`, in slices of
 * REBUILD_SLICE_MS, one per turn of the event loop (setImmediate), `chunk` items per call; the
 * caller keeps its index queryable and changeable in between. Shared by the MIH rebuild and the
 * BK-tree compaction (bk-tree-index.ts).
 */
export function runInSlices(finished: () => boolean, step: (units: number) => unknown, chunk = REBUILD_CHUNK): void {
  const slice = (): void => {
    const deadline = performance.now() + REBUILD_SLICE_MS;
    while (!finished() && performance.now() < deadline) step(chunk);
    if (!finished()) setImmediate(slice);
  };
  setImmediate(slice);
}

/** What a rebuild needs from the index it rebuilds. */
export interface RebuildHost {
  readonly store: PackedHashStore;
  /** The tables queries probe now. */
  tables(): readonly SubstringTable[];
  /** Same layout: the new table `t` replaces the old one. */
  replaceTable(t: number, table: SubstringTable): void;
  /** New layout: every table replaced at once. */
  replaceAllTables(tables: SubstringTable[]): void;
  /** The rebuild is over: the tables now hold the `compactedSize` snapshot entries. */
  rebuildFinished(compactedSize: number): void;
}

/** The tables to build: one substring and inline-word count each. */
export interface RebuildLayout {
  readonly substrings: readonly Substring[];
  readonly inlineWords: readonly number[];
  /** Same layout as the current tables: each new table replaces its old one as soon as it is built. */
  readonly inPlace: boolean;
}

export class MihRebuild {
  /**
   * The index's unindexed list as it was at the start: [frozenMoved, frozenCount) are not in any
   * table yet (queries verify their live slots outright); the rest are in every old table's overflow.
   */
  readonly frozen: Int32Array;
  readonly frozenCount: number;
  frozenMoved = 0;
  /** Resolves once the new tables are in and the vacated slots are back in the store. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private finished = false;
  /** Run by setImmediate slices (else only by `advance`). */
  private scheduled = false;
  /** Slots below this existed at the start; the snapshot scan covers [0, slotLimit). */
  private readonly slotLimit: number;
  private scanned = 0;
  /** 1 for a slot in the snapshot (cleared when it is removed). */
  private readonly inSnapshot: Uint8Array;
  private readonly live: Int32Array;
  private liveCount = 0;
  /** Snapshot slots removed since the start: tombstoned in each new table when it is swapped in. */
  private readonly removed: number[] = [];
  /** Slots vacated since the start, handed back to the store at the end. */
  private readonly vacated: number[] = [];
  /** New tables built so far (kept until the end with a new layout). */
  private readonly built: SubstringTable[] = [];
  private builder: SubstringTableBuilder | null = null;
  private scratchSlots = new Int32Array(0);
  private scratchKeys = new Uint32Array(0);

  constructor(
    private readonly host: RebuildHost,
    private readonly layout: RebuildLayout,
    frozen: Int32Array,
    frozenCount: number,
  ) {
    const { store } = host;
    this.frozen = frozen;
    this.frozenCount = frozenCount;
    this.slotLimit = store.slotCount;
    this.inSnapshot = new Uint8Array(store.slotCount);
    this.live = new Int32Array(store.liveCount);
    this.done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  }

  /** The index vacated `slot` (without recycling it): keep it out of the new tables and the free list. */
  slotVacated(slot: number): void {
    this.vacated.push(slot);
    if (slot < this.slotLimit && this.inSnapshot[slot] === 1) {
      this.inSnapshot[slot] = 0;
      this.removed.push(slot);
    }
  }

  /** Runs the rest in slices of REBUILD_SLICE_MS, one per turn of the event loop. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    runInSlices(() => this.finished, (units) => this.step(units));
  }

  /** Does about `units` items of work now; true once the rebuild is over. */
  advance(units: number): boolean {
    let left = units;
    while (left > 0 && !this.finished) {
      const chunk = Math.min(left, REBUILD_CHUNK * 64);
      left -= chunk - this.step(chunk);
    }
    return this.finished;
  }

  /**
   * Moves up to `limit` frozen slots into every (old) table's overflow: O(m) each. Only before the
   * snapshot scan ends, so that no new table is in yet. Returns the number moved (vacated ones count).
   */
  drainFrozen(limit: number): number {
    const end = Math.min(this.frozenCount, this.frozenMoved + limit);
    const { words, wordCount, entryOfSlot } = this.host.store;
    const tables = this.host.tables();
    const { frozen } = this;
    for (let i = this.frozenMoved; i < end; i++) {
      const slot = frozen[i]!;
      if (entryOfSlot[slot]! < 0) continue; // removed since the start (never reused during a rebuild)
      const base = slot * wordCount;
      for (const table of tables) table.add(table.keyOf(words, base), slot);
    }
    const moved = end - this.frozenMoved;
    this.frozenMoved = end;
    return moved;
  }

  /** About `units` items of work; returns the units left over. */
  private step(units: number): number {
    const { store } = this.host;
    if (this.frozenMoved < this.frozenCount) {
      // One unit per table insert: m per slot.
      const perSlot = this.host.tables().length;
      units -= this.drainFrozen(Math.max(1, Math.floor(units / perSlot))) * perSlot;
      if (this.frozenMoved < this.frozenCount) return Math.max(0, units);
      if (units <= 0) return 0;
    }
    if (this.scanned < this.slotLimit) {
      const end = Math.min(this.slotLimit, this.scanned + units);
      const { entryOfSlot } = store;
      const { live, inSnapshot } = this;
      for (let slot = this.scanned; slot < end; slot++) {
        if (entryOfSlot[slot]! < 0) continue;
        live[this.liveCount++] = slot;
        inSnapshot[slot] = 1;
      }
      units -= end - this.scanned;
      this.scanned = end;
      if (end < this.slotLimit) return units;
      this.scratchSlots = new Int32Array(this.liveCount);
      this.scratchKeys = new Uint32Array(this.liveCount);
    }
    const { substrings, inlineWords, inPlace } = this.layout;
    while (units > 0) {
      const t = this.built.length;
      if (t === substrings.length) {
        this.finish();
        return units;
      }
      if (!this.builder) {
        const { start, width } = substrings[t]!;
        const { live, liveCount, scratchSlots, scratchKeys } = this;
        this.builder = new SubstringTableBuilder(start, width, inlineWords[t]!, live, liveCount, scratchSlots, scratchKeys, store);
      }
      units = this.builder.step(units);
      const table = this.builder.result;
      if (!table) return units;
      this.builder = null;
      this.built.push(table);
      if (inPlace) {
        this.catchUp(table, this.host.tables()[t]!);
        this.host.replaceTable(t, table);
      }
    }
    return units;
  }

  /**
   * Brings a table built from the snapshot up to now, in the same synchronous step as its swap:
   * snapshot entries removed since become tombstones; entries added since (in `old`'s overflow,
   * not in the snapshot) join its overflow. Unindexed entries stay unindexed.
   */
  private catchUp(table: SubstringTable, old: SubstringTable): void {
    const { words, wordCount } = this.host.store;
    for (const slot of this.removed) table.remove(table.keyOf(words, slot * wordCount), slot);
    old.overflow.forEachSlot((slot) => {
      if (!(slot < this.slotLimit && this.inSnapshot[slot] === 1)) table.add(table.keyOf(words, slot * wordCount), slot);
    });
  }

  private finish(): void {
    const { host } = this;
    if (!this.layout.inPlace) {
      // Every old table's overflow holds the same slots (no table was swapped before this one).
      const old = host.tables()[0]!;
      for (const table of this.built) this.catchUp(table, old);
      host.replaceAllTables(this.built);
    }
    this.finished = true;
    host.rebuildFinished(this.liveCount);
    for (const slot of this.vacated) host.store.release(slot);
    this.resolveDone();
  }
}
