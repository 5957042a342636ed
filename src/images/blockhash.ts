/**
 * Blockhash (the blockhash.io algorithm), through the `blockhash-core` package's precise method
 * (`bmvbhash`): the image is cut into bits x bits blocks, each block's brightness (sum of
 * R+G+B, with fractional pixel weights where block edges fall inside pixels) is compared with
 * the median of its horizontal quarter band, and brighter blocks give 1 bits. bits = 16 gives
 * the usual 256-bit hash, read row by row, most significant bit first, as its hex form prints.
 *
 * Cost: when width and height are multiples of `bits` the package takes a fast path; other
 * sizes use weighted blocks and cost a few milliseconds on a 512-pixel working copy.
 */
import { bmvbhash } from 'blockhash-core';
import { type HashBytes, hexToHash } from '../matching/hash-bits.js';

export const DEFAULT_BLOCKHASH_BITS = 16;

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Returns the bits x bits-bit hash of an RGB frame (3 bytes a pixel) from `decodeImage`. */
export function blockhash(image: RgbImage, bits = DEFAULT_BLOCKHASH_BITS): HashBytes {
  if (!Number.isInteger(bits) || bits < 2 || bits % 2 !== 0) throw new RangeError(`blockhash bits must be an even integer >= 2, got ${bits}`);
  if (image.width < bits || image.height < bits) {
    // Blocks smaller than a pixel make the package divide by zero-sized blocks; stretch the few
    // pixels there are by nearest neighbour instead, so tiny images still hash.
    return blockhash(nearestNeighbourUpscale(image, Math.max(bits, image.width), Math.max(bits, image.height)), bits);
  }
  const hex = bmvbhash({ width: image.width, height: image.height, data: rgbToOpaqueRgba(image) }, bits);
  return hexToHash(hex, bits * bits);
}

/** The package reads RGBA; our decode is RGB and already flattened, so alpha is always opaque. */
export function rgbToOpaqueRgba({ data, width, height }: RgbImage): Uint8Array {
  const pixels = width * height;
  const rgba = new Uint8Array(pixels * 4);
  // Write whole pixels as little-endian 32-bit words (A in the top byte): one store each.
  const words = new Uint32Array(rgba.buffer);
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  if (!littleEndian) {
    for (let p = 0; p < pixels; p++) rgba.set([data[p * 3]!, data[p * 3 + 1]!, data[p * 3 + 2]!, 255], p * 4);
    return rgba;
  }
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    words[p] = (data[o]! | (data[o + 1]! << 8) | (data[o + 2]! << 16) | 0xff000000) >>> 0;
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
