/**
 * Every index must give exactly the linear scan's answer (same entryIds, same distances, same order)
 * for random sets with duplicates and near-duplicates, random radii and random add/remove sequences.
 * The linear scan itself is checked against hammingDistance over a plain Map.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BkTreeIndex } from './bk-tree-index.js';
import { hammingDistance, type HashBytes } from './hash-bits.js';
import { MAX_ENTRY_ID, type HashIndex, type HashMatch } from './hash-index.js';
import { LinearIndex } from './linear-index.js';
import { MihIndex } from './mih-index.js';
import { seededRandom } from '../../test/harness/seeded-random.js';

type Op =
  | { kind: 'add'; source: 'random' | 'duplicate' | 'near'; pick: number; flips: number[]; bytes: number[] }
  | { kind: 'remove'; pick: number; missing: boolean }
  | { kind: 'query'; source: 'random' | 'near'; pick: number; flips: number[]; bytes: number[]; radius: number; boundary: number | null }
  | { kind: 'compact' }
  /** Advances a rebuild under way by this many items (indexes built with rebuildScheduling 'manual'). */
  | { kind: 'step'; units: number };

const byteList = (bits: number) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: bits / 8, maxLength: bits / 8 });
/**
 * Bits to flip: random positions, or k evenly spread ones (one or two per substring), which puts a
 * near copy exactly on the pigeonhole boundary where a wrong sub-radius would miss it.
 */
const flipList = (bits: number) =>
  fc.oneof(
    fc.array(fc.integer({ min: 0, max: bits - 1 }), { maxLength: 40 }),
    fc.tuple(fc.integer({ min: 1, max: 40 }), fc.nat(bits - 1)).map(([count, shift]) =>
      Array.from({ length: count }, (_, j) => (Math.floor((j * bits) / count) + shift) % bits),
    ),
  );

/** Radii 0..40 by default; uneven layouts also get small radii and radii far above 31. */
const defaultRadius = fc.integer({ min: 0, max: 40 });

function opArbitrary(bits: number, radius: fc.Arbitrary<number> = defaultRadius): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), source: fc.constantFrom('random' as const, 'duplicate' as const, 'near' as const), pick: fc.nat(), flips: flipList(bits), bytes: byteList(bits) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat(), missing: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('query' as const), source: fc.constantFrom('random' as const, 'near' as const), pick: fc.nat(), flips: flipList(bits), bytes: byteList(bits), radius, boundary: fc.option(fc.integer({ min: -1, max: 1 })) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('step' as const), units: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 65, max: 5000 })) }) },
  );
}

function flipped(hash: HashBytes, flips: number[]): HashBytes {
  const copy = Uint8Array.from(hash);
  for (const bit of flips) copy[bit >> 3]! ^= 0x80 >> (bit & 7);
  return copy;
}

function modelQuery(model: Map<number, HashBytes>, query: HashBytes, radius: number): HashMatch[] {
  const matches: HashMatch[] = [];
  for (const [entryId, hash] of model) {
    const distance = hammingDistance(hash, query);
    if (distance <= radius) matches.push({ entryId, distance });
  }
  return matches.sort((a, b) => a.distance - b.distance || a.entryId - b.entryId);
}

/**
 * Runs the ops on the reference and on `candidates`, comparing every answer and every size.
 * `idOf` maps the dense ids the ops hand out to the entry ids stored (default: as they are).
 */
function runOps(bits: number, ops: Op[], candidates: Array<HashIndex & { advanceRebuild?: (units: number) => boolean }>, idOf: (id: number) => number = (id) => id): void {
  const reference = new LinearIndex(bits);
  const model = new Map<number, HashBytes>();
  const seen: HashBytes[] = [];
  let nextId = 0;
  const base = (pick: number): HashBytes | undefined => (seen.length ? seen[pick % seen.length] : undefined);
  for (const op of ops) {
    if (op.kind === 'add') {
      const from = base(op.pick);
      const hash = op.source === 'random' || !from ? Uint8Array.from(op.bytes) : op.source === 'duplicate' ? from : flipped(from, op.flips);
      // Reuse a removed id now and then: ids are dense, owners recycle them.
      const entryId = idOf(op.pick % 3 === 0 && nextId > model.size ? [...Array(nextId).keys()].find((id) => !model.has(idOf(id)))! : nextId++);
      model.set(entryId, hash);
      seen.push(hash);
      reference.add(entryId, hash);
      for (const index of candidates) index.add(entryId, hash);
      for (const index of candidates) expect(index.has(entryId)).toBe(true);
    } else if (op.kind === 'remove') {
      const ids = [...model.keys()];
      const entryId = op.missing || ids.length === 0 ? idOf(nextId + 5) : ids[op.pick % ids.length]!;
      const expected = model.delete(entryId);
      expect(reference.remove(entryId)).toBe(expected);
      for (const index of candidates) expect(index.remove(entryId)).toBe(expected);
      for (const index of candidates) expect(index.has(entryId)).toBe(false);
    } else if (op.kind === 'compact') {
      for (const index of candidates) index.compact?.();
    } else if (op.kind === 'step') {
      for (const index of candidates) index.advanceRebuild?.(op.units);
    } else {
      const from = base(op.pick);
      const query = op.source === 'random' || !from ? Uint8Array.from(op.bytes) : flipped(from, op.flips);
      // Boundary queries put the radius at (or one off) the near copy's exact distance.
      const radius = op.boundary !== null && from ? Math.max(0, hammingDistance(from, query) + op.boundary) : op.radius;
      const expected = reference.query(query, radius);
      expect(expected).toEqual(modelQuery(model, query, radius));
      for (const index of candidates) expect(index.query(query, radius)).toEqual(expected);
    }
    expect(reference.size).toBe(model.size);
    for (const index of candidates) expect(index.size).toBe(model.size);
  }
}

