/**
 * The part of the 2D DCT-II that PDQ keeps: of a 64x64 input, the 16x16 block of coefficients
 * at frequencies 1..16 in each direction (the DC term, frequency 0, is left out: it carries
 * only overall brightness). Computed as B = D A D^T with D the 16x64 slice of the DCT matrix.
 */

export const DCT_INPUT_SIZE = 64;
export const DCT_OUTPUT_SIZE = 16;

/** Row i (frequency i + 1), column j: sqrt(2/64) cos(pi/128 (i + 1)(2j + 1)); row-major. */
export const DCT_MATRIX: Float32Array = (() => {
  const matrix = new Float32Array(DCT_OUTPUT_SIZE * DCT_INPUT_SIZE);
  const scale = Math.sqrt(2 / DCT_INPUT_SIZE);
  for (let i = 0; i < DCT_OUTPUT_SIZE; i++) {
    for (let j = 0; j < DCT_INPUT_SIZE; j++) {
      matrix[i * DCT_INPUT_SIZE + j] = scale * Math.cos((Math.PI / 2 / DCT_INPUT_SIZE) * (i + 1) * (2 * j + 1));
    }
  }
  return matrix;
})();

/** Halves of the input folded about its middle, reused between calls (all work is synchronous). */
const HALF = DCT_INPUT_SIZE / 2;
const foldedSums = new Float32Array(HALF * DCT_INPUT_SIZE);
const foldedDifferences = new Float32Array(HALF * DCT_INPUT_SIZE);

/**
 * input: 64x64 row-major; scratch: 16x64 (holds D A); output: 16x16 row-major, where
 * output[i * 16 + j] is vertical frequency i + 1, horizontal frequency j + 1.
 *
 * The basis is symmetric about the middle: D[i][63 - k] = (-1)^(i + 1) D[i][k]. So each dot
 * product runs over 32 folded terms (sums of mirrored entries for odd frequencies' partners,
 * differences for the others), half the multiplications of the plain product.
 */
export function dct64To16(input: Float32Array, scratch: Float32Array, output: Float32Array): Float32Array {
  const n = DCT_INPUT_SIZE;
  const m = DCT_OUTPUT_SIZE;
  // Fold input rows k and 63 - k.
  for (let k = 0; k < HALF; k++) {
    const top = k * n;
    const bottom = (n - 1 - k) * n;
    for (let j = 0; j < n; j++) {
      foldedSums[top + j] = input[top + j]! + input[bottom + j]!;
      foldedDifferences[top + j] = input[top + j]! - input[bottom + j]!;
    }
  }
  // scratch = D * input. Frequency i + 1 even (i odd) pairs with sums, odd with differences.
  for (let i = 0; i < m; i++) {
    const folded = i % 2 === 1 ? foldedSums : foldedDifferences;
    const row = i * n;
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < HALF; k++) sum += DCT_MATRIX[row + k]! * folded[k * n + j]!;
      scratch[row + j] = sum;
    }
  }
  // output = scratch * D^T, folding each scratch row the same way.
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let j = 0; j < m; j++) {
      const basis = j * n;
      const sign = j % 2 === 1 ? 1 : -1;
      let sum = 0;
      for (let k = 0; k < HALF; k++) sum += DCT_MATRIX[basis + k]! * (scratch[row + k]! + sign * scratch[row + n - 1 - k]!);
      output[i * m + j] = sum;
    }
  }
  return output;
}
