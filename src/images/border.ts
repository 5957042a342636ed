/**
 * A near-uniform border around a decoded picture: a frame of one colour (sharp's extend, a
 * screenshot's margin) or of transparent pixels, added around a known picture. It moves both
 * hashes far from the picture's (a 3% white frame on a 640x480 photo: PDQ 62-86 bits, blockhash
 * 51-150), so the hashes also take the content inside it (index.ts hashFrame, the `trimmed` views).
 *
 * Pure: raw pixels in, a box out, no I/O. Cheap on a picture without a border: the border colour
 * comes from the four corners, and a picture whose corners do not agree (most photos) costs a few
 * dozen pixel reads; one whose corners agree is scanned from each side only until the first line
 * that is not border.
 */

/** A box inside a picture, in its pixels. */
export interface BorderBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What findBorder reads: RGB, 3 bytes a pixel, and optionally alpha, 1 byte a pixel. */
export interface BorderPicture {
  data: Uint8Array;
  width: number;
  height: number;
  alpha?: Uint8Array | undefined;
}

/**
 * How far (per channel, out of 255) a pixel may be from the border colour and still be border,
 * tried in turn: 20, above a JPEG's noise on a flat area near an edge, below any visible content;
 * then, when that finds no flat border, 6, for a border of exactly one colour around a picture
 * whose own margin is a shade off it (an off-white page in a pure white frame: at 20 the two
 * merge into a border that is not flat). For alpha, how opaque a pixel may be and still count as
 * transparent.
 */
export const BORDER_TOLERANCES = [20, 6] as const;

/**
 * How flat a border must be: the mean, over its pixels, of their largest channel difference from
 * the border colour (for alpha, their mean alpha), at most a quarter of the tolerance it was found
 * at. A uniform border, even through JPEG, is within 1 or 2; a smooth gradient that stays within
 * the tolerance over its first columns (a sky, a vignette) averages about half the tolerance
 * there, and is no border.
 */
export const MAX_MEAN_BORDER_FRACTION = 0.25;

/** The least border worth a view, per side: 2% of that dimension, and at least MIN_BORDER_PIXELS. */
export const MIN_BORDER_FRACTION = 0.02;
export const MIN_BORDER_PIXELS = 2;

/** The smallest content, each side, worth hashing on its own (smaller is a speck, not a picture). */
export const MIN_TRIMMED_SIDE = 32;

/**
 * The content inside a near-uniform border: the bounding box of the pixels that are not border,
 * or undefined when the picture has no border worth a view.
 *
 * The border is transparent when the picture has alpha and at least two of its corners are
 * (nearly) fully transparent (alpha within the tolerance, BORDER_TOLERANCES): the content is then
 * what is not.
 * Otherwise the border colour is that of at least two corners that agree (each corner read as the
 * median of its 3x3 pixels, so a noisy or specked corner pixel does not decide), and the content
 * is what differs from it by more than the tolerance in a channel. Two corners, not four: a
 * border on one side only (content touching the other three) is a border too.
 *
 * Each side is scanned inwards line by line; a line is border when at most one pixel in 256 of it
 * (a speck, JPEG ringing) is not. The border found must be flat (MAX_MEAN_BORDER_FRACTION: no
 * gradient), leave content at least MIN_TRIMMED_SIDE each way, and be, on at least one side, at
 * least MIN_BORDER_FRACTION of the picture and MIN_BORDER_PIXELS deep.
 */
export function findBorder(picture: BorderPicture): BorderBox | undefined {
  const { width, height } = picture;
  if (width < MIN_TRIMMED_SIDE + MIN_BORDER_PIXELS || height < MIN_TRIMMED_SIDE + MIN_BORDER_PIXELS) return undefined;
  for (const tolerance of BORDER_TOLERANCES) {
    // A picture all within one tolerance of its corners is blank at it, or a low-contrast picture
    // in a frame of its lightest or darkest colour, which the next tolerance tells apart.
    const box = findBorderWithin(picture, tolerance);
    if (box) return box;
  }
  return undefined;
}