// 72 bits: a length that is not a whole number of 32-bit words (zero-padded last word).
describe.each([64, 72, 256])('%i-bit hashes: every index equals the linear scan', (bits) => {
  // Narrow substrings keep the direct tables small enough to build hundreds of times.
  const substringCounts = bits === 64 ? [4, 5, 8] : bits === 72 ? [4, 6, 9] : [16, 21, 32];

  it('over random add / remove / query sequences', () => {
    fc.assert(
      fc.property(
        fc.array(opArbitrary(bits), { minLength: 1, maxLength: 60 }),
        fc.constantFrom(...substringCounts),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 20 }),
        (ops, substringCount, unindexedScanMax, minPendingBeforeCompact) => {
          runOps(bits, ops, [
            new BkTreeIndex(bits),
            // Compactions started by removals as soon as dead nodes outnumber live ones, advanced by
            // `step` ops and later removals between the other changes.
            new BkTreeIndex(bits, 0, { minDeadBeforeCompact: minPendingBeforeCompact, compactionScheduling: 'manual' }),
            // Tiny thresholds so that short sequences go through every tier: unindexed, overflow, CSR,
            // and rebuilds that queries start and `step` ops advance between the other changes.
            new MihIndex(bits, { substringCount, linearFallback: false, unindexedScanMax, minPendingBeforeCompact, rebuildScheduling: 'manual' }),
            new MihIndex(bits, { substringCount, expectedSize: 1000 }),
            // Laid out by the cost model for 1 entry: rebuilds re-lay the tables (all swapped in together).
            new MihIndex(bits, { designRadius: 8, expectedSize: 1, linearFallback: false, minPendingBeforeCompact, rebuildScheduling: 'manual' }),
          ]);
        },
      ),
      { numRuns: bits === 256 ? 60 : 100 },
    );
  });
});

/**
 * Uneven layouts (as the cost model picks at scale: wide tables searched at sub-radius q, narrow
 * ones at q-1), substrings that leave bits uncovered, and hash words inlined in some tables' bucket
 * lists, at radii that are not multiples of the table count, tiny (0..3) or far above 31.
 */
describe.each([64, 72, 256])('%i-bit hashes: MIH with uneven substrings and inlined hash words equals the linear scan', (bits) => {
  const wordCount = Math.ceil(bits / 32);
  const layout = fc
    .array(fc.integer({ min: 1, max: bits === 256 ? 16 : 12 }), { minLength: 1, maxLength: bits === 256 ? 24 : 10 })
    .map((widths) => {
      const kept: number[] = [];
      let used = 0;
      for (const width of widths) {
        if (used + width > bits) continue;
        kept.push(width);
        used += width;
      }
      return kept;
    })
    .chain((widths) =>
      fc.record({
        widths: fc.constant(widths),
        inline: fc.array(fc.integer({ min: 0, max: Math.min(3, wordCount) }), { minLength: widths.length, maxLength: widths.length }),
      }),
    );
  const radius = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 40 }), fc.integer({ min: 31, max: 100 }));

  it('over random add / remove / query sequences', () => {
    fc.assert(
      fc.property(
        fc.array(opArbitrary(bits, radius), { minLength: 1, maxLength: 60 }),
        layout,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 20 }),
        (ops, { widths, inline }, unindexedScanMax, minPendingBeforeCompact) => {
          runOps(bits, ops, [
            new MihIndex(bits, { substringWidths: widths, inlineWords: inline, linearFallback: false, unindexedScanMax, minPendingBeforeCompact, rebuildScheduling: 'manual' }),
            new MihIndex(bits, { substringWidths: widths, inlineWords: Math.min(3, wordCount), linearFallback: false }),
          ]);
        },
      ),
      { numRuns: bits === 256 ? 60 : 100 },
    );
  });
});

