/**
 * Exact multi-index hashing (Norouzi et al.): m substring tables, each probed for every key within
 * its sub-radius of the query's substring (see mih-layout.ts for the pigeonhole rule), candidates
 * verified against the full packed hash and deduplicated. Same answers as the linear scan.
 *
 * Layout at the PDQ design point (256 bits, r = 31), chosen by the cost model (mih-layout.ts) and
 * measured with bench/index.bench.ts. The pigeonhole budget is tight: the sub-radii + 1 must sum to
 * 32 over 256 bits, and sub-radius 2 on ~24-bit substrings is the cheapest way to buy it, so the
 * layout is ten tables searched at 2 and one at 1. The tables need not be equally wide: the one
 * searched at 1 costs little per key, so it gives bits to the others (10M: 24 x6, 23 x4 and 20
 * instead of 24 x3 and 23 x8: ~2,600 instead of ~2,900 candidates per query). The densest tables
 * (about one entry per key or more) also copy the first 96 bits of each hash into their bucket
 * lists, where a candidate is ruled out without a miss into the packed store (chooseInlineWords;
 * ~1,700 instead of ~2,600 candidates read from the store at 10M, for ~33 B/entry).
 *
 * Measured on the development machine (2 shared cores, KVM; medians of 3 runs of the bench):
 * 1M entries -> 12 tables (22 x8 at sub-radius 2, 20 x4 at 1), ~440 candidates per query,
 * ~255 B/entry, ~12.4k queries/s (~174x the linear scan), ~12.8k with huge pages; 10M -> 11 tables
 * (see above), ~1,700 candidates, ~167 B/entry, 1.67 GB RSS (1.82 GB peak while building in place,
 * ~10 s build; a rebuild now holds one old table beside its new one: estimated +0.1-0.2 GB),
 * ~3.9k queries/s, ~4.65k with transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1: the
 * kernel's THP mode here is `madvise`, and glibc only asks for huge pages on its big allocations
 * when so told). At 10M a query is bound by memory latency: each of ~5,000 probes, bucket lists and
 * candidates per query is a cache and TLB miss, which mih-candidates.ts overlaps as far as it can.
 *
 * Changes go through three tiers so that none rebuilds the index: add() only appends to the packed
 * store and an "unindexed" list (O(1)); a query verifies up to 256 unindexed entries outright and
 * moves longer lists into per-table overflow maps (O(m) each, at most REINDEX_PER_QUERY per query);
 * once pending changes (unindexed, overflow, tombstones) pass 1/8 of the compacted size, the next
 * query starts a rebuild (O(N m), so amortised O(m) per change) and answers from the tables as they
 * are. A full build takes ~1.1 s at 1M entries and ~10 s at 10M, so it never runs inside a query or
 * in one piece: it runs in slices of ~8 ms between turns of the event loop (setImmediate), with
 * changes and queries allowed in between. After a bulk load, await compactInBackground() so that
 * matching starts on a finished index.
 *
 * Rebuild (mih-rebuild.ts): tables are rebuilt one at a time from a snapshot of the live slots and
 * swapped in with the changes since the snapshot replayed, so only one table is held twice at a time
 * (a new layout swaps all of its tables in together at the end); no vacated slot is reused while a
 * rebuild runs.
 *
 * Uniform vs real data: the cost model assumes each substring is uniform, so a bucket holds about
 * N / 2^width entries. Real PDQ hashes are not uniform (flat or near-blank images collapse onto a few
 * hashes, and neighbouring bits are correlated), so some buckets are far larger than average and
 * queries landing on them verify many more candidates; answers stay exact, only slower. Changes
 * do not slow down with them: overflow maps group a key's slots, and a removal bisects a bucket
 * list (O(m log bucket)), so loading or removing 20,000 copies of one hash costs what 20,000
 * distinct hashes do (each change used to walk past every earlier copy). Building the
 * substrings from scattered bit positions, or dropping a set's few giant near-blank clusters into
 * their own linear list, would even this out; not done yet.
 *
 * Radii far above the design point make the key neighbourhoods explode; when the estimated probe
 * work passes a linear scan's, the query scans the packed store instead.
 */
