/**
 * Exact BK-tree (Burkhard-Keller) over Hamming distance, nodes in typed arrays.
 *
 * Each node is one stored hash; a child hangs off its parent at the edge "distance to the parent",
 * and a query at distance d from a node only descends into edges within [d - r, d + r] (triangle
 * inequality). That prunes well only while r is small next to the typical distance spread: random
 * 256-bit hashes sit at 128 +- 8 bits from each other, so at r = 31 the window [d - 31, d + 31] covers
 * nearly every edge and a query visits almost every node (slower than the linear scan, which has no
 * pointer chasing). Use it for short hashes (64 bits) at small radii; see choose-index.ts.
 *
 * Copies of one hash form a chain of edge-0 links below the first copy; a new copy is linked right
 * below the first one, so adding it never walks the chain (a set of 20,000 copies of one hash used
 * to cost 20,000 x 20,000 / 2 distance computations to load).
 *
 * Removal leaves a dead routing node (its hash still steers the tree); adding the same hash again
 * revives it when it is the first copy (dead copies further down a chain wait for a compaction).
 * Entries that keep changing (an exact-match set whose entries are replaced one by one)
 * would so grow the tree without bound, so once dead nodes outnumber live ones (and pass
 * `minDeadBeforeCompact`) a removal starts a compaction: a fresh tree is built from the live nodes
 * in slices between turns of the event loop (mih-rebuild.ts's `runInSlices`), while the old tree
 * keeps answering queries and taking changes; changes made meanwhile are mirrored into the new
 * tree, which replaces the old one, in O(1), once every old node has been scanned. Each removal
 * made during a compaction also advances it by a few nodes, so the tree stays bounded (about 2.5x
 * the live entries plus `minDeadBeforeCompact`) even when changes come without a turn of the event
 * loop in between (a large changelog batch applied in one go).
 */
import { EntryMap } from './entry-map.js';
import type { HashBytes } from './hash-bits.js';
import { assertEntryId, assertRadius, compareMatches, type HashIndex, type HashMatch } from './hash-index.js';
import { runInSlices } from './mih-rebuild.js';
import { assertHashBits, assertHashLength, fullDistance, packHash, wordCountFor } from './packed-hash-store.js';

const NONE = -1;
/** Dead nodes always allowed before a compaction starts (also when there are more of them than live ones). */
const MIN_DEAD_BEFORE_COMPACT = 1024;
/** Old nodes a compaction under way scans per removal: it ends before the old tree grows by another half. */
const COMPACT_NODES_PER_REMOVE = 4;
/** Nodes scanned (and inserted into the new tree when live) per step of a sliced compaction. */
const COMPACT_CHUNK = 1024;

export interface BkTreeOptions {
  /** Dead nodes always allowed before a compaction (default 1024); one starts once they also outnumber live entries. */
  minDeadBeforeCompact?: number;
  /**
   * 'background' (default): a compaction a removal starts runs in setImmediate slices (and a few
   * nodes per later removal). 'manual': only through advanceRebuild(), compact() and later
   * removals (tests interleave it with changes).
   */
  compactionScheduling?: 'background' | 'manual';
}

/** A compaction under way: the new tree, how far the old nodes have been scanned, what changed meanwhile. */
interface Compaction {
  /** The new tree; null once adopted (a pending slice holds the compaction, not the arrays). */
  next: BkTreeIndex | null;
  /** Old nodes below this existed at the start; the scan covers [0, nodeLimit). */
  readonly nodeLimit: number;
  scanned: number;
  /** Entries added since the start: already in `next` (mirrored), so the scan skips their nodes. */
  readonly added: Set<number>;
  finished: boolean;
  scheduled: boolean;
  readonly done: Promise<void>;
  resolveDone(): void;
}