/**
 * Entry ids as a hash set hands them out after years of churn: never reused, far above the number
 * of entries held, in runs with large gaps or scattered, up to MAX_ENTRY_ID. Answers stay the
 * linear scan's, and what each index keeps by entry id stays proportional to the entries held.
 */
describe.each([64, 256])('%i-bit hashes: churned entry ids far above the entries held', (bits) => {
  const substringCounts = bits === 64 ? [4, 8] : [16, 32];
  /** Increasing ids from `first`, with the gaps (repeated) between consecutive ones. */
  const churnedIds = fc.record({
    first: fc.oneof(fc.integer({ min: 1_000_000, max: 2 ** 30 }), fc.constant(MAX_ENTRY_ID - 200 * 2 ** 20)),
    gaps: fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 ** 20 })), { minLength: 1, maxLength: 16 }),
  });

  it('over random add / remove / query sequences', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary(bits), { minLength: 1, maxLength: 80 }), fc.constantFrom(...substringCounts), churnedIds, (ops, substringCount, { first, gaps }) => {
        const offsets = [0];
        const idOf = (id: number): number => {
          while (offsets.length <= id) offsets.push(offsets.at(-1)! + gaps[offsets.length % gaps.length]!);
          return first + offsets[id]!;
        };
        const indexes = [
          new LinearIndex(bits),
          new BkTreeIndex(bits, 0, { minDeadBeforeCompact: 4, compactionScheduling: 'manual' }),
          new MihIndex(bits, { substringCount, linearFallback: false, unindexedScanMax: 2, minPendingBeforeCompact: 4, rebuildScheduling: 'manual' }),
          new MihIndex(bits, { designRadius: 8, expectedSize: 1, linearFallback: false }),
        ];
        runOps(bits, ops, indexes, idOf);
        // An id map indexed by the id directly would hold ~4 bytes per id up to `first` (4 MB and up).
        for (const index of indexes) expect(index.entryMapBytes).toBeLessThanOrEqual(Math.max(64 * index.size + 64, 8192));
      }),
      { numRuns: bits === 256 ? 60 : 100 },
    );
  });
});

describe('MIH with compaction under way', () => {
  it('stays exact across automatic compactions (more adds than the pending threshold)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 40 }), (seed, radius) => {
        const rand = seededRandom(seed);
        const bits = 64;
        const ops: Op[] = [];
        const randomBytes = () => Array.from({ length: bits / 8 }, () => Math.floor(rand() * 256));
        const randomFlips = () => Array.from({ length: Math.floor(rand() * 12) }, () => Math.floor(rand() * bits));
        for (let i = 0; i < 2600; i++) {
          const roll = rand();
          const pick = Math.floor(rand() * 1e9);
          if (roll < 0.75) ops.push({ kind: 'add', source: roll < 0.4 ? 'random' : roll < 0.45 ? 'duplicate' : 'near', pick, flips: randomFlips(), bytes: randomBytes() });
          else if (roll < 0.92) ops.push({ kind: 'remove', pick, missing: false });
          else if (roll < 0.95) ops.push({ kind: 'step', units: 1 + Math.floor(rand() * 3000) });
          else ops.push({ kind: 'query', source: roll < 0.97 ? 'random' : 'near', pick, flips: randomFlips(), bytes: randomBytes(), radius, boundary: null });
        }
        runOps(bits, ops, [
          new MihIndex(bits, { substringCount: 4, linearFallback: false }),
          new MihIndex(bits, { substringCount: 5, linearFallback: false, unindexedScanMax: 16, minPendingBeforeCompact: 64 }),
          // Rebuilds advanced only by the `step` ops: many changes land while one is under way.
          new MihIndex(bits, { substringCount: 4, linearFallback: false, unindexedScanMax: 16, minPendingBeforeCompact: 64, rebuildScheduling: 'manual' }),
          new MihIndex(bits, { designRadius: 6, expectedSize: 10, linearFallback: false, minPendingBeforeCompact: 64, rebuildScheduling: 'manual' }),
        ]);
      }),
      { numRuns: 3 },
    );
  });
});

