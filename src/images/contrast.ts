/**
 * A picture's contrast stretched to the full range, for the `stretched` view (index.ts hashFrame,
 * IMAGE_VIEWS): of the whole frame, and of each trimmed view's crop (a faded copy in a frame: the
 * frame's colour would hold the whole frame's range open, and its edge is in the whole frame's hash). PDQ's quality is the absolute sum of the luminance gradients (pdq/hasher.ts
 * pdqQuality), not normalised by contrast: a known picture faded (contrast 0.3), dimmed (x0.35) or
 * washed out under a 60% white layer keeps its PDQ hash within a few bits, but its quality drops
 * to 28-48, under the floor (50), and it was matched against no PDQ set. A linear map of the
 * colours leaves PDQ's bits nearly where they were (the DCT coefficients scale with the luminance,
 * the median with them) and gives the gradients back: stretched, those copies hash at quality 100.
 *
 * Pure: raw pixels in, raw pixels out, no I/O.
 */
import type { FrameWithAlpha } from './alpha.js';

/**
 * The PDQ quality below which a frame is also hashed stretched: PDQ quality saturates at 100 on a
 * picture of ordinary contrast (every fixture, and their JPEG q20, half-size and grey copies),
 * below it contrast may be what limits it.
 */
export const STRETCH_BELOW_QUALITY = 100;

/**
 * The fraction of pixels left out at each end when reading the range: the 1st and 99th
 * percentiles, so a few specks of black or white (a watermark, a highlight, JPEG ringing) do not
 * hold the range open.
 */
export const STRETCH_PERCENTILE = 0.01;

/**
 * The least range (99th minus 1st percentile, in levels of 255) worth stretching. Narrower, the
 * stretch multiplies every step by more than 16: one level of 8-bit rounding or of JPEG
 * quantisation becomes a gradient of 16 or more, and a flat or near-flat picture stretched is its
 * noise, a hash of nothing (flat grey with Gaussian noise of sigma 3, through JPEG q80, spans 5
 * levels and hashes at quality 0; stretched, at quality 100). The faded copies this view is for
 * keep far more: clouds.jpg at contrast 0.3 spans 66 levels, dimmed to 0.35 77, and even at
 * contrast 0.15 (barely visible) 34.
 */
export const MIN_STRETCH_RANGE = 16;

/**
 * A range of at least this many levels (7/8 of the scale) is full already: stretched, its
 * gradients, so its PDQ quality, would grow by under 14%, and it is not a faded picture. A picture
 * of ordinary contrast whose flat areas hold its quality under 100 (a sticker on white, text on a
 * page, a screenshot: shapes.jpg's centre on transparent white spans 238 levels at quality 92)
 * would otherwise get a near-copy of its stored pixels as a view, hashed and matched for nothing.
 */
export const FULL_STRETCH_RANGE = 224;

/** The range stretched to 0..255, in levels 0-255. */
export interface StretchRange {
  low: number;
  high: number;
}

/**
 * The range to stretch: the 1st percentile (STRETCH_PERCENTILE) of each pixel's darkest channel
 * and the 99th of its brightest, so that at most about 1% of the pixels have a channel clamped at
 * either end. Read on the luminance instead, the range of a colourful picture is narrower than its
 * channels' (a saturated red is dark in luminance, bright in R), the map clamps its colours, and
 * the luminance PDQ and blockhash read moves: clouds, mosaic, rings and shapes at contrast 0.3,
 * stretched on their luminance percentiles, were 6-20 bits of PDQ and 2-31 of blockhash from
 * their originals, on these 2-4 and 0-9. `data` is RGB, 3 bytes a pixel.
 */
export function stretchRange(data: Uint8Array, pixels: number, fraction = STRETCH_PERCENTILE): StretchRange {
  if (pixels <= 0) throw new RangeError('no pixels');
  if (data.length < pixels * 3) throw new RangeError(`RGB buffer holds ${data.length} bytes, need ${pixels * 3}`);
  const darkest = new Uint32Array(256);
  const brightest = new Uint32Array(256);
  for (let o = 0, end = pixels * 3; o < end; o += 3) {
    const r = data[o]!;
    const g = data[o + 1]!;
    const b = data[o + 2]!;
    // Comparisons, not Math.min/max of three (several times slower here).
    const low = r < g ? (r < b ? r : b) : g < b ? g : b;
    const high = r > g ? (r > b ? r : b) : g > b ? g : b;
    darkest[low]!++;
    brightest[high]!++;
  }
  // The values at these ranks of the sorted levels (0-based), the same count left out at each end.
  const lowRank = Math.floor(pixels * fraction);
  return { low: levelAtRank(darkest, lowRank), high: levelAtRank(brightest, pixels - 1 - lowRank) };
}

function levelAtRank(histogram: Uint32Array, rank: number): number {
  let seen = 0;
  for (let level = 0; level < 256; level++) {
    seen += histogram[level]!;
    if (seen > rank) return level;
  }
  return 255;
}

/**
 * The 256-entry map of a channel value under the stretch of `range` to 0..255: (v - low) * 255 /
 * (high - low), rounded and clamped. The same map on R, G and B maps the luminance (PDQ's) and the
 * channel sum (blockhash's) the same way, up to the clamping, and keeps hue.
 */
export function stretchMap(range: StretchRange): Uint8Array {
  const { low, high } = range;
  if (!(high > low)) throw new RangeError(`empty range ${low}..${high}`);
  const map = new Uint8Array(256);
  for (let v = 0; v < 256; v++) map[v] = Math.min(255, Math.max(0, Math.round(((v - low) * 255) / (high - low))));
  return map;
}

/**
 * The picture with its contrast stretched from its 1st-99th percentile range (stretchRange) to
 * 0..255, the same linear map on R, G and B (and on the alpha-weighted colours of a shrunk frame
 * with alpha), alpha kept as it is. Undefined when there is next to nothing to stretch (the range
 * is FULL_STRETCH_RANGE or more) or too little range to carry a picture (under MIN_STRETCH_RANGE:
 * a flat picture stretched is only noise).
 */
export function stretchContrast(frame: FrameWithAlpha): FrameWithAlpha | undefined {
  const { width, height } = frame;
  const pixels = width * height;
  if (pixels === 0) return undefined;
  const range = stretchRange(frame.data, pixels);
  if (range.high - range.low < MIN_STRETCH_RANGE) return undefined;
  if (range.high - range.low >= FULL_STRETCH_RANGE) return undefined;
  const map = stretchMap(range);
  const apply = (rgb: Uint8Array): Uint8Array => {
    const out = new Uint8Array(pixels * 3);
    for (let i = 0; i < out.length; i++) out[i] = map[rgb[i]!]!;
    return out;
  };
  const data = apply(frame.data);
  const stretched: FrameWithAlpha = { data, width, height };
  if (frame.alpha) stretched.alpha = frame.alpha;
  if (frame.alphaWeighted) stretched.alphaWeighted = frame.alphaWeighted === frame.data ? data : apply(frame.alphaWeighted);
  return stretched;
}
