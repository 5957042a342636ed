import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { BkTreeIndex } from './bk-tree-index.js';
import { createIndex } from './choose-index.js';
import { hexToHash } from './hash-bits.js';
import type { HashIndex } from './hash-index.js';
import { LinearIndex } from './linear-index.js';
import { MihIndex } from './mih-index.js';
import {
  allocateSubRadii,
  chooseInlineWords,
  chooseSubstrings,
  extractKey,
  flipMasks,
  neighbourhoodSize,
  splitIntoSubstrings,
} from './mih-layout.js';
import { packHash } from './packed-hash-store.js';

const PDQ_A = 'f'.repeat(64);
const PDQ_B = 'f'.repeat(62) + '00'; // 8 bits from A
const factories: Array<[string, (bits: number) => HashIndex]> = [
  ['linear', (bits) => new LinearIndex(bits)],
  ['bk-tree', (bits) => new BkTreeIndex(bits)],
  ['mih', (bits) => new MihIndex(bits, { substringCount: bits / 16, linearFallback: false })],
  ['mih (default layout)', (bits) => new MihIndex(bits)],
];

describe.each(factories)('%s index edge cases', (_name, make) => {
  it('answers nothing while empty, at any radius', () => {
    const index = make(256);
    expect(index.size).toBe(0);
    expect(index.query(hexToHash(PDQ_A, 256), 0)).toEqual([]);
    expect(index.query(hexToHash(PDQ_A, 256), 256)).toEqual([]);
  });

  it('radius 0 finds exact copies only, sorted by entryId', () => {
    const index = make(256);
    index.add(7, hexToHash(PDQ_A, 256));
    index.add(3, hexToHash(PDQ_A, 256));
    index.add(5, hexToHash(PDQ_B, 256));
    expect(index.query(hexToHash(PDQ_A, 256), 0)).toEqual([
      { entryId: 3, distance: 0 },
      { entryId: 7, distance: 0 },
    ]);
    expect(index.query(hexToHash(PDQ_A, 256), 8)).toEqual([
      { entryId: 3, distance: 0 },
      { entryId: 7, distance: 0 },
      { entryId: 5, distance: 8 },
    ]);
  });

  it('remove reports whether the id was there, and forgets it', () => {
    const index = make(64);
    expect(index.remove(1)).toBe(false);
    index.add(1, hexToHash('0123456789abcdef', 64));
    expect(index.remove(99)).toBe(false);
    expect(index.remove(1)).toBe(true);
    expect(index.remove(1)).toBe(false);
    expect(index.size).toBe(0);
    expect(index.query(hexToHash('0123456789abcdef', 64), 10)).toEqual([]);
    index.add(1, hexToHash('0123456789abcdef', 64)); // re-adding a removed id is fine
    expect(index.query(hexToHash('0123456789abcdef', 64), 0)).toEqual([{ entryId: 1, distance: 0 }]);
  });

  it('rejects a hash of the wrong length with invalid_hash, on add and on query', () => {
    const index = make(256);
    const short = hexToHash('0123456789abcdef', 64);
    expect(() => index.add(1, short)).toThrow(ScanError);
    expect(() => index.query(short, 3)).toThrow(expect.objectContaining({ code: 'invalid_hash' }));
    expect(index.size).toBe(0);
  });

  it('rejects a duplicate id, a bad id and a bad radius', () => {
    const index = make(64);
    index.add(1, hexToHash('0123456789abcdef', 64));
    expect(() => index.add(1, hexToHash('0123456789abcdee', 64))).toThrow(RangeError);
    expect(() => index.add(-1, hexToHash('0123456789abcdee', 64))).toThrow(RangeError);
    expect(() => index.add(1.5, hexToHash('0123456789abcdee', 64))).toThrow(RangeError);
    expect(() => index.query(hexToHash('0123456789abcdef', 64), -1)).toThrow(RangeError);
    expect(index.size).toBe(1);
  });
});

