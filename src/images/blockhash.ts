/**
 * Blockhash (the blockhash.io algorithm), through the `blockhash-core` package's precise method
 * (`bmvbhash`): the image is cut into bits x bits blocks, each block's brightness (sum of
 * R+G+B, with fractional pixel weights where block edges fall inside pixels) is compared with
 * the median of its horizontal quarter band, and brighter blocks give 1 bits. bits = 16 gives
 * the usual 256-bit hash, read row by row, most significant bit first, as its hex form prints.
 *
 * Cost: the package's precise method walks every pixel with fractional block weights in plain
 * JS, a few milliseconds on a 512-pixel working copy; the copy is therefore halved first (see
 * MIN_HALVED_PIXELS_PER_BLOCK), which keeps block means and cuts that work fourfold.
 */
import { bmvbhash } from 'blockhash-core';
import { type HashBytes, hexToHash } from '../matching/hash-bits.js';

export const DEFAULT_BLOCKHASH_BITS = 16;

/** RGBA pixels are written as one 32-bit word each, in the platform's byte order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Blocks are means, so halving the working copy first (2x2 pixel averages) changes block sums
 * by rounding only, while the package's per-pixel work (plain JS) drops fourfold. Done when
 * each block still spans at least this many halved pixels a side.
 */
const MIN_HALVED_PIXELS_PER_BLOCK = 8;

/** Returns the bits x bits-bit hash of an RGB frame (3 bytes a pixel) from `decodeImage`. */
export function blockhash(image: RgbImage, bits = DEFAULT_BLOCKHASH_BITS): HashBytes {
  if (!Number.isInteger(bits) || bits < 2 || bits % 2 !== 0) throw new RangeError(`blockhash bits must be an even integer >= 2, got ${bits}`);
  if (image.width < bits || image.height < bits) {
    // Blocks smaller than a pixel make the package divide by zero-sized blocks; stretch the few
    // pixels there are by nearest neighbour instead, so tiny images still hash.
    return blockhash(nearestNeighbourUpscale(image, Math.max(bits, image.width), Math.max(bits, image.height)), bits);
  }
  const halve = Math.min(image.width, image.height) >= 2 * bits * MIN_HALVED_PIXELS_PER_BLOCK;
  const rgba = halve ? halveToOpaqueRgba(image) : { data: rgbToOpaqueRgba(image), width: image.width, height: image.height };
  const hex = bmvbhash(rgba, bits);
  return hexToHash(hex, bits * bits);
}

/**
 * Averages 2x2 pixel squares into one opaque RGBA pixel (the package reads RGBA; our decode is
 * RGB and already flattened). An odd last column or row is left out.
 */
export function halveToOpaqueRgba(image: RgbImage): { data: Uint8Array; width: number; height: number } {
  const width = image.width >> 1;
  const height = image.height >> 1;
  const data = new Uint8Array(width * height * 4);
  const words = new Uint32Array(data.buffer);
  const source = image.data;
  const stride = image.width * 3;
  for (let y = 0, out = 0; y < height; y++) {
    let top = 2 * y * stride;
    let bottom = top + stride;
    for (let x = 0; x < width; x++, out++, top += 6, bottom += 6) {
      // +2 rounds the quarter-sums to nearest.
      const r = (source[top]! + source[top + 3]! + source[bottom]! + source[bottom + 3]! + 2) >> 2;
      const g = (source[top + 1]! + source[top + 4]! + source[bottom + 1]! + source[bottom + 4]! + 2) >> 2;
      const b = (source[top + 2]! + source[top + 5]! + source[bottom + 2]! + source[bottom + 5]! + 2) >> 2;
      words[out] = LITTLE_ENDIAN ? (r | (g << 8) | (b << 16) | 0xff000000) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
    }
  }
  return { data, width, height };
}

/** RGB to opaque RGBA, pixel for pixel, written as whole 32-bit words. */
export function rgbToOpaqueRgba({ data, width, height }: RgbImage): Uint8Array {
  const pixels = width * height;
  const rgba = new Uint8Array(pixels * 4);
  const words = new Uint32Array(rgba.buffer);
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    const r = data[o]!;
    const g = data[o + 1]!;
    const b = data[o + 2]!;
    words[p] = LITTLE_ENDIAN ? (r | (g << 8) | (b << 16) | 0xff000000) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
  }
  return rgba;
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