export class BkTreeIndex implements HashIndex {
  readonly bits: number;
  private readonly wordCount: number;
  private nodeWords: Uint32Array;
  /** Entry held by each node, NONE for a dead routing node. */
  private nodeEntry: Int32Array;
  private firstChild: Int32Array;
  private nextSibling: Int32Array;
  private edgeToParent: Uint16Array;
  /** Node of each live entry, in memory proportional to the live entries (entry numbers are never reused). */
  private nodeOfEntry: EntryMap;
  private nodeCount = 0;
  private liveCount = 0;
  private stack = new Int32Array(64);
  private readonly queryWords: Uint32Array;
  private readonly minDeadBeforeCompact: number;
  private readonly scheduleCompactions: boolean;
  private compaction: Compaction | null = null;
  /** Nodes whose distance the last query computed (for benchmarks: fraction of the tree visited). */
  lastQueryVisits = 0;
  /** Nodes whose distance the last add computed on its way down (tests: copies of a hash stop at the first). */
  lastAddVisits = 0;

  constructor(bits: number, expectedSize = 0, options: BkTreeOptions = {}) {
    assertHashBits(bits);
    this.bits = bits;
    this.minDeadBeforeCompact = options.minDeadBeforeCompact ?? MIN_DEAD_BEFORE_COMPACT;
    this.scheduleCompactions = (options.compactionScheduling ?? 'background') === 'background';
    this.wordCount = wordCountFor(bits);
    const capacity = Math.max(16, Math.ceil(expectedSize));
    this.nodeWords = new Uint32Array(capacity * this.wordCount);
    this.nodeEntry = new Int32Array(capacity);
    this.firstChild = new Int32Array(capacity);
    this.nextSibling = new Int32Array(capacity);
    this.edgeToParent = new Uint16Array(capacity);
    this.nodeOfEntry = new EntryMap(capacity);
    this.queryWords = new Uint32Array(this.wordCount);
  }

  get size(): number {
    return this.liveCount;
  }

  /** Nodes in the tree, dead routing nodes included (a compaction's new tree not counted). */
  get nodes(): number {
    return this.nodeCount;
  }

  /** Dead routing nodes: removed entries whose node still steers the tree. */
  get deadNodes(): number {
    return this.nodeCount - this.liveCount;
  }

  /** True while a compaction is under way (queries answer exactly meanwhile, from the old tree). */
  get rebuilding(): boolean {
    return this.compaction !== null;
  }

  add(entryId: number, hash: HashBytes): void {
    assertEntryId(entryId);
    assertHashLength(hash, this.bits);
    if (this.nodeOf(entryId) !== NONE) throw new RangeError(`entry ${entryId} is already in the index`);
    packHash(hash, this.bits, this.queryWords, 0);
    this.lastAddVisits = 0;
    this.insert(entryId, this.queryWords);
    const compaction = this.compaction;
    if (compaction) {
      compaction.next!.insert(entryId, this.queryWords);
      compaction.added.add(entryId);
    }
  }

  remove(entryId: number): boolean {
    const node = this.nodeOf(entryId);
    if (node === NONE) return false;
    this.nodeEntry[node] = NONE;
    this.nodeOfEntry.delete(entryId);
    this.liveCount--;
    const compaction = this.compaction;
    if (compaction) {
      // In the new tree already when scanned or added since the start; else the scan finds it dead.
      compaction.next!.remove(entryId);
      compaction.added.delete(entryId);
      this.advanceRebuild(COMPACT_NODES_PER_REMOVE);
    } else if (this.deadNodes > this.liveCount && this.deadNodes >= this.minDeadBeforeCompact) {
      this.startCompaction(this.scheduleCompactions);
    }
    return true;
  }

  has(entryId: number): boolean {
    return this.nodeOf(entryId) !== NONE;
  }

  get entryMapBytes(): number {
    return this.nodeOfEntry.byteLength;
  }

