/**
 * Candidate gathering for multi-index hashing, staged for memory-level parallelism.
 *
 * At millions of entries every probe, bucket read and candidate verification is a cache (and TLB)
 * miss into a large typed array. A fused loop (probe -> walk bucket -> verify) branches on bucket
 * sizes the CPU cannot predict, and each mispredict throws away the loads in flight, so the misses
 * run one after another. Splitting the work into tight loops whose loads do not depend on each other
 * (all bucket bounds, then all bucket contents, then the first two words of every candidate) lets the
 * CPU keep many misses in flight at once.
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
  private begins = new Int32Array(1024);
  private ends = new Int32Array(1024);
  private positions = new Int32Array(4096);
  /** Candidate slots (tombstones included, skipped at verification). */
  private slots = new Int32Array(4096);
  private partial = new Int32Array(4096);
  count = 0;

  reset(): void {
    this.count = 0;
  }

  /** Appends the contents of every bucket `key ^ mask` of one CSR table. */
  gather(offsets: Uint32Array, tableSlots: Int32Array, key: number, masks: Uint32Array): void {
    const probes = masks.length;
    this.begins = grown(this.begins, probes);
    this.ends = grown(this.ends, probes);
    const { begins, ends } = this;
    let total = 0;
    for (let p = 0; p < probes; p++) {
      const probe = key ^ masks[p]!;
      const begin = offsets[probe]!;
      const end = offsets[probe + 1]!;
      begins[p] = begin;
      ends[p] = end;
      total += end - begin;
    }
    this.positions = grown(this.positions, total);
    const positions = this.positions;
    let n = 0;
    for (let p = 0; p < probes; p++) for (let i = begins[p]!, end = ends[p]!; i < end; i++) positions[n++] = i;
    this.slots = grown(this.slots, this.count + total);
    const slots = this.slots;
    const at = this.count;
    for (let i = 0; i < n; i++) slots[at + i] = tableSlots[positions[i]!]!;
    this.count += n;
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
    this.partial = grown(this.partial, count);
    const firstWords = this.partial;
    // Pass 1 only loads each candidate's first word: so few instructions per iteration that dozens
    // of misses overlap, and the whole 32-byte record is in cache for pass 2.
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      firstWords[i] = slot >= 0 ? words[slot * wordCount]! : 0;
    }
    const q0 = query[0]!;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      if (slot < 0 || popcount32(firstWords[i]! ^ q0) > radius) continue;
      const distance = distanceWithin(words, slot * wordCount, query, wordCount, radius);
      if (distance <= radius) onMatch(slot, distance);
    }
  }
}
