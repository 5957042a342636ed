/**
 * Candidate gathering for multi-index hashing, staged for memory-level parallelism.
 *
 * At millions of entries every probe, bucket read and candidate verification is a cache (and TLB)
 * miss into a large typed array. A fused loop (probe -> walk bucket -> verify) branches on bucket
 * sizes the CPU cannot predict, and each mispredict throws away the loads in flight, so the misses
 * run one after another. Splitting the work into tight loops whose loads do not depend on each other
 * (the bucket heads of every table, then the multi-slot bucket lists, then the first word of every
 * candidate) lets the CPU keep many misses in flight at once (1.7x faster than one fused loop at 10M).
 * The loops that issue misses must stay tiny: measured at 10M, folding the first-word loads into
 * `collect`, or the three-word distance into the load pass of `verify`, made a query 1.4x slower.
 * Also measured without gain: probing in ascending mask order (page locality of the heads), a
 * per-table occupancy bitmap that skips empty heads, and sorting candidates by slot before verifying
 * (the native sort costs more than it saves: 3.0k vs 3.9k queries/s at 10M), a carry-save sum of the
 * three words' popcounts in `verify`, and list heads that carry the list's length so that pass 1
 * could also fetch the last cache line of lists straddling two (in-process A/B: 4,138 vs 4,154/s).
 *
 * Tables whose lists carry hash words (SubstringTable.inlineWords) are screened in `collect`: pass
 * 1 has already brought each list's first line in, and an entry whose inlined words alone are
 * farther than the radius from the query never becomes a candidate (at r = 31 of 256 bits, 96
 * inlined bits rule out all but ~0.03% of random entries), which saves its miss into the store.
 */
import { popcount32 } from './hash-bits.js';
import { distanceWithin } from './packed-hash-store.js';

