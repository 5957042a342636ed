/**
 * PDQ's downsampling: Jarosz filters (repeated box blurs, which approach a tent/Gaussian) and
 * then point-sampling at the centres of a 64x64 grid. Pure functions over row-major floats.
 */

/** Two x-then-y box passes, as the reference does: together they act as a tent filter. */
export const JAROSZ_PASSES = 2;

/**
 * Box window length for shrinking `oldDimension` to `newDimension`: ceil(old / (2 new)).
 * Two passes of half a target cell each cover one full target cell.
 */
export function jaroszWindowSize(oldDimension: number, newDimension: number): number {
  return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
}

/**
 * The window for output index o is [o - before, o + after], clipped to the vector, and the
 * output is the mean of what is inside. For even windows the extra sample lies ahead
 * (before = window - half, after = half - 1 with half = floor((window + 2) / 2)), which is
 * exactly where the reference's running-sum phases put it.
 */
function windowReach(window: number): { before: number; after: number } {
  const half = Math.floor((window + 2) / 2);
  return { before: window - half, after: half - 1 };
}

/** Box filter along each row (contiguous), input -> output. */
export function boxAlongRows(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const { before, after } = windowReach(window);
  const inverseFull = 1 / window;
  // Outputs whose window lies wholly inside the row: the common case, kept free of clipping.
  const middleStart = before;
  const middleEnd = cols - 1 - after;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sum = 0;
    for (let i = 0; i <= after && i < cols; i++) sum += input[base + i]!;
    let o = 0;
    for (; o < cols && o < middleStart; o++) {
      output[base + o] = sum / (Math.min(cols - 1, o + after) + 1);
      if (o + after + 1 < cols) sum += input[base + o + after + 1]!;
    }
    for (; o < middleEnd; o++) {
      output[base + o] = sum * inverseFull;
      sum += input[base + o + after + 1]! - input[base + o - before]!;
    }
    for (; o < cols; o++) {
      output[base + o] = sum / (Math.min(cols - 1, o + after) - Math.max(0, o - before) + 1);
      if (o + after + 1 < cols) sum += input[base + o + after + 1]!;
      if (o - before >= 0) sum -= input[base + o - before]!;
    }
  }
}

/**
 * Box filter along each column, input -> output. Runs down the rows keeping one running sum
 * per column, so memory is read row by row (cache-friendly) rather than with a column stride.
 */
export function boxAlongCols(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number, sums: Float64Array): void {
  const { before, after } = windowReach(window);
  sums.fill(0, 0, cols);
  for (let i = 0; i <= after && i < rows; i++) {
    const base = i * cols;
    for (let c = 0; c < cols; c++) sums[c]! += input[base + c]!;
  }
  for (let o = 0; o < rows; o++) {
    const count = Math.min(rows - 1, o + after) - Math.max(0, o - before) + 1;
    const inverse = 1 / count;
    const base = o * cols;
    const addBase = (o + after + 1) * cols;
    const removeBase = (o - before) * cols;
    const adds = o + after + 1 < rows;
    const removes = o - before >= 0;
    if (adds && removes) {
      // Write this row and slide the window in one sweep.
      for (let c = 0; c < cols; c++) {
        output[base + c] = sums[c]! * inverse;
        sums[c]! += input[addBase + c]! - input[removeBase + c]!;
      }
      continue;
    }
    for (let c = 0; c < cols; c++) output[base + c] = sums[c]! * inverse;
    if (adds) for (let c = 0; c < cols; c++) sums[c]! += input[addBase + c]!;
    if (removes) for (let c = 0; c < cols; c++) sums[c]! -= input[removeBase + c]!;
  }
}

/**
 * `passes` rounds of (rows, then columns) box filtering. Filters `buffer` in place, using
 * `scratch` (same size) between the halves of each round; `sums` holds at least `cols` values.
 */
export function jaroszFilter(
  buffer: Float32Array,
  scratch: Float32Array,
  sums: Float64Array,
  rows: number,
  cols: number,
  windowAlongRows: number,
  windowAlongCols: number,
  passes = JAROSZ_PASSES,
): void {
  for (let pass = 0; pass < passes; pass++) {
    boxAlongRows(buffer, scratch, rows, cols, windowAlongRows);
    boxAlongCols(scratch, buffer, rows, cols, windowAlongCols, sums);
  }
}

/** Samples the centre of each cell of an outRows x outCols grid laid over the input. */
export function decimate(input: Float32Array, rows: number, cols: number, output: Float32Array, outRows: number, outCols: number): void {
  for (let i = 0; i < outRows; i++) {
    const inRow = sampleIndex(i, rows, outRows) * cols;
    for (let j = 0; j < outCols; j++) {
      output[i * outCols + j] = input[inRow + sampleIndex(j, cols, outCols)]!;
    }
  }
}

/** The input row (or column) a grid cell samples: the one under the cell's centre. */
export function sampleIndex(cell: number, inputLength: number, cells: number): number {
  return Math.floor(((cell + 0.5) * inputLength) / cells);
}
