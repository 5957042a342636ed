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
 * Removal leaves a dead routing node (its hash still steers the tree); adding the same hash again
 * revives it. Dead nodes are only dropped by an explicit `compact()`, never on add/remove.
 */
import type { HashBytes } from './hash-bits.js';
import { assertEntryId, assertRadius, compareMatches, type HashIndex, type HashMatch } from './hash-index.js';
import { assertHashBits, assertHashLength, fullDistance, packHash, wordCountFor } from './packed-hash-store.js';

const NONE = -1;

export class BkTreeIndex implements HashIndex {
  readonly bits: number;
  private readonly wordCount: number;
  private nodeWords: Uint32Array;
  /** Entry held by each node, NONE for a dead routing node. */
  private nodeEntry: Int32Array;
  private firstChild: Int32Array;
  private nextSibling: Int32Array;
  private edgeToParent: Uint16Array;
  private nodeOfEntry: Int32Array;
  private nodeCount = 0;
  private liveCount = 0;
  private stack = new Int32Array(64);
  private readonly queryWords: Uint32Array;
  /** Nodes whose distance the last query computed (for benchmarks: fraction of the tree visited). */
  lastQueryVisits = 0;

  constructor(bits: number, expectedSize = 0) {
    assertHashBits(bits);
    this.bits = bits;
    this.wordCount = wordCountFor(bits);
    const capacity = Math.max(16, Math.ceil(expectedSize));
    this.nodeWords = new Uint32Array(capacity * this.wordCount);
    this.nodeEntry = new Int32Array(capacity);
    this.firstChild = new Int32Array(capacity);
    this.nextSibling = new Int32Array(capacity);
    this.edgeToParent = new Uint16Array(capacity);
    this.nodeOfEntry = new Int32Array(capacity).fill(NONE);
    this.queryWords = new Uint32Array(this.wordCount);
  }

  get size(): number {
    return this.liveCount;
  }

  /** Nodes in the tree, dead routing nodes included. */
  get nodes(): number {
    return this.nodeCount;
  }

  add(entryId: number, hash: HashBytes): void {
    assertEntryId(entryId);
    assertHashLength(hash, this.bits);
    if (this.nodeOf(entryId) !== NONE) throw new RangeError(`entry ${entryId} is already in the index`);
    packHash(hash, this.bits, this.queryWords, 0);
    const node = this.placeNode(this.queryWords);
    if (entryId >= this.nodeOfEntry.length) {
      const grown = new Int32Array(Math.max(entryId + 1, this.nodeOfEntry.length * 2)).fill(NONE);
      grown.set(this.nodeOfEntry);
      this.nodeOfEntry = grown;
    }
    this.nodeEntry[node] = entryId;
    this.nodeOfEntry[entryId] = node;
    this.liveCount++;
  }

  remove(entryId: number): boolean {
    const node = this.nodeOf(entryId);
    if (node === NONE) return false;
    this.nodeEntry[node] = NONE;
    this.nodeOfEntry[entryId] = NONE;
    this.liveCount--;
    return true;
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

  /** Rebuilds the tree from live entries only, dropping dead routing nodes. O(n log n); call off the hot path. */
  compact(): void {
    const live: Array<[number, Uint32Array]> = [];
    for (let node = 0; node < this.nodeCount; node++) {
      const entryId = this.nodeEntry[node]!;
      if (entryId === NONE) continue;
      const start = node * this.wordCount;
      live.push([entryId, this.nodeWords.slice(start, start + this.wordCount)]);
    }
    this.nodeCount = 0;
    this.nodeOfEntry.fill(NONE);
    for (const [entryId, words] of live) {
      const node = this.appendNode(words);
      if (node > 0) this.attach(node, words);
      this.nodeEntry[node] = entryId;
      this.nodeOfEntry[entryId] = node;
    }
  }

  private nodeOf(entryId: number): number {
    return entryId >= 0 && entryId < this.nodeOfEntry.length ? this.nodeOfEntry[entryId]! : NONE;
  }

  /** Finds a dead node holding exactly these words to revive, else appends and links a new node. */
  private placeNode(words: Uint32Array): number {
    if (this.nodeCount === 0) return this.appendNode(words);
    let node = 0;
    for (;;) {
      const distance = fullDistance(this.nodeWords, node * this.wordCount, words, this.wordCount);
      if (distance === 0 && this.nodeEntry[node] === NONE) return node;
      const child = this.childAt(node, distance);
      if (child === NONE) {
        const created = this.appendNode(words);
        this.link(node, created, distance);
        return created;
      }
      node = child;
    }
  }

  private attach(created: number, words: Uint32Array): void {
    let node = 0;
    for (;;) {
      const distance = fullDistance(this.nodeWords, node * this.wordCount, words, this.wordCount);
      const child = this.childAt(node, distance);
      if (child === NONE) return this.link(node, created, distance);
      node = child;
    }
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
