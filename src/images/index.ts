/**
 * The images face: decode once with `decodeImage`, then `hashImage` computes blockhash and PDQ
 * from that same decoded frame. Nothing here decodes again. The decode turns frames upright by
 * their EXIF orientation (for classifiers); the hashes are taken on the pixels in their stored
 * orientation, as Meta's PDQ references and blockhash implementations take them (they never apply
 * EXIF orientation), so a file hashes as its partner's hash of it, whatever its orientation tag:
 * the frame is turned back first, exactly (orientation.ts), and the dihedral variants (PDQ's and
 * blockhash's) are turns and mirrors of the stored pixels. A frame with alpha is hashed as stored too (its RGB,
 * alpha left out, as the references read it).
 *
 * When asked (`viewerViews`), a frame is also hashed as viewers show it, in views (IMAGE_VIEWS),
 * each only when it exists: upright by its EXIF orientation (an attacker can store a known
 * picture turned or mirrored with the tag that turns it back), flattened onto white and onto
 * black when it has meaningful alpha (an image can be carried in the alpha channel alone), and
 * each of those pictures without a near-uniform border around it (border.ts: a frame of one
 * colour, or of transparency, added around a known picture), and with its contrast stretched when
 * low contrast holds its PDQ quality down (contrast.ts: a known picture faded or dimmed), whole and
 * without its border (a faded copy in a frame).
 */
import type { HashBytes } from '../matching/hash-bits.js';
import { type FrameWithAlpha, flattenOntoBlack, flattenOntoWhite, hasMeaningfulAlpha } from './alpha.js';
import { DEFAULT_BLOCKHASH_BITS, blockhash, blockhashWithVariants } from './blockhash.js';
import { type BorderBox, cropToBox, findBorderRings } from './border.js';
import { STRETCH_BELOW_QUALITY, stretchContrast } from './contrast.js';
import type { DecodedFrame, DecodedImage } from './decode.js';
import { dihedralHashes } from './pdq/dihedral.js';
import { pdqHash } from './pdq/hasher.js';
import { isTurned, storedOrientation } from './orientation.js';

export { decodeImage, type DecodedFrame, type DecodedImage, type DecodeOptions } from './decode.js';
export { DEFAULT_DECODE_OPTIONS } from './decode-options.js';
export { DecodeLimiter, sharedDecodeLimiter } from './decode-limiter.js';
export { blockhash, blockhashBitsFromBlank, DEFAULT_BLOCKHASH_BITS } from './blockhash.js';
export { pdqHash, PdqHasher, type PdqResult } from './pdq/hasher.js';
export { DIHEDRAL_VARIANTS, type DihedralVariant, dihedralHashes } from './pdq/dihedral.js';
export { MIN_VIEW_TRANSPARENCY } from './alpha.js';
export { type BorderBox, findBorder } from './border.js';
export { FULL_STRETCH_RANGE, MIN_STRETCH_RANGE, STRETCH_BELOW_QUALITY, stretchContrast } from './contrast.js';

/**
 * The views of a frame (ImageHashOptions.viewerViews), in the order they are hashed and matched,
 * after the stored pixels. Every view is of the picture as viewers show it, upright:
 * - `upright`: a frame with an EXIF orientation of 2 to 8, turned upright by it (the stored pixels
 *   are the file's own orientation); hashed like the stored pixels (RGB, alpha left out for PDQ).
 * - `on-white`, `on-black`: a frame with meaningful alpha (MIN_VIEW_TRANSPARENCY), upright,
 *   flattened onto white and onto black (alpha.ts).
 * - `trimmed`, `on-white-trimmed`, `on-black-trimmed`: the upright frame (the stored pixels when
 *   not turned), and its views on white and on black, cut to the content inside a near-uniform
 *   border of one colour or of transparency (border.ts findBorderRings: inside each of its rings),
 *   when they have one.
 * - `stretched`: the upright frame with its contrast stretched (contrast.ts: the 1st percentile of
 *   the pixels' darkest channel and the 99th of their brightest mapped to 0..255, the same map on
 *   R, G and B, alpha kept), when its PDQ quality is under 100 (STRETCH_BELOW_QUALITY) and that
 *   range is neither too narrow to carry a picture (MIN_STRETCH_RANGE) nor nearly full already
 *   (FULL_STRETCH_RANGE): a known picture faded, dimmed or washed out keeps its PDQ bits but drops
 *   under the quality floor; stretched, it is back above it. Then, with the trimmed view's `box`,
 *   each trimmed view (`trimmed`, `on-white-trimmed`, `on-black-trimmed`) under quality 100, its
 *   crop stretched the same way: a faded copy in a frame (the frame's colour holds the whole
 *   frame's range open and its edge is in the whole frame's hash); a box is stretched once unless
 *   the picture inside it has meaningful alpha (opaque, it shows the same on white and on black).
 *   Its own quality still goes through the floor.
 */