describe('BK-tree under churn, with compactions under way', () => {
  it('stays exact and bounded while entries are replaced one by one (ids never reused) or recycled', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 64 }), (seed, radius, minDead) => {
        const rand = seededRandom(seed);
        const bits = 64;
        const ops: Op[] = [];
        const randomBytes = () => Array.from({ length: bits / 8 }, () => Math.floor(rand() * 256));
        const randomFlips = () => Array.from({ length: Math.floor(rand() * 4) }, () => Math.floor(rand() * bits));
        for (let i = 0; i < 150; i++) ops.push({ kind: 'add', source: 'random', pick: Math.floor(rand() * 1e9), flips: [], bytes: randomBytes() });
        for (let i = 0; i < 1500; i++) {
          const roll = rand();
          const pick = Math.floor(rand() * 1e9);
          // Mostly replace-one changes: a removal and an add (duplicates and near copies of earlier hashes revive dead nodes).
          if (roll < 0.8) {
            ops.push({ kind: 'remove', pick, missing: false });
            ops.push({ kind: 'add', source: roll < 0.6 ? 'random' : roll < 0.7 ? 'duplicate' : 'near', pick, flips: randomFlips(), bytes: randomBytes() });
          } else if (roll < 0.85) ops.push({ kind: 'step', units: 1 + Math.floor(rand() * 200) });
          else ops.push({ kind: 'query', source: roll < 0.93 ? 'random' : 'near', pick, flips: randomFlips(), bytes: randomBytes(), radius, boundary: roll < 0.9 ? 0 : null });
        }
        const trees = [
          new BkTreeIndex(bits, 0, { minDeadBeforeCompact: minDead }),
          new BkTreeIndex(bits, 0, { minDeadBeforeCompact: minDead, compactionScheduling: 'manual' }),
        ];
        runOps(bits, ops, trees);
        // Without a turn of the event loop: bounded by the removals that advance a compaction under way.
        for (const tree of trees) expect(tree.nodes).toBeLessThanOrEqual(Math.ceil(2.5 * tree.size) + minDead + 8);
      }),
      { numRuns: 5 },
    );
  });
});

/**
 * Sets where most entries are copies (or near copies, sharing most substrings) of a few hashes:
 * long bucket lists and overflow groups under one key, and long chains of copies in the BK-tree,
 * through every tier (unindexed, overflow, compacted lists, rebuilds under way) and compactions.
 */
describe.each([64, 256])('%i-bit hashes: duplicate-heavy sets, every index equals the linear scan', (bits) => {
  it('over thousands of copies of a few hashes added, removed and re-added', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 12 }), (seed, radius) => {
        const rand = seededRandom(seed);
        const randomBytes = () => Array.from({ length: bits / 8 }, () => Math.floor(rand() * 256));
        const fewFlips = () => Array.from({ length: 1 + Math.floor(rand() * 3) }, () => Math.floor(rand() * bits));
        // The first three adds are the popular hashes: `pick` 0..2 copies them.
        const ops: Op[] = Array.from({ length: 3 }, () => ({ kind: 'add', source: 'random', pick: 0, flips: [], bytes: randomBytes() }));
        for (let i = 0; i < 2500; i++) {
          const roll = rand();
          const popular = Math.floor(rand() * 3);
          if (roll < 0.5) ops.push({ kind: 'add', source: 'duplicate', pick: popular, flips: [], bytes: [] });
          else if (roll < 0.58) ops.push({ kind: 'add', source: 'near', pick: popular, flips: fewFlips(), bytes: [] });
          else if (roll < 0.63) ops.push({ kind: 'add', source: 'random', pick: 1 + Math.floor(rand() * 1e9), flips: [], bytes: randomBytes() });
          else if (roll < 0.9) ops.push({ kind: 'remove', pick: Math.floor(rand() * 1e9), missing: false });
          else if (roll < 0.94) ops.push({ kind: 'step', units: 1 + Math.floor(rand() * 3000) });
          else ops.push({ kind: 'query', source: 'near', pick: popular, flips: fewFlips(), bytes: [], radius, boundary: roll < 0.97 ? 0 : null });
        }
        const substringCount = bits === 64 ? 4 : 16;
        runOps(bits, ops, [
          new BkTreeIndex(bits, 0, { minDeadBeforeCompact: 16, compactionScheduling: 'manual' }),
          new MihIndex(bits, { substringCount, linearFallback: false }),
          new MihIndex(bits, { substringCount, linearFallback: false, unindexedScanMax: 8, minPendingBeforeCompact: 64, rebuildScheduling: 'manual' }),
          new MihIndex(bits, { designRadius: 6, expectedSize: 10, inlineWords: Math.min(3, bits / 32), linearFallback: false, minPendingBeforeCompact: 64, rebuildScheduling: 'manual' }),
        ]);
      }),
      { numRuns: 3 },
    );
  });
});
