/**
 * RGB to luma (the Y of YUV) with the BT.601 weights the PDQ reference uses, into a float
 * buffer the Jarosz filter then works on in place.
 */

export const LUMA_FROM_R = 0.299;
export const LUMA_FROM_G = 0.587;
export const LUMA_FROM_B = 0.114;

/**
 * Fills `out` (at least width x height, row-major) with the luma of packed 8-bit RGB `rgb`
 * (3 bytes a pixel, no row padding) and returns it.
 */
export function lumaFromRgb(rgb: Uint8Array, width: number, height: number, out: Float32Array): Float32Array {
  const pixels = width * height;
  if (rgb.length < pixels * 3) throw new RangeError(`RGB buffer holds ${rgb.length} bytes, need ${pixels * 3}`);
  if (out.length < pixels) throw new RangeError(`luma buffer holds ${out.length} values, need ${pixels}`);
  // Float32 constants, as the reference multiplies in single precision.
  const r = Math.fround(LUMA_FROM_R);
  const g = Math.fround(LUMA_FROM_G);
  const b = Math.fround(LUMA_FROM_B);
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    out[p] = r * rgb[o]! + g * rgb[o + 1]! + b * rgb[o + 2]!;
  }
  return out;
}
