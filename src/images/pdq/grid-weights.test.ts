import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { axisWeights, gridFromLuma, gridFromRgb } from './grid-weights.js';
import { decimate, jaroszFilter, jaroszWindowSize } from './jarosz.js';
import { lumaFromRgb } from './luminance.js';

/** The reference's shape: filter every pixel, then read the grid. */
function filterThenDecimate(luma: Float32Array, rows: number, cols: number): Float32Array {
  const buffer = Float32Array.from(luma);
  jaroszFilter(buffer, new Float32Array(rows * cols), new Float64Array(cols), rows, cols, jaroszWindowSize(cols, 64), jaroszWindowSize(rows, 64));
  const grid = new Float32Array(64 * 64);
  decimate(buffer, rows, cols, grid, 64, 64);
  return grid;
}

describe('grid weights', () => {
  it('each cell weighs a normalised neighbourhood (weights sum to 1)', () => {
    for (const length of [65, 100, 384, 512, 4000]) {
      const { weights } = axisWeights(length, 64);
      for (const cell of weights) expect(cell.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it('equal the full Jarosz filter followed by decimation, for any size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 700 }), fc.integer({ min: 5, max: 700 }), fc.integer(), (rows, cols, seed) => {
        const rgb = Uint8Array.from({ length: rows * cols * 3 }, (_, i) => (Math.imul(i + seed, 2654435761) >>> 24) ^ ((i / 3 / cols) & 0x3f));
        const luma = lumaFromRgb(rgb, cols, rows, new Float32Array(rows * cols));
        const expected = filterThenDecimate(luma, rows, cols);
        const fromRgb = new Float32Array(64 * 64);
        gridFromRgb(rgb, cols, rows, 64, fromRgb, new Float32Array(rows * 64));
        const fromLuma = new Float32Array(64 * 64);
        gridFromLuma(luma, cols, rows, 64, fromLuma, new Float32Array(rows * 64));
        for (let k = 0; k < 64 * 64; k++) {
          expect(Math.abs(fromRgb[k]! - expected[k]!)).toBeLessThan(1e-2);
          expect(Math.abs(fromLuma[k]! - expected[k]!)).toBeLessThan(1e-2);
        }
      }),
      { numRuns: 25 },
    );
  });
});
