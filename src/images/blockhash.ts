/**
 * Blockhash (the blockhash.io algorithm) with the `blockhash-core` package's precise method
 * (`bmvbhash`): the image is cut into bits x bits blocks, each block's brightness (sum of
 * R+G+B, with fractional pixel weights where block edges fall inside pixels) is compared with
 * the median of its horizontal quarter band, and brighter blocks give 1 bits. bits = 16 gives
 * the usual 256-bit hash, read row by row, most significant bit first, as its hex form prints.
 *
 * Cost: the package's precise method computes fractional block weights per pixel in plain JS
 * (about 16 ns a pixel). `blockSums` integrates the same fractional block areas in two
 * separable passes over the frame instead, and the package then thresholds those sums through
 * its even-sized path, on an image of BLOCK_SIDE x BLOCK_SIDE pixels per block: the same block
 * values as the precise method, at a fifth of its cost, and (see packageBlockValue) the same
 * hashes.
 *
 * Turns and mirrors (`blockhashWithVariants`, blockhash-dihedral.ts): the eight dihedral variants
 * from the one pass over the pixels, the block sums thresholded once more transposed.
 */
import { bmvbhash } from 'blockhash-core';
import { type HashBytes, hexToHash } from '../matching/hash-bits.js';
import { transparentAsWhite } from './alpha.js';
import { blockhashVariants, dihedralPixels } from './blockhash-dihedral.js';
import { DIHEDRAL_VARIANTS } from './pdq/dihedral.js';

export const DEFAULT_BLOCKHASH_BITS = 16;

/** Pixels a side of each block in the image the package thresholds. */
const BLOCK_SIDE = 8;
/** The R+G+B mean the package's "bright median" test compares with: half of 3 x 256. */
const HALF_BLOCK_MEAN = 384;

/**
 * The value a block's first pixel carries into the package's even-sized path so that it
 * thresholds as the precise method would the frame itself. The package compares block sums with
 * their band's median, and a block within 1 of the median (a tie) takes 1 when the median is
 * above half the block's range, pixelsPerBlock x 384; `area` is the frame's pixels a block. Here
 * a block has BLOCK_SIDE^2 pixels, so shifting every sum by (BLOCK_SIDE^2 - area) x 384 keeps
 * every difference between sums (every order, median and tie) and puts the half-range point
 * where the package looks for it.
 *
 * The shift is applied to the sum itself, never to a mean scaled back up: a frame that divides
 * into whole-pixel blocks (the package's own even path) has integer sums and an integer area, so
 * the shifted values are exact integers and a block exactly one grey level (sum difference 1)
 * from its median is not a tie, as in the package. mean x area leaves ~1e-11 of rounding there,
 * which turned such blocks into ties (a 288x80 frame of 250 with one R value of 249 hashed
 * ffff... instead of the package's 7fff...).
 */
function packageBlockValue(sum: number, area: number): number {
  return sum + (BLOCK_SIDE * BLOCK_SIDE - area) * HALF_BLOCK_MEAN;
}

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Returns the bits x bits-bit hash of an RGB frame (3 bytes a pixel) from `decodeImage`. With an
 * alpha plane, fully transparent pixels count as white and the others as their RGB, as the
 * package counts the pixels of an RGBA image (alpha.ts).
 */
export function blockhash(frame: RgbImage & { alpha?: Uint8Array | undefined }, bits = DEFAULT_BLOCKHASH_BITS): HashBytes {
  const { sums, area } = blockValues(frame, bits);
  return thresholdSums(sums, area, bits);
}

/**
 * The hash of the frame (as `blockhash`) and its eight dihedral variants, in DIHEDRAL_VARIANTS
 * order (the hash first): the hashes of the picture turned and mirrored (blockhash-dihedral.ts).
 * The block values are summed once; the transposed picture's are the same values transposed, so
 * the variants cost one more threshold (no second pass over the pixels) and bit moves. A picture
 * narrower or lower than the grid is stretched by nearest neighbour first, which does not commute
 * with mirrors: its variants are hashed from its pixels moved (a few pixels on one side, cheap).
 */