function grown(array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> {
  if (array.length >= needed) return array;
  const bigger = new Int32Array(Math.max(needed, array.length * 2));
  bigger.set(array);
  return bigger;
}

export class CandidateBuffer {
  /** Bucket heads of every probed key, all tables back to back (see SubstringTable). */
  private heads = new Int32Array(4096);
  private headCount = 0;
  /** Where each table's heads end in `heads`, and that table's bucket lists. */
  private segmentEnds: number[] = [];
  private segmentLists: Int32Array[] = [];
  /** Hash words inlined in each segment's list entries (see SubstringTable.inlineWords). */
  private segmentInline: number[] = [];
  /** Candidate slots (tombstones included, skipped at verification). */
  private slots = new Int32Array(4096);
  private firstWords = new Uint32Array(4096);
  count = 0;

  reset(): void {
    this.headCount = 0;
    this.segmentEnds.length = 0;
    this.segmentLists.length = 0;
    this.segmentInline.length = 0;
    this.count = 0;
  }

  /** Loads the heads of buckets `key ^ mask` of one table; `collect` expands them later. */
  loadHeads(tableHeads: Int32Array, lists: Int32Array, inlineWords: number, key: number, masks: Uint32Array): void {
    const at = this.headCount;
    this.heads = grown(this.heads, at + masks.length);
    const heads = this.heads;
    for (let p = 0; p < masks.length; p++) heads[at + p] = tableHeads[key ^ masks[p]!]!;
    this.headCount = at + masks.length;
    this.segmentEnds.push(this.headCount);
    this.segmentLists.push(lists);
    this.segmentInline.push(inlineWords);
  }

  /**
   * Turns the loaded heads of every table into candidate slots. Entries of lists that carry hash
   * words are screened on those words first (their distance to `query` alone exceeding `radius`
   * rules them out), so most of them never cost a miss into the packed store.
   */
  collect(query: Uint32Array, radius: number): void {
    const heads = this.heads;
    let total = 0;
    let from = 0;
    for (let s = 0; s < this.segmentEnds.length; s++) {
      const lists = this.segmentLists[s]!;
      const to = this.segmentEnds[s]!;
      for (let p = from; p < to; p++) {
        // Branch-free on purpose (see above): every head reads lists[0] or its list's count.
        const head = heads[p]!;
        const isList = (head + 1) >> 31; // -1 when head <= -2, else 0
        total += (~head >>> 31) + (lists[(-head - 2) & isList]! & isList);
      }
      from = to;
    }
    this.slots = grown(this.slots, total + 1);
    const slots = this.slots;
    let n = 0;
    from = 0;
    const q0 = query[0]!;
    const q1 = query.length > 1 ? query[1]! : 0;
    const q2 = query.length > 2 ? query[2]! : 0;
    for (let s = 0; s < this.segmentEnds.length; s++) {
      const lists = this.segmentLists[s]!;
      const to = this.segmentEnds[s]!;
      const inlineWords = this.segmentInline[s]!;
      if (inlineWords > 0) {
        // Same walk, but list entries are [slot, words...] and only those within reach are kept
        // (tombstones too are dropped here). The lists are in cache (pass 1 read their counts).
        const stride = inlineWords + 1;
        const w1 = inlineWords > 1 ? 1 : 0; // unused words compare 0 with 0
        const w2 = inlineWords > 2 ? 1 : 0;
        for (let p = from; p < to; p++) {
          const head = heads[p]!;
          slots[n] = head;
          n += ~head >>> 31;
          if (head < -1) {
            const at = -head - 2;
            for (let e = at + 1, end = at + 1 + lists[at]! * stride; e < end; e += stride) {
              const slot = lists[e]!;
              const distance =
                popcount32(lists[e + 1]! ^ q0) + popcount32((lists[e + 1 + w1]! ^ q1) & -w1) + popcount32((lists[e + 2 * w2 + 1]! ^ q2) & -w2);
              slots[n] = slot;
              n += ((slot | (radius - distance)) >>> 31) ^ 1; // slot >= 0 and distance <= radius
            }
          }
        }
        from = to;
        continue;
      }
      for (let p = from; p < to; p++) {
        const head = heads[p]!;
        // Every head is written, but the cursor only moves past inline slots (head >= 0): no
        // branch on the unpredictable empty/single split; only bucket lists (head <= -2) branch.
        slots[n] = head;
        n += ~head >>> 31;
        if (head < -1) {
          const at = -head - 2;
          for (let i = at + 1, end = at + 1 + lists[at]!; i < end; i++) slots[n++] = lists[i]!;
        }
      }
      from = to;
    }
    this.count = n;
  }

  /** Verifies every gathered candidate; `onMatch` may see a slot more than once (one per table). */
  verify(
    words: Uint32Array,
    wordCount: number,
    query: Uint32Array,
    radius: number,
    onMatch: (slot: number, distance: number) => void,
  ): void {
    const { count, slots } = this;
    if (this.firstWords.length < count) this.firstWords = new Uint32Array(Math.max(count, this.firstWords.length * 2));
    const firstWords = this.firstWords;
    // Pass 1 only loads each candidate's first word: so few instructions per iteration that dozens
    // of misses overlap, and the whole 32-byte record is in cache for pass 2.
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      firstWords[i] = slot >= 0 ? words[slot * wordCount]! : 0;
    }
    const q0 = query[0]!;
    if (wordCount < 4) {
      for (let i = 0; i < count; i++) {
        const slot = slots[i]!;
        if (slot < 0 || popcount32(firstWords[i]! ^ q0) > radius) continue;
        const distance = distanceWithin(words, slot * wordCount, query, wordCount, radius);
        if (distance <= radius) onMatch(slot, distance);
      }
      return;
    }
    // Pass 2: the first three words' distance without branching on it word by word. At large radii
    // (31 of 256 bits) one or two words decide nothing for a random candidate, so a word-by-word
    // early exit mispredicts about every other candidate; three words exceed the radius for nearly
    // all non-matches, so the single test below is predictable. The records are cached by pass 1.
    const q1 = query[1]!;
    const q2 = query[2]!;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      if (slot < 0) continue;
      const base = slot * wordCount;
      let distance = popcount32(firstWords[i]! ^ q0) + popcount32(words[base + 1]! ^ q1) + popcount32(words[base + 2]! ^ q2);
      if (distance > radius) continue;
      for (let w = 3; w < wordCount && distance <= radius; w++) distance += popcount32(words[base + w]! ^ query[w]!);
      if (distance <= radius) onMatch(slot, distance);
    }
  }
}