import type { HashBytes } from './hash-bits.js';
import { assertRadius, compareMatches, type HashIndex, type HashMatch } from './hash-index.js';
import {
  allocateSubRadii,
  chooseInlineWords,
  chooseSubstrings,
  estimateQueryCost,
  flipMasks,
  LINEAR_COST_PER_ENTRY,
  neighbourhoodSize,
  splitIntoSubstrings,
  substringsOf,
  type Substring,
} from './mih-layout.js';
import { CandidateBuffer } from './mih-candidates.js';
import { distanceWithin, PackedHashStore } from './packed-hash-store.js';
import { MihRebuild, type RebuildHost, type RebuildLayout } from './mih-rebuild.js';
import { SubstringTable } from './mih-substring-table.js';

export interface MihOptions {
  /** Radius the layout is tuned for (queries at any radius stay exact). PDQ default: 31. */
  designRadius?: number;
  /** Expected number of entries: sizes the substrings and preallocates storage. */
  expectedSize?: number;
  /** Overrides the substring count chosen from the cost model, near-equal widths (benchmarks, tests). */
  substringCount?: number;
  /** Overrides the whole layout: one width per table, consecutive from bit 0 (benchmarks, tests). */
  substringWidths?: readonly number[];
  /**
   * Hash words copied into the tables' bucket lists (0..3, at most the hash's word count): one
   * count for every table, or one per table (with a pinned layout); default: chosen per table by
   * the cost model within a memory budget (see chooseInlineWords). Benchmarks, tests.
   */
  inlineWords?: number | readonly number[];
  /** Scan the store instead of probing when that looks cheaper (default true; tests turn it off). */
  linearFallback?: boolean;
  /** Fresh adds verified outright before they go to the overflow maps (default 256). */
  unindexedScanMax?: number;
  /** Pending changes always allowed before a compaction (default 1024). */
  minPendingBeforeCompact?: number;
  /**
   * 'background' (default): a rebuild a query starts runs in setImmediate slices. 'manual': it
   * only advances through advanceRebuild() or compact() (tests interleave it with changes).
   */
  rebuildScheduling?: 'background' | 'manual';
}

/** Never enumerate more keys than this per query, whatever the cost model says. */
const MAX_PROBES_PER_QUERY = 1 << 22;
/** Up to this many fresh adds are verified outright by queries instead of being put in the tables. */
const UNINDEXED_SCAN_MAX = 256;
/** Compact once pending changes exceed this many, or 1/8 of the compacted size if larger. */
const MIN_PENDING_BEFORE_COMPACT = 1024;
/** A query moves at most this many unindexed entries into the overflow maps (O(m) each), so it stays short. */
const REINDEX_PER_QUERY = 4096;
interface QueryPlan {
  /** Flip masks per table; null = table skipped at this radius. */
  masks: Array<Uint32Array | null>;
  probes: number;
  cost: number;
}

export class MihIndex implements HashIndex {
  private readonly store: PackedHashStore;
  private tables: SubstringTable[];
  /** Radius the layout is chosen for; null when the caller pinned the substring count. */
  private readonly designRadius: number | null;
  /** Set size the current layout was chosen for. */
  private layoutSize: number;
  private readonly queryWords: Uint32Array;
  private readonly plans = new Map<number, QueryPlan | null>();
  private readonly candidates = new CandidateBuffer();
  /** Table entries the last query verified (for benchmarks; 0 when it scanned instead). */
  lastQueryCandidates = 0;
  /** Entries the last query verified one by one, outside the tables' probes (unindexed, frozen, overflow scan). */
  lastQueryOutright = 0;
  private compactedSize = 0;
  /** Slots added but not yet in any table, and each slot's position in that list (-1: none). */
  private unindexed = new Int32Array(64);
  private unindexedCount = 0;
  private unindexedPosition = new Int32Array(0);
  private readonly linearFallback: boolean;
  private readonly unindexedScanMax: number;
  private readonly minPendingBeforeCompact: number;
  private readonly scheduleRebuilds: boolean;
  private rebuild: MihRebuild | null = null;
  /** Pinned inline-word counts (one for all tables, or one per table), or null to let the cost model choose. */
  private readonly inlineWords: number | readonly number[] | null;
  /** Radius the inline words are chosen for (the design radius, also with a pinned layout). */
  private readonly inlineRadius: number;