export function blockhashWithVariants(frame: RgbImage & { alpha?: Uint8Array | undefined }, bits = DEFAULT_BLOCKHASH_BITS): { hash: HashBytes; variants: HashBytes[] } {
  const image = transparentAsWhite(frame);
  const { sums, area } = blockValues(image, bits);
  const hash = thresholdSums(sums, area, bits);
  if (image.width < bits || image.height < bits) {
    return { hash, variants: DIHEDRAL_VARIANTS.map((variant) => (variant === 'original' ? hash : blockhash(dihedralPixels(image, variant), bits))) };
  }
  const transposedSums = new Float64Array(bits * bits);
  for (let row = 0; row < bits; row++) for (let column = 0; column < bits; column++) transposedSums[column * bits + row] = sums[row * bits + column]!;
  return { hash, variants: blockhashVariants(hash, thresholdSums(transposedSums, area, bits)) };
}

/** The frame's block sums (blockSums) and its pixels a block, after the checks and the tiny-image stretch. */
function blockValues(frame: RgbImage & { alpha?: Uint8Array | undefined }, bits: number): { sums: Float64Array; area: number } {
  // bits x bits must be whole bytes (the package needs an even count; a hash is bytes).
  if (!Number.isInteger(bits) || bits < 4 || bits % 4 !== 0) throw new RangeError(`blockhash bits must be a multiple of 4, got ${bits}`);
  let image = transparentAsWhite(frame);
  if (image.width < bits || image.height < bits) {
    // Blocks smaller than a pixel make the package divide by zero-sized blocks; stretch the few
    // pixels there are by nearest neighbour instead, so tiny images still hash.
    image = nearestNeighbourUpscale(image, Math.max(bits, image.width), Math.max(bits, image.height));
  }
  return { sums: blockSums(image, bits), area: (image.width / bits) * (image.height / bits) };
}

/** The package's thresholding of bits x bits block sums (row-major) of blocks of `area` pixels. */
function thresholdSums(sums: Float64Array, area: number, bits: number): HashBytes {
  const side = bits * BLOCK_SIDE;
  const pixels = thresholdImage(bits);
  // Each block's first pixel carries the block's value in R (the package adds R, G and B); the
  // block's other pixels stay black, so the block sums to that value.
  for (let row = 0; row < bits; row++) {
    for (let column = 0; column < bits; column++) {
      pixels[(row * BLOCK_SIDE * side + column * BLOCK_SIDE) * 4] = packageBlockValue(sums[row * bits + column]!, area);
    }
  }
  const hex = bmvbhash({ data: pixels as unknown as number[], width: side, height: side }, bits);
  return hexToHash(hex, bits * bits);
}

/**
 * The hashes of blank images for `bits`-bit blockhashes (a square grid, side a multiple of 8):
 * every hash whose horizontal quarter bands each take one of four blank patterns, all 0s, all 1s,
 * upper half of its rows 1 and lower half 0, or upper half 0 and lower half 1 (4^4 = 256 hashes),
 * then every hash whose vertical quarter stripes each take one of the same four patterns across
 * its columns (left half and right half), less all 0s and all 1s, which are both kinds: 510
 * hashes. A flat picture, or one flat in horizontal bands, hashes to the first kind (each band all
 * ties with its median: all 0s or all 1s); a smooth top-to-bottom gradient does too (each band
 * split at its median: its darker half rows 0, its brighter half 1), and a caption on a gradient
 * is near it, as a caption on black is near all 0s. The vertical kind are their quarter turns: a
 * picture flat in vertical bands (a two-tone flag split left and right) or a left-to-right
 * gradient hashes to them as stored, and a picture flat in horizontal bands (a two-tone flag, a
 * horizon) or a top-to-bottom gradient does once turned a quarter, which is how a blockhash set
 * compares it (its transposed variants, blockhash-dihedral.ts). The set is closed under the eight
 * bit moves of the variants: a mirror of rows keeps each band's pattern, a mirror of columns
 * moves band i to 3 - i and swaps its upper and lower halves (upper 1 becomes lower 1: still a
 * pattern), and a transpose swaps the kinds; so a hash's distance from it is the same for all of a
 * hash's bit moves. blockhashBitsFromBlank measures it without listing them.
 */