describe('MIH layout follows the set size', () => {
  it('re-lays out its tables at compaction when the set outgrows its expected size, staying exact', () => {
    let state = 42;
    const randomHash = (): Uint8Array => {
      const bytes = new Uint8Array(32);
      for (let i = 0; i < 32; i++) bytes[i] = (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 24;
      return bytes;
    };
    const mih = new MihIndex(256, { expectedSize: 10 });
    const linear = new LinearIndex(256);
    const initialWidths = mih.substringWidths;
    const hashes: Uint8Array[] = [];
    for (let id = 0; id < 20_000; id++) {
      const hash = randomHash();
      hashes.push(hash);
      mih.add(id, hash);
      linear.add(id, hash);
      if (id % 2_000 === 0) expect(mih.query(hash, 31)).toEqual(linear.query(hash, 31));
    }
    mih.compact();
    expect(mih.substringWidths).not.toEqual(initialWidths);
    for (let q = 0; q < 50; q++) {
      const near = Uint8Array.from(hashes[q * 97]!);
      near[q % 32]! ^= 0xff;
      expect(mih.query(near, 31)).toEqual(linear.query(near, 31));
      expect(mih.lastQueryCandidates).toBeGreaterThan(0); // probed the tables, not a scan
    }
  });
});

describe('index choice', () => {
  it('uses the linear scan for small sets, the BK-tree for exact lookups, MIH for the rest', () => {
    expect(createIndex(256, 31, 100)).toBeInstanceOf(LinearIndex);
    expect(createIndex(256, 31, 100_000)).toBeInstanceOf(MihIndex);
    expect(createIndex(64, 8, 100_000)).toBeInstanceOf(MihIndex);
    expect(createIndex(64, 0, 100_000)).toBeInstanceOf(BkTreeIndex);
    const index = createIndex(256, 31, 5_000);
    expect(index.bits).toBe(256);
    expect(index.size).toBe(0);
  });
});

describe('MIH layout helpers', () => {
  it('splits bits into disjoint near-equal substrings covering the hash', () => {
    const parts = splitIntoSubstrings(256, 11);
    expect(parts.reduce((sum, part) => sum + part.width, 0)).toBe(256);
    expect(new Set(parts.map((part) => part.width))).toEqual(new Set([23, 24]));
    expect(parts[10]!.start + parts[10]!.width).toBe(256);
  });

  it('allocates sub-radii that satisfy the pigeonhole bound exactly', () => {
    for (const m of [1, 4, 11, 16, 32]) {
      for (let radius = 0; radius <= 64; radius++) {
        const radii = allocateSubRadii(splitIntoSubstrings(256, m).map((part) => part.width), radius, 1e6);
        // A hash just outside every table's search has distance sum(radius_t + 1): it must exceed r.
        expect(Array.from(radii).reduce((sum, rho) => sum + rho + 1, 0)).toBe(radius + 1);
      }
    }
  });

  it('gives the tables searched at the lower sub-radius fewer bits, and inlines hash words within budget', () => {
    const widths = chooseSubstrings(256, 31, 10_000_000).map((part) => part.width);
    expect(widths).toEqual([24, 24, 24, 24, 24, 24, 23, 23, 23, 23, 20]);
    expect(Array.from(allocateSubRadii(widths, 31, 10_000_000))).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
    // The densest tables (about one entry per key) copy 3 words; ~34 of the 36 budgeted bytes/entry.
    expect(chooseInlineWords(widths, 31, 10_000_000, 8)).toEqual([0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 0]);
    // 96 inlined bits would not rule out random entries at radius 48: nothing is inlined.
    expect(chooseInlineWords(widths, 48, 10_000_000, 8).every((words) => words === 0)).toBe(true);
    for (const size of [1_000, 100_000, 1_000_000, 10_000_000]) {
      for (const radius of [0, 3, 8, 31]) {
        const parts = chooseSubstrings(256, radius, size);
        expect(parts.reduce((sum, part) => sum + part.width, 0)).toBeLessThanOrEqual(256);
        parts.forEach((part, t) => expect(part.start).toBe(t === 0 ? 0 : parts[t - 1]!.start + parts[t - 1]!.width));
        const radii = allocateSubRadii(parts.map((part) => part.width), radius, size);
        expect(Array.from(radii).reduce((sum, rho) => sum + rho + 1, 0)).toBe(radius + 1);
      }
    }
  });

  it('enumerates key neighbourhoods and reads substrings across word boundaries', () => {
    expect(neighbourhoodSize(16, 1)).toBe(17);
    expect(neighbourhoodSize(32, 3)).toBe(5489);
    expect(flipMasks(5, 2).length).toBe(16);
    expect(new Set(flipMasks(5, 2)).size).toBe(16);
    const words = new Uint32Array(2);
    packHash(hexToHash('0123456789abcdef', 64), 64, words, 0);
    expect(extractKey(words, 0, 0, 8)).toBe(0x01);
    expect(extractKey(words, 0, 28, 8)).toBe(0x78);
    expect(extractKey(words, 0, 20, 24)).toBe(0x56789a);
    expect(extractKey(words, 0, 40, 24)).toBe(0xabcdef);
  });
});
