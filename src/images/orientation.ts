/**
 * The pixels as the file stores them, from a decoded frame that the decode turned upright.
 *
 * The decode (decode.ts) turns every frame upright by its EXIF orientation: what a viewer shows,
 * and what a classifier must see. The perceptual hashes are not taken on that: Meta's PDQ
 * references (the C++ pdq-photo-hasher through CImg, python-threatexchange through PIL's
 * Image.open) and the blockhash implementations hash the pixels in their stored orientation and
 * never read the EXIF tag, so a partner's hash of a file is a hash of its stored pixels. Hashing
 * the upright frame and counting on PDQ's dihedral variants to turn it back is not exact (the
 * variants flip DCT signs, which is exact only when the blur window along the flipped axis is
 * odd-sized): an exact copy of a partner's file at orientation 6 landed 22 to 34 bits from the
 * partner's hash.
 *
 * libvips makes the EXIF turn after its resize, as a transpose or flip of the working grid, so
 * undoing it here, by the inverse transpose or flip, gives exactly the pixels the decode would
 * give without autoOrient: the stored image shrunk to the working size, bit for bit, at the cost
 * of one copy of the working frame (at most workingSize^2 pixels), only for frames that were turned.
 */
import type { FrameWithAlpha } from './alpha.js';

/** EXIF orientations whose upright image differs from the stored one. */
const TURNED = new Set([2, 3, 4, 5, 6, 7, 8]);

/**
 * Where stored pixel (x, y) of a stored sw x sh image lies in the upright image, row-major: index
 * base + x * dx + y * dy. From the EXIF definitions (and sharp's autoOrient, checked in
 * orientation.test.ts): 2 mirror left-right, 3 turn 180, 4 mirror top-bottom, 5 transpose (about the
 * main diagonal), 6 a quarter turn clockwise, 7 transverse (about the anti-diagonal), 8 a quarter
 * turn counter-clockwise. 5 to 8 swap width and height (the upright width is sh).
 */
function uprightIndexing(orientation: number, sw: number, sh: number): { base: number; dx: number; dy: number } {
  switch (orientation) {
    case 2:
      return { base: sw - 1, dx: -1, dy: sw };
    case 3:
      return { base: sw * sh - 1, dx: -1, dy: -sw };
    case 4:
      return { base: (sh - 1) * sw, dx: 1, dy: -sw };
    case 5:
      return { base: 0, dx: sh, dy: 1 };
    case 6:
      return { base: sh - 1, dx: sh, dy: -1 };
    case 7:
      return { base: sw * sh - 1, dx: -sh, dy: -1 };
    case 8:
      return { base: (sw - 1) * sh, dx: -sh, dy: 1 };
    default:
      return { base: 0, dx: 1, dy: sw };
  }
}

/** Whether a frame of this EXIF orientation was turned by the decode (2 to 8). */
export function isTurned(orientation: number | undefined): orientation is number {
  return orientation !== undefined && TURNED.has(orientation);
}

/**
 * The upright frame's plane (`channels` bytes a pixel) in its stored orientation. Exact: every
 * byte is copied, none is resampled.
 */
export function storedPlane(plane: Uint8Array, channels: number, upright: { width: number; height: number }, orientation: number): Uint8Array {
  const swap = orientation >= 5;
  const sw = swap ? upright.height : upright.width;
  const sh = swap ? upright.width : upright.height;
  const { base, dx, dy } = uprightIndexing(orientation, sw, sh);
  const out = new Uint8Array(sw * sh * channels);
  let o = 0;
  for (let y = 0; y < sh; y++) {
    let from = base + y * dy;
    for (let x = 0; x < sw; x++, from += dx) {
      const i = from * channels;
      for (let c = 0; c < channels; c++) out[o++] = plane[i + c]!;
    }
  }
  return out;
}

/**
 * The frame in the orientation its file stores it: the frame itself when the decode did not turn
 * it (`orientation` absent or 1), otherwise a copy with its planes (RGB, alpha, alpha-weighted RGB)
 * turned back and its width and height as stored. What the hashes read (index.ts hashFrame).
 */
export function storedOrientation<F extends FrameWithAlpha & { orientation?: number | undefined }>(frame: F): FrameWithAlpha {
  const { orientation } = frame;
  if (!isTurned(orientation)) return frame;
  const upright = { width: frame.width, height: frame.height };
  const data = storedPlane(frame.data, 3, upright, orientation);
  const swap = orientation >= 5;
  const stored: FrameWithAlpha = { data, width: swap ? frame.height : frame.width, height: swap ? frame.width : frame.height };
  if (frame.alpha) stored.alpha = storedPlane(frame.alpha, 1, upright, orientation);
  if (frame.alphaWeighted) stored.alphaWeighted = frame.alphaWeighted === frame.data ? data : storedPlane(frame.alphaWeighted, 3, upright, orientation);
  return stored;
}