export const IMAGE_VIEWS = ['upright', 'on-white', 'on-black', 'trimmed', 'on-white-trimmed', 'on-black-trimmed', 'stretched'] as const;
export type ImageView = (typeof IMAGE_VIEWS)[number];

export interface ImageHashOptions {
  /** Blockhash grid size: bits x bits blocks, bits^2-bit hash. Default 16 (256 bits). */
  blockhashBits?: number;
  /**
   * Also return the eight dihedral variants of PDQ (from the one DCT) and of blockhash (bit moves,
   * blockhashDihedral). Default false.
   */
  dihedral?: boolean;
  /**
   * Also hash the frame as viewers show it (`views`, IMAGE_VIEWS): upright by its EXIF
   * orientation, flattened onto white and onto black when it has meaningful alpha, without a
   * near-uniform border, and contrast-stretched (whole, and each trimmed view) when its PDQ
   * quality is under 100; each view only
   * when it exists. Default false: the hashes of the stored
   * pixels only, as a partner's tools compute them.
   */
  viewerViews?: boolean;
}

/** The hashes of one picture: the stored pixels, or a view of them. */
export interface PictureHashes {
  blockhash: HashBytes;
  /** 256-bit PDQ, byte order and hex as the reference prints it. */
  pdq: HashBytes;
  /** PDQ quality 0-100; below 50 the hash is too flat to match on. */
  pdqQuality: number;
  /**
   * PDQ of the picture rotated/flipped, in DIHEDRAL_VARIANTS order (original first), when asked:
   * turns and mirrors of the picture hashed (for the stored pixels, EXIF orientation not applied).
   */
  dihedral?: HashBytes[];
  /**
   * Blockhash of the same eight turns and mirrors, in DIHEDRAL_VARIANTS order (`blockhash` first),
   * when `dihedral` is asked: moves of the hash's bits and of the transposed picture's
   * (blockhash-dihedral.ts), the turned picture's own hash bit for bit on the 16 x 16 grid.
   */
  blockhashDihedral?: HashBytes[];
}

/** The hashes of a view of a frame (ImageHashOptions.viewerViews, IMAGE_VIEWS). */
export interface ImageViewHashes extends PictureHashes {
  view: ImageView;
  /**
   * For a trimmed view, and a `stretched` view of one: the box kept, in the pixels of the upright
   * working frame (the decode's, at most workingSize a side).
   */
  box?: BorderBox;
}

export interface ImageHashes extends PictureHashes {
  /**
   * With `viewerViews`: the frame's views that exist (IMAGE_VIEWS order), each hashed like the
   * stored pixels (dihedral variants when asked). A view whose hashes equal the stored pixels' or
   * an earlier view's is left out; absent when none is left.
   */
  views?: ImageViewHashes[];
}

/**
 * Hashes one decoded frame, in the orientation its file stores it (a frame the decode turned
 * upright by its EXIF orientation is turned back first: see orientation.ts), and with
 * `viewerViews` as viewers show it (IMAGE_VIEWS).
 */
