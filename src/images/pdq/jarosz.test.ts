import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boxAlongCols, boxAlongRows, jaroszWindowSize } from './jarosz.js';

/** The plain definition: mean over the window [o - before, o + after], clipped to the vector. */
function naiveBox(vector: number[], window: number): number[] {
  const half = Math.floor((window + 2) / 2);
  const before = window - half;
  const after = half - 1;
  return vector.map((_, o) => {
    const slice = vector.slice(Math.max(0, o - before), Math.min(vector.length, o + after + 1));
    return slice.reduce((a, b) => a + b, 0) / slice.length;
  });
}

describe('Jarosz window size', () => {
  it('is ceil(dimension / 128) for a 64-cell grid', () => {
    expect([64, 128, 129, 384, 512, 1024, 4000].map((d) => jaroszWindowSize(d, 64))).toEqual([1, 1, 2, 3, 4, 8, 32]);
  });
});

describe('box filter', () => {
  it('window 7 over 0..15: sums 6, 10, 15, 21, 28 ... 84, 75, 65, 54 over 4..7..4 samples', () => {
    const input = Float32Array.from({ length: 16 }, (_, i) => i);
    const output = new Float32Array(16);
    boxAlongRows(input, output, 1, 16, 7);
    const sums = [6, 10, 15, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 75, 65, 54];
    const counts = [4, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 5, 4];
    expect([...output].map((v, i) => Math.round(v * counts[i]!))).toEqual(sums);
  });

  it('window 8 puts the extra sample ahead: out[0] averages 0..4, out[4] averages 1..8', () => {
    const input = Float32Array.from({ length: 16 }, (_, i) => i);
    const output = new Float32Array(16);
    boxAlongRows(input, output, 1, 16, 8);
    expect(output[0]).toBeCloseTo(10 / 5);
    expect(output[4]).toBeCloseTo(36 / 8);
    expect(output[15]).toBeCloseTo(54 / 4);
  });

  it('rows and columns both equal the plain definition, for any size and window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 12 }), fc.integer(), (rows, cols, window, seed) => {
        const values = Array.from({ length: rows * cols }, (_, i) => ((i * 7919 + seed) % 1000) / 7);
        const input = Float32Array.from(values);
        const byRows = new Float32Array(rows * cols);
        const byCols = new Float32Array(rows * cols);
        boxAlongRows(input, byRows, rows, cols, Math.min(window, cols));
        boxAlongCols(input, byCols, rows, cols, Math.min(window, rows), new Float64Array(cols));
        for (let r = 0; r < rows; r++) {
          const expected = naiveBox(values.slice(r * cols, (r + 1) * cols), Math.min(window, cols));
          expected.forEach((v, c) => expect(byRows[r * cols + c]).toBeCloseTo(v, 2));
        }
        for (let c = 0; c < cols; c++) {
          const column = Array.from({ length: rows }, (_, r) => values[r * cols + c]!);
          naiveBox(column, Math.min(window, rows)).forEach((v, r) => expect(byCols[r * cols + c]).toBeCloseTo(v, 2));
        }
      }),
      { numRuns: 60 },
    );
  });
});
