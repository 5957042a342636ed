import { describe, expect, it } from 'vitest';
import { hashToHex } from '../../matching/hash-bits.js';
import { DCT_MATRIX } from './dct.js';
import { getPdqBit, pdqBitIndex } from './hash-layout.js';
import { PdqHasher, lowerMedian, pdqBitsFromDct, pdqHash, pdqQuality } from './hasher.js';

/**
 * A 64x64 luma image (64x64 input skips the blur, as in the reference) built from DCT basis
 * images with chosen coefficients, so the hash can be worked out by hand: bit (i, j) is 1
 * exactly where the coefficient is above the median of the 256.
 */
function imageFromCoefficients(coefficient: (i: number, j: number) => number): Float32Array {
  const image = new Float32Array(64 * 64).fill(128);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const c = coefficient(i, j);
      for (let y = 0; y < 64; y++) {
        const vertical = DCT_MATRIX[i * 64 + y]! * c;
        for (let x = 0; x < 64; x++) image[y * 64 + x]! += vertical * DCT_MATRIX[j * 64 + x]!;
      }
    }
  }
  return image;
}

/** Distinct magnitudes so that no two coefficients tie at the median. */
const magnitude = (i: number, j: number): number => 40 + i * 1.3 + j * 0.07;

describe('PDQ hash by hand', () => {
  const hasher = new PdqHasher();

  it('low vertical frequencies positive, high negative: bits 0..127 set, i.e. the low half of the hex', () => {
    const luma = imageFromCoefficients((i, j) => (i < 8 ? 1 : -1) * magnitude(i, j));
    const { hash } = hasher.hashLuma(luma, 64, 64);
    expect(hashToHex(hash)).toBe('0'.repeat(32) + 'f'.repeat(32));
  });

  it('even horizontal frequency index positive: bit j of every 16-bit word, hex 5555 x 16', () => {
    const luma = imageFromCoefficients((i, j) => (j % 2 === 0 ? 1 : -1) * magnitude(i, j));
    const { hash } = hasher.hashLuma(luma, 64, 64);
    expect(hashToHex(hash)).toBe('5555'.repeat(16));
  });

  it('coefficient (0, 0) is the last hex digit, (15, 15) the top bit of the first', () => {
    // 128 positives: the high half except (15, 15), plus (0, 0).
    const positive = (i: number, j: number): boolean => (i === 0 && j === 0) || (i >= 8 && !(i === 15 && j === 15));
    const luma = imageFromCoefficients((i, j) => (positive(i, j) ? 1 : -1) * magnitude(i, j));
    const { hash } = hasher.hashLuma(luma, 64, 64);
    expect(getPdqBit(hash, pdqBitIndex(0, 0))).toBe(1);
    expect(getPdqBit(hash, pdqBitIndex(0, 1))).toBe(0);
    expect(getPdqBit(hash, pdqBitIndex(15, 15))).toBe(0);
    expect(hashToHex(hash)).toBe('7' + 'f'.repeat(31) + '0'.repeat(31) + '1');
  });
});

describe('median and bits', () => {
  it('takes the 128th smallest of 256 values, so exactly 128 bits are set when values differ', () => {
    const values = Float32Array.from({ length: 256 }, (_, k) => (k * 37) % 256);
    expect(lowerMedian(values)).toBe(127);
    const hash = pdqBitsFromDct(values);
    let ones = 0;
    for (let k = 0; k < 256; k++) ones += getPdqBit(hash, k);
    expect(ones).toBe(128);
  });
});

describe('quality', () => {
  it('is 0 for a flat image and 100 for a busy one', () => {
    expect(pdqQuality(new Float32Array(64 * 64).fill(90))).toBe(0);
    const checker = Float32Array.from({ length: 64 * 64 }, (_, k) => (((k >> 6) + (k & 63)) % 2) * 255);
    expect(pdqQuality(checker)).toBe(100);
  });

  it('counts only differences of at least 2.55 grey levels: a gentle ramp scores 0', () => {
    const ramp = Float32Array.from({ length: 64 * 64 }, (_, k) => (k & 63) * 2);
    expect(pdqQuality(ramp)).toBe(0);
  });

  it('images smaller than 5 pixels a side give the all-zero hash and quality 0', () => {
    const result = pdqHash({ data: new Uint8Array(4 * 100 * 3).fill(200), width: 4, height: 100 });
    expect(hashToHex(result.hash)).toBe('0'.repeat(64));
    expect(result.quality).toBe(0);
  });
});

describe('PdqHasher', () => {
  it('gives the same answer with reused buffers, after a larger image, and from RGB or luma', () => {
    const width = 300;
    const height = 200;
    // Smooth structure in both directions, so no coefficient sits at the median by accident.
    const rgb = Uint8Array.from({ length: width * height * 3 }, (_, k) => {
      const p = Math.floor(k / 3);
      return 128 + 100 * Math.sin((p % width) / 13) * Math.cos(Math.floor(p / width) / 17) + (k % 3) * 5;
    });
    const hasher = new PdqHasher();
    const first = hasher.hashRgb({ data: rgb, width, height });
    hasher.hashRgb({ data: new Uint8Array(600 * 500 * 3).fill(77), width: 600, height: 500 });
    const again = hasher.hashRgb({ data: rgb, width, height });
    expect(hashToHex(again.hash)).toBe(hashToHex(first.hash));
    expect(again.quality).toBe(first.quality);
    const luma = Float32Array.from({ length: width * height }, (_, p) => 0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]!);
    expect(hashToHex(hasher.hashLuma(luma, width, height).hash)).toBe(hashToHex(first.hash));
  });
});
