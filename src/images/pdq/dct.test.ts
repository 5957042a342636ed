import { describe, expect, it } from 'vitest';
import { DCT_MATRIX, dct64To16 } from './dct.js';

describe('16x64 DCT matrix', () => {
  it('has orthonormal rows (D D^T = I)', () => {
    for (let a = 0; a < 16; a++) {
      for (let b = 0; b < 16; b++) {
        let dot = 0;
        for (let k = 0; k < 64; k++) dot += DCT_MATRIX[a * 64 + k]! * DCT_MATRIX[b * 64 + k]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
      }
    }
  });

  it('maps a basis image to its one coefficient: row i of the output is vertical frequency i + 1', () => {
    // Vertical frequency 3 (row index 2), horizontal frequency 5 (column index 4).
    const input = new Float32Array(64 * 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) input[y * 64 + x] = DCT_MATRIX[2 * 64 + y]! * DCT_MATRIX[4 * 64 + x]! * 1000;
    const out = dct64To16(input, new Float32Array(16 * 64), new Float32Array(256));
    for (let k = 0; k < 256; k++) expect(out[k]).toBeCloseTo(k === 2 * 16 + 4 ? 1000 : 0, 2);
  });

  it('ignores overall brightness (no DC term)', () => {
    const out = dct64To16(new Float32Array(64 * 64).fill(200), new Float32Array(16 * 64), new Float32Array(256));
    for (const v of out) expect(Math.abs(v)).toBeLessThan(1e-2);
  });
});
