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

/**
 * input: 64x64 row-major; scratch: 16x64 (holds D A); output: 16x16 row-major, where
 * output[i * 16 + j] is vertical frequency i + 1, horizontal frequency j + 1.
 */
export function dct64To16(input: Float32Array, scratch: Float32Array, output: Float32Array): Float32Array {
  const n = DCT_INPUT_SIZE;
  const m = DCT_OUTPUT_SIZE;
  // scratch = D * input, one dot product per entry (a local sum, a single store).
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += DCT_MATRIX[row + k]! * input[k * n + j]!;
      scratch[row + j] = sum;
    }
  }
  // output = scratch * D^T: dot products of scratch rows with D rows.
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += scratch[i * n + k]! * DCT_MATRIX[j * n + k]!;
      output[i * m + j] = sum;
    }
  }
  return output;
}