export function blankBlockhashes(bits = DEFAULT_BLOCKHASH_BITS * DEFAULT_BLOCKHASH_BITS): HashBytes[] {
  const side = blankGridSide(bits);
  const quarter = side / 4;
  const blanks: HashBytes[] = [];
  for (const vertical of [false, true]) {
    // parts: a base-4 digit per band (stripe), BLANK_PATTERNS order.
    for (let parts = 0; parts < 256; parts++) {
      // All 0s and all 1s are both kinds: listed once, among the horizontal ones.
      if (vertical && (parts === 0 || parts === 0b01010101)) continue;
      const hash = new Uint8Array(bits / 8);
      for (let row = 0; row < side; row++) {
        for (let column = 0; column < side; column++) {
          // Across the band (its rows) or the stripe (its columns): which part, and which half of it.
          const across = vertical ? column : row;
          const part = Math.floor(across / quarter);
          const secondHalf = across % quarter >= quarter / 2;
          const bit = row * side + column;
          if (BLANK_PATTERNS[(parts >> (2 * part)) & 3]![secondHalf ? 1 : 0]) hash[bit >> 3]! |= 0x80 >> (bit & 7);
        }
      }
      blanks.push(hash);
    }
  }
  return blanks;
}

/**
 * The four blank patterns of a quarter band (stripe): the bit of its first half (upper rows, left
 * columns) and of its second half: all 0s, all 1s, first half 1 (a gradient darkening down or to
 * the right), second half 1 (brightening).
 */
const BLANK_PATTERNS: ReadonlyArray<readonly [0 | 1, 0 | 1]> = [
  [0, 0],
  [1, 1],
  [1, 0],
  [0, 1],
];

/**
 * How many bits the hash differs by from the nearest hash of a blank image (blankBlockhashes):
 * how much of it the picture decided. Each of the package's four horizontal bands is split at its
 * median, so at most half a band's blocks are strictly brighter (1) or strictly darker (0) than
 * it; the other blocks tie with the median and take one value for the whole band, 0 when the
 * median is dark, 1 when bright. A flat band is all ties, all 0s or all 1s, so a blank image
 * hashes to such bands (a solid dark one to all zeros), and the minority bits of each band are
 * what the picture decided: a photo gives about half the bits (128 of 256), a blank frame 0, a
 * caption on a dark background its few bright blocks. A band of a smooth gradient is split at its
 * median too, but by the gradient: its upper half rows on one side of the median, its lower half
 * on the other (a top-to-bottom gradient hashes to 00000000ffffffff repeated, 128 bits from all
 * 0s or all 1s in every band), so a band's bits are measured from the nearest of four patterns:
 * all 0s, all 1s, upper half 1 and lower half 0, upper half 0 and lower half 1 (a caption on a
 * gradient decides its few blocks against the gradient, as on black). A picture flat, or smooth,
 * in vertical bands (a two-tone flag split left and right, a left-to-right gradient) has every
 * band split at the same columns: its hash takes the same patterns in vertical quarter stripes
 * (left and right half columns), the quarter turn of a blank hash, and a picture flat or smooth
 * in horizontal bands (a two-tone flag, a horizon, a top-to-bottom gradient) hashes so once turned
 * a quarter (the variants a blockhash set compares, blockhash-dihedral.ts): those are blank hashes
 * too. So this is the smaller of two sums: over the horizontal quarter bands of each band's bits
 * from its nearest pattern, and the same over the vertical quarter stripes. It is the same for
 * every bit move of a hash (the blank hashes are closed under them): for a picture's mirror, flip
 * and half turn, and for its quarter turns and diagonal flips among themselves (those move the
 * bits of the transposed picture's hash, which is thresholded on other bands and has its own
 * value: a horizontally two-tone flag is 32 bits from blank as stored, 0 turned). Two mostly flat
 * images can be up to the sum of their distances from blank apart while sharing nothing but the
 * background (see passesBlankRule).
 */
