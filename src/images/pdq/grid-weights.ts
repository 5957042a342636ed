/**
 * PDQ's downsample as weights. The Jarosz filter is linear and separable (box passes along
 * rows and along columns commute), and the 64x64 grid then reads one filtered value per cell.
 * So each grid value is a weighted sum over a small neighbourhood of input pixels: the row of
 * (box operator)^passes at the sampled index, in each direction. Computing only those sums,
 * straight from the RGB bytes, does the work of the full-image filter passes in a fraction of
 * the time, with the same result up to float rounding (see grid-weights.test.ts, which checks
 * it against jaroszFilter + decimate).
 */
import { JAROSZ_PASSES, jaroszWindowSize, sampleIndex } from './jarosz.js';
import { LUMA_FROM_B, LUMA_FROM_G, LUMA_FROM_R } from './luminance.js';

export interface AxisWeights {
  /** For each grid cell: the first input index with a non-zero weight. */
  start: Int32Array;
  /** For each grid cell: the weights from `start` on. */
  weights: Float32Array[];
  /** 1 for each input index some cell reads. */
  covered: Uint8Array;
}

const cache = new Map<string, AxisWeights>();

/** Clipped box window [first, last] around index o, as jarosz.ts defines it. */
function windowBounds(o: number, length: number, window: number): [number, number] {
  const half = Math.floor((window + 2) / 2);
  return [Math.max(0, o - (window - half)), Math.min(length - 1, o + half - 1)];
}

/** Weights of the sampled rows of (box operator)^passes along an axis of `length` inputs. */
export function axisWeights(length: number, cells: number, passes = JAROSZ_PASSES): AxisWeights {
  const key = `${length}/${cells}/${passes}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const window = jaroszWindowSize(length, cells);
  const start = new Int32Array(cells);
  const weights: Float32Array[] = [];
  let current = new Float64Array(length);
  let next = new Float64Array(length);
  for (let cell = 0; cell < cells; cell++) {
    // Row `s` of B^p is e_s B B ... B: each pass spreads weight k over k's window, divided by
    // the window's (clipped) size, because B[k][m] = 1 / count(k) for m in window(k).
    current.fill(0);
    current[sampleIndex(cell, length, cells)] = 1;
    for (let pass = 0; pass < passes; pass++) {
      next.fill(0);
      for (let k = 0; k < length; k++) {
        const weight = current[k]!;
        if (weight === 0) continue;
        const [first, last] = windowBounds(k, length, window);
        const share = weight / (last - first + 1);
        for (let m = first; m <= last; m++) next[m]! += share;
      }
      [current, next] = [next, current];
    }
    let first = 0;
    while (current[first] === 0) first++;
    let last = length - 1;
    while (current[last] === 0) last--;
    start[cell] = first;
    weights.push(Float32Array.from(current.subarray(first, last + 1)));
  }
  const covered = new Uint8Array(length);
  weights.forEach((cellWeights, cell) => covered.fill(1, start[cell]!, start[cell]! + cellWeights.length));
  const result = { start, weights, covered };
  if (cache.size > 256) cache.clear();
  cache.set(key, result);
  return result;
}

/**
 * The 64x64 (cells x cells) PDQ grid of an RGB image, luma taken on the fly.
 * `rowScratch` holds at least height x cells floats.
 */
export function gridFromRgb(rgb: Uint8Array, width: number, height: number, cells: number, grid: Float32Array, rowScratch: Float32Array): void {
  const across = axisWeights(width, cells);
  const down = axisWeights(height, cells);
  const r = Math.fround(LUMA_FROM_R);
  const g = Math.fround(LUMA_FROM_G);
  const b = Math.fround(LUMA_FROM_B);
  const needed = down.covered;
  // Horizontal pass: every input row the vertical weights touch, reduced to `cells` values.
  // Weighted channel sums first, luma once per cell: fewer multiplications than luma per tap.
  for (let y = 0; y < height; y++) {
    if (needed[y] === 0) continue;
    const rowBase = y * width * 3;
    for (let j = 0; j < cells; j++) {
      const weights = across.weights[j]!;
      let offset = rowBase + across.start[j]! * 3;
      let red = 0;
      let green = 0;
      let blue = 0;
      for (let k = 0; k < weights.length; k++, offset += 3) {
        const weight = weights[k]!;
        red += weight * rgb[offset]!;
        green += weight * rgb[offset + 1]!;
        blue += weight * rgb[offset + 2]!;
      }
      rowScratch[y * cells + j] = r * red + g * green + b * blue;
    }
  }
  verticalPass(down, cells, grid, rowScratch);
}

/** The same for luma already in floats (width x height, row-major). */
export function gridFromLuma(luma: Float32Array, width: number, height: number, cells: number, grid: Float32Array, rowScratch: Float32Array): void {
  const across = axisWeights(width, cells);
  const down = axisWeights(height, cells);
  const needed = down.covered;
  for (let y = 0; y < height; y++) {
    if (needed[y] === 0) continue;
    for (let j = 0; j < cells; j++) {
      const weights = across.weights[j]!;
      const base = y * width + across.start[j]!;
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k]! * luma[base + k]!;
      rowScratch[y * cells + j] = sum;
    }
  }
  verticalPass(down, cells, grid, rowScratch);
}

function verticalPass(down: AxisWeights, cells: number, grid: Float32Array, rowScratch: Float32Array): void {
  for (let i = 0; i < cells; i++) {
    const weights = down.weights[i]!;
    const first = down.start[i]!;
    for (let j = 0; j < cells; j++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k]! * rowScratch[(first + k) * cells + j]!;
      grid[i * cells + j] = sum;
    }
  }
}