  query(hash: HashBytes, radius: number): HashMatch[] {
    assertRadius(radius);
    packHash(hash, this.bits, this.queryWords, 0);
    const matches: HashMatch[] = [];
    this.lastQueryVisits = 0;
    if (this.nodeCount === 0) return matches;
    const { nodeWords, nodeEntry, firstChild, nextSibling, edgeToParent, wordCount, queryWords } = this;
    let stack = this.stack;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const node = stack[--top]!;
      this.lastQueryVisits++;
      const distance = fullDistance(nodeWords, node * wordCount, queryWords, wordCount);
      if (distance <= radius && nodeEntry[node]! !== NONE) matches.push({ entryId: nodeEntry[node]!, distance });
      const low = distance - radius;
      const high = distance + radius;
      for (let child = firstChild[node]!; child !== NONE; child = nextSibling[child]!) {
        const edge = edgeToParent[child]!;
        if (edge < low || edge > high) continue;
        if (top === stack.length) {
          const grown = new Int32Array(stack.length * 2);
          grown.set(stack);
          this.stack = stack = grown;
        }
        stack[top++] = child;
      }
    }
    return matches.sort(compareMatches);
  }

  /**
   * Rebuilds the tree from live entries only, dropping dead routing nodes (finishing a compaction
   * under way first). O(n log n), in one go: for tests and tools; servers use compactInBackground().
   */
  compact(): void {
    if (this.compaction) this.advanceRebuild(Infinity);
    const live: Array<[number, Uint32Array]> = [];
    for (let node = 0; node < this.nodeCount; node++) {
      const entryId = this.nodeEntry[node]!;
      if (entryId === NONE) continue;
      const start = node * this.wordCount;
      live.push([entryId, this.nodeWords.slice(start, start + this.wordCount)]);
    }
    this.nodeCount = 0;
    this.liveCount = 0;
    this.nodeOfEntry.clear();
    for (const [entryId, words] of live) this.insert(entryId, words);
  }

  /**
   * The same as compact(), in slices of a few ms between turns of the event loop; the tree stays
   * queryable and changeable meanwhile. Resolves once no node that was dead at the call is left
   * (at once when there is none, as after a load without removals).
   */
  async compactInBackground(): Promise<void> {
    const running = this.compaction;
    if (running) {
      this.schedule(running);
      await running.done;
    }
    // Entries removed during that compaction left dead nodes in its new tree.
    if (this.deadNodes === 0) return;
    const compaction = this.compaction ?? this.startCompaction(true);
    this.schedule(compaction);
    await compaction.done;
  }

  /**
   * Scans about `units` old nodes of a compaction under way (inserting the live ones into the new
   * tree); true when none is left under way. For tests and benchmarks; a compaction a removal
   * starts advances by itself.
   */
  advanceRebuild(units: number): boolean {
    const compaction = this.compaction;
    if (!compaction) return true;
    const end = Math.min(compaction.nodeLimit, compaction.scanned + Math.max(0, units));
    const next = compaction.next!;
    const { added } = compaction;
    const { nodeEntry, nodeWords, wordCount } = this;
    for (let node = compaction.scanned; node < end; node++) {
      const entryId = nodeEntry[node]!;
      if (entryId === NONE || added.has(entryId)) continue;
      next.insert(entryId, nodeWords.subarray(node * wordCount, (node + 1) * wordCount));
    }
    compaction.scanned = end;
    if (end < compaction.nodeLimit) return false;
    this.adopt(next);
    compaction.next = null;
    compaction.finished = true;
    this.compaction = null;
    compaction.resolveDone();
    return true;
  }

  /** Begins a compaction from the current nodes; O(1) now, the scan runs in slices (or by advanceRebuild). */
  private startCompaction(scheduled: boolean): Compaction {
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const next = new BkTreeIndex(this.bits, this.liveCount, { minDeadBeforeCompact: Infinity, compactionScheduling: 'manual' });
    // Laid out for the entry ids in use (it grows by relayouts otherwise).
    next.nodeOfEntry = this.nodeOfEntry.emptyCopy();
    const compaction: Compaction = {
      next,
      nodeLimit: this.nodeCount,
      scanned: 0,
      added: new Set(),
      finished: false,
      scheduled: false,
      done,
      resolveDone,
    };
    this.compaction = compaction;
    if (scheduled) this.schedule(compaction);
    return compaction;
  }

  private schedule(compaction: Compaction): void {
    if (compaction.scheduled || compaction.finished) return;
    compaction.scheduled = true;
    runInSlices(() => compaction.finished, (units) => this.advanceRebuild(units), COMPACT_CHUNK);
  }

  /** Takes over a compaction's new tree (which holds exactly the live entries, and the dead nodes of removals made during it). */
  private adopt(tree: BkTreeIndex): void {
    this.nodeWords = tree.nodeWords;
    this.nodeEntry = tree.nodeEntry;
    this.firstChild = tree.firstChild;
    this.nextSibling = tree.nextSibling;
    this.edgeToParent = tree.edgeToParent;
    this.nodeOfEntry = tree.nodeOfEntry;
    this.nodeCount = tree.nodeCount;
    this.liveCount = tree.liveCount;
  }

  /** Stores packed `words` under `entryId` (absent from the tree): revives a dead node of the same words or adds one. */
  private insert(entryId: number, words: Uint32Array): void {
    const node = this.placeNode(words);
    this.nodeEntry[node] = entryId;
    this.nodeOfEntry.set(entryId, node);
    this.liveCount++;
  }

  private nodeOf(entryId: number): number {
    return entryId >= 0 ? this.nodeOfEntry.get(entryId) : NONE;
  }

  /**
   * The first node on the way down that holds exactly these words: revived when dead, else a new
   * copy goes right below it (linkCopy). Otherwise appends and links a new node.
   */
  private placeNode(words: Uint32Array): number {
    if (this.nodeCount === 0) return this.appendNode(words);
    let node = 0;
    for (;;) {
      this.lastAddVisits++;
      const distance = fullDistance(this.nodeWords, node * this.wordCount, words, this.wordCount);
      if (distance === 0) {
        if (this.nodeEntry[node] === NONE) return node;
        const copy = this.appendNode(words);
        this.linkCopy(node, copy);
        return copy;
      }
      const child = this.childAt(node, distance);
      if (child === NONE) {
        const created = this.appendNode(words);
        this.link(node, created, distance);
        return created;
      }
      node = child;
    }
  }

  /**
   * Puts `copy` (same words as `node`) between `node` and the copies already chained below it at
   * edge 0: O(children of `node`), never O(copies). Every node of a chain is at distance 0 from
   * the others, so any order of the chain keeps the tree's invariant.
   */
  private linkCopy(node: number, copy: number): void {
    let previous = NONE;
    let below = this.firstChild[node]!;
    while (below !== NONE && this.edgeToParent[below] !== 0) {
      previous = below;
      below = this.nextSibling[below]!;
    }
    if (below !== NONE) {
      if (previous === NONE) this.firstChild[node] = this.nextSibling[below]!;
      else this.nextSibling[previous] = this.nextSibling[below]!;
    }
    this.link(node, copy, 0);
    if (below !== NONE) this.link(copy, below, 0);
  }

  private childAt(node: number, edge: number): number {
    for (let child = this.firstChild[node]!; child !== NONE; child = this.nextSibling[child]!) {
      if (this.edgeToParent[child] === edge) return child;
    }
    return NONE;
  }

  private link(parent: number, child: number, edge: number): void {
    this.edgeToParent[child] = edge;
    this.nextSibling[child] = this.firstChild[parent]!;
    this.firstChild[parent] = child;
  }

  private appendNode(words: Uint32Array): number {
    if (this.nodeCount === this.nodeEntry.length) this.grow(this.nodeCount * 2);
    const node = this.nodeCount++;
    this.nodeWords.set(words, node * this.wordCount);
    this.firstChild[node] = NONE;
    this.nextSibling[node] = NONE;
    this.nodeEntry[node] = NONE;
    return node;
  }

  private grow(capacity: number): void {
    const growInt32 = (from: Int32Array): Int32Array => {
      const to = new Int32Array(capacity);
      to.set(from);
      return to;
    };
    const nodeWords = new Uint32Array(capacity * this.wordCount);
    nodeWords.set(this.nodeWords);
    this.nodeWords = nodeWords;
    this.nodeEntry = growInt32(this.nodeEntry);
    this.firstChild = growInt32(this.firstChild);
    this.nextSibling = growInt32(this.nextSibling);
    const edges = new Uint16Array(capacity);
    edges.set(this.edgeToParent);
    this.edgeToParent = edges;
  }
}