export function blockhashBitsFromBlank(hash: HashBytes): number {
  const bits = hash.length * 8;
  const side = blankGridSide(bits);
  const { rowHalf, stripeOnesOf, firstHalf, lastHalf } = halfTables(side);
  const rowBytes = side / 8;
  // Ones in the first and second half of each band (rows) and of each stripe (columns), read a
  // byte at a time: a replica computes this for every blockhash entry it loads.
  const bandOnes = BAND_ONES.fill(0);
  const stripeOnes = STRIPE_ONES.fill(0);
  for (let byte = 0; byte < hash.length; byte++) {
    const value = hash[byte]!;
    if (value === 0) continue;
    bandOnes[rowHalf[Math.floor(byte / rowBytes)]!]! += POPCOUNT[value]!;
    const inRow = byte % rowBytes;
    const counts = stripeOnesOf[inRow]!;
    // Only the stripe halves this byte's columns fall in (4 of them on the 16-bit rows of 16x16).
    for (let part = firstHalf[inRow]!, last = lastHalf[inRow]!; part <= last; part++) stripeOnes[part]! += counts[value * 8 + part]!;
  }
  const half = bits / 8;
  const decided = (ones: Int32Array) => {
    let sum = 0;
    for (let part = 0; part < 4; part++) {
      const first = ones[2 * part]!;
      const second = ones[2 * part + 1]!;
      // Bits off all 0s, all 1s, first half 1 (second 0), second half 1 (first 0).
      sum += Math.min(first + second, 2 * half - first - second, half - first + second, first + half - second);
    }
    return sum;
  };
  return Math.min(decided(bandOnes), decided(stripeOnes));
}

/** Counters reused by every call (no allocation a call: it runs once per entry a replica loads). */
const BAND_ONES = new Int32Array(8);
const STRIPE_ONES = new Int32Array(8);

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, value) => {
  let ones = 0;
  for (let v = value; v; v >>= 1) ones += v & 1;
  return ones;
});

/**
 * Per grid side: the band half (0-7) of each row, and per byte position in a row, for each byte
 * value, its ones in each of the 8 stripe halves (the halves of the four quarter stripes).
 */
interface HalfTables {
  rowHalf: Uint8Array;
  stripeOnesOf: Uint8Array[];
  /** Per byte position in a row, the first and last stripe half its columns fall in. */
  firstHalf: Uint8Array;
  lastHalf: Uint8Array;
}
const halfTablesBySide = new Map<number, HalfTables>();
function halfTables(side: number): HalfTables {
  let tables = halfTablesBySide.get(side);
  if (tables === undefined) {
    const eighth = side / 8;
    const rowHalf = Uint8Array.from({ length: side }, (_, row) => Math.floor(row / eighth));
    const stripeOnesOf = Array.from({ length: side / 8 }, (_, byteInRow) => {
      const counts = new Uint8Array(256 * 8);
      for (let value = 0; value < 256; value++) {
        for (let bit = 0; bit < 8; bit++) {
          if ((value >> (7 - bit)) & 1) counts[value * 8 + Math.floor((byteInRow * 8 + bit) / eighth)]!++;
        }
      }
      return counts;
    });
    const firstHalf = Uint8Array.from({ length: side / 8 }, (_, byteInRow) => Math.floor((byteInRow * 8) / eighth));
    const lastHalf = Uint8Array.from({ length: side / 8 }, (_, byteInRow) => Math.floor((byteInRow * 8 + 7) / eighth));
    tables = { rowHalf, stripeOnesOf, firstHalf, lastHalf };
    halfTablesBySide.set(side, tables);
  }
  return tables;
}

/**
 * The side of a square blockhash grid of `bits` bits, a multiple of 8 (quarter bands and stripes,
 * each cut in two halves).
 */
function blankGridSide(bits: number): number {
  const side = Math.round(Math.sqrt(bits));
  if (side * side !== bits || side % 8 !== 0) throw new RangeError(`not a square blockhash grid with a side a multiple of 8: ${bits} bits`);
  return side;
}

const thresholdImages = new Map<number, Float64Array>();

/**
 * The RGBA image handed to the package for `bits`, opaque black, kept between calls (only each
 * block's first R value changes): hashing is synchronous, one call at a time per thread.
 */
function thresholdImage(bits: number): Float64Array {
  let pixels = thresholdImages.get(bits);
  if (!pixels) {
    const side = bits * BLOCK_SIDE;
    pixels = new Float64Array(side * side * 4);
    for (let alpha = 3; alpha < pixels.length; alpha += 4) pixels[alpha] = 255;
    thresholdImages.set(bits, pixels);
  }
  return pixels;
}

/**
 * Summed R+G+B of each of the bits x bits blocks, row-major, with pixels straddling a block edge
 * shared by area, as the precise method shares them: row sums per block column, folded into
 * block rows. Exact integers when the blocks are whole pixels (see packageBlockValue).
 */