/** findBorder at one tolerance. */
function findBorderWithin(picture: BorderPicture, tolerance: number): BorderBox | undefined {
  const { width, height } = picture;
  const border = borderOf(picture, tolerance);
  if (!border) return undefined;

  // Per line: the pixels that may differ (specks), and the summed difference of the border lines.
  const allowedRow = width >> 8;
  const allowedColumn = height >> 8;
  let sum = 0;
  let pixels = 0;
  const { data, alpha } = picture;
  /** Whether the line of `count` pixels from pixel `start`, `step` apart, is border; adds its differences to the sum. */
  const isBorder = (start: number, step: number, count: number, allowed: number): boolean => {
    let lineSum = 0;
    let off = 0;
    if (border === 'transparent') {
      for (let i = 0, p = start; i < count; i++, p += step) {
        const d = alpha![p]!;
        if (d <= tolerance) lineSum += d;
        else if (++off > allowed) return false;
      }
    } else {
      const [r, g, b] = border;
      for (let i = 0, p = start * 3; i < count; i++, p += step * 3) {
        const dr = data[p]! - r;
        const dg = data[p + 1]! - g;
        const db = data[p + 2]! - b;
        const d = Math.max(dr < 0 ? -dr : dr, dg < 0 ? -dg : dg, db < 0 ? -db : db);
        if (d <= tolerance) lineSum += d;
        else if (++off > allowed) return false;
      }
    }
    sum += lineSum;
    pixels += count - off;
    return true;
  };

  let top = 0;
  while (top < height && isBorder(top * width, 1, width, allowedRow)) top++;
  if (top === height) return undefined; // every line within the tolerance: no content to box
  let bottom = height;
  while (bottom > top && isBorder((bottom - 1) * width, 1, width, allowedRow)) bottom--;
  const rows = bottom - top;
  let left = 0;
  while (left < width && isBorder(top * width + left, width, rows, allowedColumn)) left++;
  let right = width;
  while (right > left && isBorder(top * width + right - 1, width, rows, allowedColumn)) right--;

  const box = { left, top, width: right - left, height: bottom - top };
  if (box.width < MIN_TRIMMED_SIDE || box.height < MIN_TRIMMED_SIDE) return undefined;
  const deepH = Math.max(MIN_BORDER_PIXELS, Math.ceil(MIN_BORDER_FRACTION * height));
  const deepW = Math.max(MIN_BORDER_PIXELS, Math.ceil(MIN_BORDER_FRACTION * width));
  if (top < deepH && height - bottom < deepH && left < deepW && width - right < deepW) return undefined;
  if (pixels === 0 || sum / pixels > MAX_MEAN_BORDER_FRACTION * tolerance) return undefined;
  return box;
}

/**
 * What the border is, from the picture's corners: 'transparent' (at least two corners nearly fully
 * transparent), else the colour of at least two corners that agree (their mean), else undefined.
 */
function borderOf(picture: BorderPicture, tolerance: number): 'transparent' | readonly [number, number, number] | undefined {
  const { data, alpha, width, height } = picture;
  const corners = [
    [0, 0],
    [width - 3, 0],
    [0, height - 3],
    [width - 3, height - 3],
  ] as const;
  if (alpha && corners.filter(([x, y]) => median3x3(alpha, 1, 0, width, x, y) <= tolerance).length >= 2) return 'transparent';
  const colours = corners.map(([x, y]) => [0, 1, 2].map((c) => median3x3(data, 3, c, width, x, y)));
  for (const colour of colours) {
    const agreeing = colours.filter((other) => maxDifference(colour, other) <= tolerance);
    if (agreeing.length >= 2) return [0, 1, 2].map((c) => Math.round(agreeing.reduce((total, each) => total + each[c]!, 0) / agreeing.length)) as [number, number, number];
  }
  return undefined;
}

function maxDifference(a: readonly number[], b: readonly number[]): number {
  return Math.max(Math.abs(a[0]! - b[0]!), Math.abs(a[1]! - b[1]!), Math.abs(a[2]! - b[2]!));
}

/** The median of channel `channel` over the 3x3 pixels from (x, y) of a plane of `channels` bytes a pixel. */
function median3x3(plane: Uint8Array, channels: number, channel: number, width: number, x: number, y: number): number {
  const values: number[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) values.push(plane[((y + dy) * width + x + dx) * channels + channel]!);
  return values.sort((a, b) => a - b)[4]!;
}

/** The picture's planes (RGB; alpha and alpha-weighted RGB when present) inside `box`, copied. */
export function cropToBox<F extends BorderPicture & { alphaWeighted?: Uint8Array | undefined }>(
  picture: F,
  box: BorderBox,
): { data: Uint8Array; width: number; height: number; alpha?: Uint8Array; alphaWeighted?: Uint8Array } {
  const crop = (plane: Uint8Array, channels: number): Uint8Array => {
    const out = new Uint8Array(box.width * box.height * channels);
    const rowBytes = box.width * channels;
    for (let y = 0; y < box.height; y++) {
      const from = ((box.top + y) * picture.width + box.left) * channels;
      out.set(plane.subarray(from, from + rowBytes), y * rowBytes);
    }
    return out;
  };
  const data = crop(picture.data, 3);
  return {
    data,
    width: box.width,
    height: box.height,
    ...(picture.alpha && { alpha: crop(picture.alpha, 1) }),
    ...(picture.alphaWeighted && { alphaWeighted: picture.alphaWeighted === picture.data ? data : crop(picture.alphaWeighted, 3) }),
  };
}