export function hashFrame(frame: DecodedFrame, options: ImageHashOptions = {}): ImageHashes {
  const stored = storedOrientation(frame);
  const hashes: ImageHashes = hashPicture(stored, options);
  if (!options.viewerViews) return hashes;
  const views: ImageViewHashes[] = [];
  /** Hashes a view; undefined when it hashes as the stored pixels or an earlier view (left out). */
  const add = (view: ImageView, picture: FrameWithAlpha, box?: BorderBox): PictureHashes | undefined => {
    const viewed: ImageViewHashes = { view, ...hashPicture(picture, options), ...(box && { box }) };
    if ([hashes, ...views].some((known) => samePicture(known, viewed))) return undefined;
    views.push(viewed);
    return viewed;
  };
  // What viewers show: the frame upright (the decode's frame), as it is and on white and on black.
  const upright: FrameWithAlpha = frame;
  const uprightHashes = (isTurned(frame.orientation) && add('upright', upright)) || hashes;
  const shown: Array<[ImageView, FrameWithAlpha]> = [['trimmed', upright]];
  if (hasMeaningfulAlpha(upright)) {
    const onWhite = flattenOntoWhite(upright);
    const onBlack = flattenOntoBlack(upright);
    add('on-white', onWhite);
    add('on-black', onBlack);
    shown.push(['on-white-trimmed', onWhite], ['on-black-trimmed', onBlack]);
  }
  // Each without its border, when it has one: a transparent border (read on the frame's alpha)
  // bounds them all alike; a border of one colour is read on each picture as shown.
  const faint: Array<[FrameWithAlpha, BorderBox]> = [];
  for (const [view, picture] of shown) {
    // Every ring's box: a page's own margin inside a frame reads as a mat inside an outline.
    for (const box of findBorderRings({ ...picture, alpha: upright.alpha })) {
      const cropped = cropToBox(picture, box);
      const trimmed = add(view, cropped, box);
      // A trimmed view under the stretch quality is stretched too, below (a faded copy in a frame).
      if (trimmed && trimmed.pdqQuality < STRETCH_BELOW_QUALITY) faint.push([cropped, box]);
    }
  }
  // Its contrast stretched, when contrast may be what holds its PDQ quality down (contrast.ts):
  // the upright frame, then each trimmed view under that quality, cut first (a frame's colour
  // would hold the range open, and its edge is in the hash), with the trimmed view's box.
  if (uprightHashes.pdqQuality < STRETCH_BELOW_QUALITY) {
    const stretched = stretchContrast(upright);
    if (stretched) add('stretched', stretched);
  }
  const stretchedBoxes = new Set<string>();
  for (const [cropped, box] of faint) {
    // A box stretched once, unless the picture inside it is transparent enough to show otherwise
    // on white and on black: opaque, its views on white and on black are the trimmed picture again.
    const key = `${box.left},${box.top},${box.width},${box.height}`;
    if (stretchedBoxes.has(key) && !hasMeaningfulAlpha(cropToBox(upright, box))) continue;
    stretchedBoxes.add(key);
    const stretched = stretchContrast(cropped);
    if (stretched) add('stretched', stretched, box);
  }
  if (views.length > 0) hashes.views = views;
  return hashes;
}

/** Blockhash (a frame's fully transparent pixels as white) and PDQ (the RGB alone) of one picture. */
function hashPicture(picture: Parameters<typeof blockhash>[0], options: ImageHashOptions): PictureHashes {
  const pdq = pdqHash(picture);
  const bits = options.blockhashBits ?? DEFAULT_BLOCKHASH_BITS;
  const turned = options.dihedral ? blockhashWithVariants(picture, bits) : undefined;
  const hashes: PictureHashes = { blockhash: turned?.hash ?? blockhash(picture, bits), pdq: pdq.hash, pdqQuality: pdq.quality };
  if (options.dihedral) hashes.dihedral = dihedralHashes(pdq.dct);
  if (turned) hashes.blockhashDihedral = turned.variants;
  return hashes;
}

/** Whether two pictures hash alike (PDQ, its quality, blockhash), so matching the second adds nothing. */
function samePicture(a: PictureHashes, b: PictureHashes): boolean {
  return a.pdqQuality === b.pdqQuality && Buffer.compare(a.pdq, b.pdq) === 0 && Buffer.compare(a.blockhash, b.blockhash) === 0;
}

/** Blockhash and PDQ of the image's first frame, both from the single decode. */
export function hashImage(decoded: DecodedImage, options: ImageHashOptions = {}): ImageHashes {
  const first = decoded.frames[0];
  if (first === undefined) throw new RangeError('the decoded image has no frames');
  return hashFrame(first, options);
}

/** Hashes of every decoded frame of an animation (frames[0] first), for per-frame matching. */
export function hashFrames(decoded: DecodedImage, options: ImageHashOptions = {}): ImageHashes[] {
  return decoded.frames.map((frame) => hashFrame(frame, options));
}