  constructor(bits: number, options: MihOptions = {}) {
    this.linearFallback = options.linearFallback ?? true;
    this.unindexedScanMax = options.unindexedScanMax ?? UNINDEXED_SCAN_MAX;
    this.minPendingBeforeCompact = options.minPendingBeforeCompact ?? MIN_PENDING_BEFORE_COMPACT;
    this.scheduleRebuilds = (options.rebuildScheduling ?? 'background') === 'background';
    const expectedSize = options.expectedSize ?? 0;
    this.store = new PackedHashStore(bits, expectedSize);
    const inline = options.inlineWords;
    const maxInline = Math.min(3, this.store.wordCount);
    if (inline !== undefined && ![inline].flat().every((words) => Number.isInteger(words) && words >= 0 && words <= maxInline)) {
      throw new RangeError(`inline words must be integers in 0..${maxInline}, got ${String(inline)}`);
    }
    this.inlineWords = inline ?? null;
    this.inlineRadius = options.designRadius ?? 31;
    const { substringCount: count, substringWidths: widths } = options;
    this.designRadius = count === undefined && widths === undefined ? (options.designRadius ?? 31) : null;
    if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > bits || bits / count > 31)) {
      throw new RangeError(`substring count must be an integer in ${Math.ceil(bits / 31)}..${bits}, got ${count}`);
    }
    if (widths !== undefined) {
      const valid = widths.length > 0 && widths.every((width) => Number.isInteger(width) && width >= 1 && width <= 31);
      if (!valid || widths.reduce((sum, width) => sum + width, 0) > bits) {
        throw new RangeError(`substring widths must be 1..31 bits each and fit in ${bits} bits, got ${widths.join(',')}`);
      }
    }
    this.tables = this.makeTables(
      widths !== undefined
        ? substringsOf(widths)
        : count !== undefined
          ? splitIntoSubstrings(bits, count)
          : chooseSubstrings(bits, this.designRadius!, expectedSize),
      expectedSize,
    );
    this.layoutSize = expectedSize;
    this.queryWords = new Uint32Array(this.store.wordCount);
  }

  get bits(): number {
    return this.store.bits;
  }

  get size(): number {
    return this.store.liveCount;
  }

  /** Substring widths in bits, one per table (for reports). */
  get substringWidths(): number[] {
    return this.tables.map((table) => table.width);
  }

  /** Hash words each table copies into its bucket lists (for reports). */
  get inlineWordCounts(): number[] {
    return this.tables.map((table) => table.inlineWords);
  }

  /** True while a rebuild is under way (queries answer exactly meanwhile). */
  get rebuilding(): boolean {
    return this.rebuild !== null;
  }

  /** O(1): the hash joins the unindexed list; the next query indexes it (see `maintain`). */
  add(entryId: number, hash: HashBytes): void {
    // No slot reuse during a rebuild: a reused slot would be read as a snapshot one.
    const slot = this.store.insert(entryId, hash, this.rebuild === null);
    if (this.unindexedPosition.length < this.store.capacity) {
      const grown = new Int32Array(this.store.capacity).fill(-1);
      grown.set(this.unindexedPosition);
      this.unindexedPosition = grown;
    }
    if (this.unindexedCount === this.unindexed.length) {
      const grown = new Int32Array(this.unindexed.length * 2);
      grown.set(this.unindexed);
      this.unindexed = grown;
    }
    this.unindexedPosition[slot] = this.unindexedCount;
    this.unindexed[this.unindexedCount++] = slot;
  }

  has(entryId: number): boolean {
    return this.store.slotOf(entryId) >= 0;
  }

  get entryMapBytes(): number {
    return this.store.entryMapBytes;
  }

  /** O(m log bucket size): tombstones the slot in every table (or drops it from the unindexed list). */
  remove(entryId: number): boolean {
    const slot = this.store.slotOf(entryId);
    if (slot < 0) return false;
    const position = this.unindexedPosition[slot]!;
    if (position >= 0) {
      const last = this.unindexed[--this.unindexedCount]!;
      this.unindexed[position] = last;
      this.unindexedPosition[last] = position;
      this.unindexedPosition[slot] = -1;
    } else {
      // Each table drops the slot wherever it holds it: during a rebuild an old table holds a frozen
      // slot in its overflow (once drained) and a new table in its lists.
      const base = slot * this.store.wordCount;
      for (const table of this.tables) table.remove(table.keyOf(this.store.words, base), slot);
    }
    this.store.vacate(entryId, this.rebuild === null);
    this.rebuild?.slotVacated(slot);
    return true;
  }

  /**
   * Folds every unindexed and overflow entry and every tombstone into the tables now, in one
   * synchronous build (finishing a rebuild under way first): O(N + 2^width) per table. Blocks for
   * ~1.1 s at 1M entries: for benchmarks and tests; servers use compactInBackground().
   */
  compact(): void {
    if (this.rebuild) this.advanceRebuild(Infinity);
    this.startRebuild(false);
    this.advanceRebuild(Infinity);
  }

  /**
   * The same as compact(), in slices of a few ms between turns of the event loop; the index stays
   * queryable and changeable meanwhile (changes made during the build stay pending). Resolves
   * once every change made before the call is in the tables.
   */
  async compactInBackground(): Promise<void> {
    const running = this.rebuild;
    if (running) {
      running.schedule();
      await running.done;
    }
    if (!running || this.pending() > 0) {
      const rebuild = this.rebuild ?? this.startRebuild(true);
      rebuild.schedule();
      await rebuild.done;
    }
  }

  /**
   * Does about `units` items of a rebuild under way (a slot or a key each); true when none is left
   * under way. For tests and benchmarks; a rebuild started by a query advances by itself.
   */
  advanceRebuild(units: number): boolean {
    return this.rebuild?.advance(units) ?? true;
  }

  /**
   * Begins a rebuild of every table for the current size (see mih-rebuild.ts). Synchronous part:
   * O(unindexed) to freeze the unindexed list (the rebuild's first slices, and queries, move it
   * into the old tables' overflow).
   */
  private startRebuild(scheduled: boolean): MihRebuild {
    const layout = this.rebuildLayout();
    // Unindexed slots leave the list; queries verify them from the frozen list until they are moved.
    const frozen = this.unindexed;
    const frozenCount = this.unindexedCount;
    for (let i = 0; i < frozenCount; i++) this.unindexedPosition[frozen[i]!] = -1;
    this.unindexed = new Int32Array(64);
    this.unindexedCount = 0;
    const rebuild = new MihRebuild(this.rebuildHost(), layout, frozen, frozenCount);
    this.rebuild = rebuild;
    if (scheduled) rebuild.schedule();
    return rebuild;
  }

  /** The current layout, or a new one when the set outgrew or shrank far below the one it has. */
  private rebuildLayout(): RebuildLayout {
    const substrings = this.tables.map(({ start, width }) => ({ start, width }));
    const current = { substrings, inlineWords: this.inlineWordCounts, inPlace: true };
    const live = this.store.liveCount;
    if (this.designRadius === null || (live <= 2 * this.layoutSize && 4 * live >= this.layoutSize)) return current;
    this.layoutSize = live;
    const chosen = chooseSubstrings(this.store.bits, this.designRadius, live);
    const chosenInline = this.inlineWordsFor(chosen, live);
    const same = (table: SubstringTable, t: number) => table.width === chosen[t]!.width && table.inlineWords === chosenInline[t];
    if (chosen.length === this.tables.length && this.tables.every(same)) return current;
    return { substrings: chosen, inlineWords: chosenInline, inPlace: false };
  }

  /** What a rebuild may read and replace in this index. */
  private rebuildHost(): RebuildHost {
    return {
      store: this.store,
      tables: () => this.tables,
      replaceTable: (t, table) => {
        this.tables[t] = table;
      },
      replaceAllTables: (tables) => {
        this.tables = tables;
        this.plans.clear();
      },
      rebuildFinished: (compactedSize) => {
        this.compactedSize = compactedSize;
        this.rebuild = null;
      },
    };
  }

  private pending(): number {
    const first = this.tables[0]!;
    return this.unindexedCount + first.overflow.size + first.tombstones;
  }

  query(hash: HashBytes, radius: number): HashMatch[] {
    assertRadius(radius);
    this.store.pack(hash, this.queryWords);
    const matches: HashMatch[] = [];
    if (this.store.liveCount === 0) return matches;
    this.maintain();
    const plan = this.planFor(radius);
    this.lastQueryCandidates = 0;
    this.lastQueryOutright = 0;
    if (plan === null) return this.scanStore(radius, matches).sort(compareMatches);
    this.probeTables(plan, radius, matches);
    // A match may come from several tables: equal entries are adjacent once sorted.
    matches.sort(compareMatches);
    let kept = 0;
    for (let i = 0; i < matches.length; i++) {
      if (kept === 0 || matches[i]!.entryId !== matches[kept - 1]!.entryId) matches[kept++] = matches[i]!;
    }
    matches.length = kept;
    return matches;
  }

  private makeTables(substrings: Substring[], size: number): SubstringTable[] {
    const inline = this.inlineWordsFor(substrings, size);
    return substrings.map(({ start, width }, t) => new SubstringTable(start, width, inline[t]!));
  }

  private inlineWordsFor(substrings: Substring[], size: number): number[] {
    const pinned = this.inlineWords;
    if (typeof pinned === 'number') return substrings.map(() => pinned);
    if (pinned !== null) {
      if (pinned.length !== substrings.length) throw new RangeError(`${pinned.length} inline word counts for ${substrings.length} tables`);
      return [...pinned];
    }
    const widths = substrings.map((part) => part.width);
    return chooseInlineWords(widths, this.inlineRadius, Math.max(1, size), this.store.wordCount);
  }

  private probeTables(plan: QueryPlan, radius: number, matches: HashMatch[]): void {
    const { words, entryOfSlot, wordCount } = this.store;
    const query = this.queryWords;
    const check = (slot: number): void => {
      const distance = distanceWithin(words, slot * wordCount, query, wordCount, radius);
      if (distance > radius) return;
      matches.push({ entryId: entryOfSlot[slot]!, distance });
    };
    const candidates = this.candidates;
    candidates.reset();
    const rebuild = this.rebuild;
    const pendingAdds = this.tables[0]!.overflow.size;
    // A few pending adds are cheaper to verify outright than to look up once per probed key. Only
    // outside a rebuild do all tables' overflow maps hold the same slots, so that one scan serves all.
    const scanOverflow = rebuild === null && pendingAdds > 0 && pendingAdds <= plan.probes;
    for (let t = 0; t < this.tables.length; t++) {
      const masks = plan.masks[t];
      if (!masks) continue;
      const table = this.tables[t]!;
      const key = table.keyOf(query, 0);
      candidates.loadHeads(table.heads, table.lists, table.inlineWords, key, masks);
      if (table.overflow.size > 0 && !scanOverflow) table.overflow.visitNeighbours(key, masks, check);
    }
    candidates.collect(query, radius);
    this.lastQueryCandidates = candidates.count;
    candidates.verify(words, wordCount, query, radius, (slot, distance) => {
      matches.push({ entryId: entryOfSlot[slot]!, distance });
    });
    let outright = this.unindexedCount;
    if (scanOverflow) {
      outright += pendingAdds;
      this.tables[0]!.overflow.forEachSlot(check);
    }
    for (let i = 0; i < this.unindexedCount; i++) check(this.unindexed[i]!);
    if (rebuild) {
      // Frozen slots not yet in the tables; those removed since are vacated (not reused until the end).
      const { frozen, frozenCount } = rebuild;
      for (let i = rebuild.frozenMoved; i < frozenCount; i++) if (entryOfSlot[frozen[i]!]! >= 0) check(frozen[i]!);
      outright += frozenCount - rebuild.frozenMoved;
    }
    this.lastQueryOutright = outright;
  }

  private scanStore(radius: number, matches: HashMatch[]): HashMatch[] {
    const { words, entryOfSlot, wordCount, slotCount } = this.store;
    for (let slot = 0; slot < slotCount; slot++) {
      const entryId = entryOfSlot[slot]!;
      if (entryId < 0) continue;
      const distance = distanceWithin(words, slot * wordCount, this.queryWords, wordCount, radius);
      if (distance <= radius) matches.push({ entryId, distance });
    }
    return matches;
  }

  /** Masks per table for this radius, or null when a linear scan is expected to be cheaper. */
  private planFor(radius: number): QueryPlan | null {
    const size = this.store.liveCount;
    const sizeBucket = 2 ** Math.ceil(Math.log2(size + 1)); // re-plan only when the size doubles
    const cacheKey = radius * 64 + Math.log2(sizeBucket);
    if (this.plans.has(cacheKey)) return this.plans.get(cacheKey)!;
    const widths = this.tables.map((table) => table.width);
    const radii = allocateSubRadii(widths, radius, sizeBucket);
    let probes = 0;
    for (let t = 0; t < widths.length; t++) if (radii[t]! >= 0) probes += neighbourhoodSize(widths[t]!, radii[t]!);
    const cost = estimateQueryCost(widths, radii, sizeBucket);
    let plan: QueryPlan | null = null;
    const probingPays = cost < sizeBucket * LINEAR_COST_PER_ENTRY || !this.linearFallback;
    if (probes <= MAX_PROBES_PER_QUERY && probingPays) {
      plan = { masks: widths.map((width, t) => (radii[t]! >= 0 ? flipMasks(width, radii[t]!) : null)), probes, cost };
    }
    this.plans.set(cacheKey, plan);
    return plan;
  }

  /**
   * Upkeep before a query, bounded: once pending changes (unindexed adds, overflow entries,
   * tombstones) pass 1/8 of the compacted size, a rebuild starts and runs off the query (which makes
   * it amortised O(m) per change); a long unindexed (or frozen) list moves to the overflow maps, at
   * most REINDEX_PER_QUERY entries per query.
   */
  private maintain(): void {
    if (this.rebuild === null && this.pending() > Math.max(this.minPendingBeforeCompact, this.compactedSize / 8)) {
      this.startRebuild(this.scheduleRebuilds);
    }
    const rebuild = this.rebuild;
    // The frozen list is drained like the unindexed one: a long remainder, REINDEX_PER_QUERY at a time.
    if (rebuild !== null && rebuild.frozenCount - rebuild.frozenMoved > this.unindexedScanMax) rebuild.drainFrozen(REINDEX_PER_QUERY);
    if (this.unindexedCount > this.unindexedScanMax) {
      // Never snapshot slots (those are frozen, and drained by the rebuild), so no table receives a slot it already holds.
      const { words, wordCount } = this.store;
      const stop = Math.max(0, this.unindexedCount - REINDEX_PER_QUERY);
      while (this.unindexedCount > stop) {
        const slot = this.unindexed[--this.unindexedCount]!;
        for (const table of this.tables) table.add(table.keyOf(words, slot * wordCount), slot);
        this.unindexedPosition[slot] = -1;
      }
    }
  }
}
