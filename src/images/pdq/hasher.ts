/**
 * PDQ (Meta's perceptual hash, see ThreatExchange's hashing.pdf), written from the published
 * algorithm: luma -> Jarosz blur -> 64x64 point sample -> 16x16 low-frequency DCT -> one bit
 * per coefficient, set when it exceeds the median of the 256. A quality score (0-100) counts
 * the significant gradients of the 64x64 downsample: flat or near-flat images score low and
 * their hashes should not be trusted for matching (the reference suggests discarding < 50).
 */
import type { HashBytes } from '../../matching/hash-bits.js';
import { dct64To16 } from './dct.js';
import { PDQ_BYTES, setPdqBit } from './hash-layout.js';
import { gridFromLuma, gridFromRgb } from './grid-weights.js';
import { lumaFromRgb } from './luminance.js';

/** Smaller images get the all-zero hash and quality 0, as in the reference. */
export const PDQ_MIN_DIMENSION = 5;
const GRID = 64;

export interface PdqResult {
  hash: HashBytes;
  /** 0 (flat) to 100 (plenty of structure). */
  quality: number;
  /** The 16x16 DCT block the hash was thresholded from (row-major); dihedral variants start here. */
  dct: Float32Array;
}

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Median as the reference's Torben selection returns it for 256 values: the 128th smallest. */
export function lowerMedian(values: Float32Array): number {
  const sorted = Float32Array.from(values).sort();
  return sorted[(sorted.length - 1) >> 1]!;
}

/** One bit per coefficient: 1 where it is strictly above the median. */
export function pdqBitsFromDct(dct: Float32Array): HashBytes {
  const median = lowerMedian(dct);
  const hash = new Uint8Array(PDQ_BYTES);
  for (let k = 0; k < 256; k++) if (dct[k]! > median) setPdqBit(hash, k);
  return hash;
}

/**
 * Sum of neighbour differences in the 64x64 downsample, each first scaled to 0..100 and
 * truncated (so many tiny gradients count for nothing), divided by 90 and capped at 100.
 */
export function pdqQuality(grid: Float32Array): number {
  let gradientSum = 0;
  for (let i = 0; i < GRID - 1; i++) {
    for (let j = 0; j < GRID; j++) {
      gradientSum += Math.abs(Math.trunc(((grid[i * GRID + j]! - grid[(i + 1) * GRID + j]!) * 100) / 255));
    }
  }
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID - 1; j++) {
      gradientSum += Math.abs(Math.trunc(((grid[i * GRID + j]! - grid[i * GRID + j + 1]!) * 100) / 255));
    }
  }
  return Math.min(100, Math.trunc(gradientSum / 90));
}

/**
 * Holds the float buffers between calls (they grow to the tallest image seen), so hashing
 * allocates only its results. Synchronous and single-threaded: share one per thread.
 * The blur-and-sample step runs as precomputed per-axis weights (grid-weights.ts), which equal
 * the reference's Jarosz passes followed by decimation (jarosz.ts) without filtering pixels
 * the grid never reads.
 */
export class PdqHasher {
  private rowScratch = new Float32Array(0);
  private readonly grid = new Float32Array(GRID * GRID);
  private readonly dctScratch = new Float32Array(16 * GRID);

  hashRgb(image: RgbImage): PdqResult {
    const { data, width, height } = image;
    if (width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION) return emptyResult();
    if (width === GRID && height === GRID) {
      // Already at grid size (e.g. video frames scaled by ffmpeg): no blur, as in the reference.
      lumaFromRgb(data, width, height, this.grid);
    } else {
      gridFromRgb(data, width, height, GRID, this.grid, this.scratchFor(height));
    }
    return this.finish();
  }

  /** Hashes luma given as floats (width x height, row-major; left untouched). */
  hashLuma(luma: Float32Array, width: number, height: number): PdqResult {
    if (width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION) return emptyResult();
    if (width === GRID && height === GRID) this.grid.set(luma.subarray(0, GRID * GRID));
    else gridFromLuma(luma, width, height, GRID, this.grid, this.scratchFor(height));
    return this.finish();
  }

  private finish(): PdqResult {
    const quality = pdqQuality(this.grid);
    const dct = dct64To16(this.grid, this.dctScratch, new Float32Array(256));
    return { hash: pdqBitsFromDct(dct), quality, dct };
  }

  private scratchFor(height: number): Float32Array {
    if (this.rowScratch.length < height * GRID) this.rowScratch = new Float32Array(height * GRID);
    return this.rowScratch;
  }
}

function emptyResult(): PdqResult {
  return { hash: new Uint8Array(PDQ_BYTES), quality: 0, dct: new Float32Array(256) };
}

const sharedHasher = new PdqHasher();

/** PDQ hash and quality of one RGB frame (from `decodeImage`). */
export function pdqHash(image: RgbImage): PdqResult {
  return sharedHasher.hashRgb(image);
}
