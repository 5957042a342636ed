/**
 * blockhash() integrates block means itself and lets the package threshold them: its hashes must
 * be the package's own precise method's on the same pixels, bit for bit, near-flat blocks (where
 * the package's tie rule decides) included.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bmvbhash } from 'blockhash-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashToHex } from '../matching/hash-bits.js';
import { blockhash, type RgbImage } from './blockhash.js';
import { decodeImage } from './decode.js';

function packageHash(image: RgbImage, bits: number): string {
  const { data, width, height } = image;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set([data[p * 3]!, data[p * 3 + 1]!, data[p * 3 + 2]!, 255], p * 4);
  return bmvbhash({ data: rgba as unknown as number[], width, height }, bits);
}

/** A dark frame with flat patches a grey level or less apart: most blocks tie with their band's median. */
function nearFlat(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const patch = ((Math.floor(x / 7) * 31 + Math.floor(y / 5) * 17 + seed) % 5) === 0 ? 1 : 0;
      data.fill(12 + patch, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return { data, width, height };
}

describe('blockhash and the blockhash-core package', () => {
  const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');

  it('give the same hash on every fixture image, at 16 and 8 bits', async () => {
    const files = readdirSync(fixtures).filter((file) => /\.(jpg|png)$/.test(file));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const frame = (await decodeImage(readFileSync(join(fixtures, file)))).frames[0]!;
      const opaque = { data: frame.data, width: frame.width, height: frame.height };
      for (const bits of [16, 8]) expect(hashToHex(blockhash(opaque, bits)), `${file} at ${bits}`).toBe(packageHash(opaque, bits));
    }
  });

  it('give the same hash on near-flat frames of any size, where ties decide most bits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 300 }), fc.integer({ min: 16, max: 300 }), fc.integer({ min: 0, max: 4 }), (width, height, seed) => {
        const image = nearFlat(width, height, seed);
        expect(hashToHex(blockhash(image))).toBe(packageHash(image, 16));
      }),
      { numRuns: 60 },
    );
  });
});

/**
 * A flat frame with sparse samples one grey level off (compression-like noise): blocks whose sum is
 * exactly 1 from their band's median, which the package's tie rule (|v - m| < 1) must not count
 * as ties. Sizes are whole multiples of the grid, where the package sums exact integers.
 */
function flatWithSparseNoise(width: number, height: number, background: number, every: number, offset: number, up: boolean): RgbImage {
  const data = new Uint8Array(width * height * 3).fill(background);
  const step = up && background < 255 ? 1 : background > 0 ? -1 : 1;
  for (let i = offset % every; i < data.length; i += every) data[i]! += step;
  return { data, width, height };
}

describe('blockhash and blockhash-core on flat frames with sparse one-level noise', () => {
  it('a block one grey level below a flat bright band is darker than the median, not a tie', () => {
    const data = new Uint8Array(288 * 80 * 3).fill(250);
    data[0] = 249;
    const image = { data, width: 288, height: 80 };
    expect(packageHash(image, 16)).toBe('7fff' + 'ffff'.repeat(15));
    expect(hashToHex(blockhash(image))).toBe(packageHash(image, 16));
  });

  it('give the same hash at any whole-block size, background and noise density', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 7, max: 20_000 }),
        fc.nat(),
        fc.boolean(),
        fc.constantFrom(8, 16),
        (across, down, background, every, offset, up, bits) => {
          const image = flatWithSparseNoise(across * bits, down * bits, background, every, offset, up);
          expect(hashToHex(blockhash(image, bits))).toBe(packageHash(image, bits));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('blockhash sizes', () => {
  it('refuses grids whose hash is not whole bytes, rather than dropping bits', () => {
    const image = nearFlat(32, 32, 1);
    for (const bits of [2, 6, 10, 7]) expect(() => blockhash(image, bits), `bits ${bits}`).toThrow(RangeError);
    for (const bits of [4, 8, 12, 16]) expect(blockhash(image, bits).length).toBe((bits * bits) / 8);
  });
});