export function blockSums(image: RgbImage, bits: number): Float64Array {
  const { width, height } = image;
  const bytes = image.data.byteOffset % 4 === 0 ? image.data : Uint8Array.from(image.data);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  const across = blockSpans(width, bits);
  const down = blockSpans(height, bits);
  const blocks = new Float64Array(bits * bits);
  const rowSums = new Float64Array(bits);
  // R+G+B of row y in each block column: runs of whole pixels are sums of bytes, a cut pixel split.
  const sumRow = (y: number) => {
    const rowStart = y * width * 3;
    for (let b = 0; b < bits; b++) rowSums[b] = sumBytes(bytes, words, rowStart + across.start[b]! * 3, rowStart + across.end[b]! * 3);
    for (let b = 0; b < bits - 1; b++) {
      const share = across.cutShare[b]!;
      if (share === 0) continue;
      const o = rowStart + across.end[b]! * 3;
      const value = bytes[o]! + bytes[o + 1]! + bytes[o + 2]!;
      rowSums[b]! += value * share;
      rowSums[b + 1]! += value * (1 - share);
    }
  };
  const addRowSums = (blockRow: number, share: number) => {
    for (let b = 0, base = blockRow * bits; b < bits; b++) blocks[base + b]! += rowSums[b]! * share;
  };
  // The same spans down the rows: whole rows of each block row, then the row its lower edge cuts.
  for (let blockRow = 0; blockRow < bits; blockRow++) {
    for (let y = down.start[blockRow]!; y < down.end[blockRow]!; y++) {
      sumRow(y);
      addRowSums(blockRow, 1);
    }
    const cut = down.cutShare[blockRow]!;
    if (cut > 0) {
      sumRow(down.end[blockRow]!);
      addRowSums(blockRow, cut);
      addRowSums(blockRow + 1, 1 - cut);
    }
  }
  return blocks;
}

/**
 * Sum of bytes[from..to), four bytes a step where it can: each 32-bit word adds its bytes in
 * two 16-bit lanes (bytes 0+1 and 2+3), folded every 128 words before a lane can overflow.
 * `words` views the same memory, which starts 4-byte aligned.
 */
function sumBytes(bytes: Uint8Array, words: Uint32Array, from: number, to: number): number {
  let sum = 0;
  let i = from;
  for (; i < to && (i & 3) !== 0; i++) sum += bytes[i]!;
  const lastWord = (to >> 2) - 1;
  for (let w = i >> 2; w <= lastWord; ) {
    let lanes = 0;
    for (const end = Math.min(lastWord, w + 127); w <= end; w++) {
      const word = words[w]!;
      lanes += (word & 0x00ff00ff) + ((word >>> 8) & 0x00ff00ff);
    }
    sum += (lanes & 0xffff) + (lanes >>> 16);
  }
  for (i = Math.max(i, (lastWord + 1) << 2); i < to; i++) sum += bytes[i]!;
  return sum;
}

/**
 * Along an axis of `length` pixels cut into `bits` equal blocks (at least a pixel each): the
 * whole pixels of block b are [start[b], end[b]); when the edge after block b cuts pixel end[b],
 * cutShare[b] is the part of that pixel inside block b (the rest lies in block b + 1), else 0.
 */
function blockSpans(length: number, bits: number): { start: Int32Array; end: Int32Array; cutShare: Float64Array } {
  const start = new Int32Array(bits);
  const end = new Int32Array(bits);
  const cutShare = new Float64Array(bits);
  const blockSize = length / bits;
  for (let b = 0; b < bits; b++) {
    const edge = b === bits - 1 ? length : (b + 1) * blockSize;
    end[b] = Math.floor(edge);
    cutShare[b] = edge - Math.floor(edge);
    start[b] = b === 0 ? 0 : end[b - 1]! + (cutShare[b - 1]! > 0 ? 1 : 0);
  }
  return { start, end, cutShare };
}

function nearestNeighbourUpscale(image: RgbImage, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor((y * image.height) / height);
    for (let x = 0; x < width; x++) {
      const sx = Math.floor((x * image.width) / width);
      data.set(image.data.subarray((sy * image.width + sx) * 3, (sy * image.width + sx) * 3 + 3), (y * width + x) * 3);
    }
  }
  return { data, width, height };
}
