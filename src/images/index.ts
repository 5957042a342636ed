/**
 * The images face: decode once with `decodeImage`, then `hashImage` computes blockhash and PDQ
 * from that same decoded frame. Nothing here decodes again. The decode turns frames upright by
 * their EXIF orientation (for classifiers); the hashes are taken on the pixels in their stored
 * orientation, as Meta's PDQ references and blockhash implementations take them (they never apply
 * EXIF orientation), so a file hashes as its partner's hash of it, whatever its orientation tag:
 * the frame is turned back first, exactly (orientation.ts), and PDQ's dihedral variants are
 * turns and mirrors of the stored pixels.
 *
 * A frame with alpha is hashed as stored too (its RGB, alpha left out, as the references read it),
 * and, when asked (`alphaViews`), also as a viewer sees it on a white page and on a black
 * background (alpha.ts ALPHA_VIEWS): an image carried in the alpha channel alone hashes as a blank
 * on its stored RGB, and as the image on those views.
 */
import type { HashBytes } from '../matching/hash-bits.js';
import { ALPHA_VIEWS, type AlphaView, flattenForView, hasMeaningfulAlpha } from './alpha.js';
import { DEFAULT_BLOCKHASH_BITS, blockhash } from './blockhash.js';
import type { DecodedFrame, DecodedImage } from './decode.js';
import { dihedralHashes } from './pdq/dihedral.js';
import { pdqHash } from './pdq/hasher.js';
import { storedOrientation } from './orientation.js';

export { decodeImage, type DecodedFrame, type DecodedImage, type DecodeOptions } from './decode.js';
export { DEFAULT_DECODE_OPTIONS } from './decode-options.js';
export { DecodeLimiter, sharedDecodeLimiter } from './decode-limiter.js';
export { blockhash, blockhashBitsFromBlank, DEFAULT_BLOCKHASH_BITS } from './blockhash.js';
export { pdqHash, PdqHasher, type PdqResult } from './pdq/hasher.js';
export { DIHEDRAL_VARIANTS, type DihedralVariant, dihedralHashes } from './pdq/dihedral.js';
export { ALPHA_VIEWS, type AlphaView, MIN_VIEW_TRANSPARENCY } from './alpha.js';

export interface ImageHashOptions {
  /** Blockhash grid size: bits x bits blocks, bits^2-bit hash. Default 16 (256 bits). */
  blockhashBits?: number;
  /** Also return PDQ's eight dihedral variants (from the one DCT, no re-hashing). Default false. */
  dihedral?: boolean;
  /**
   * Also hash a frame with alpha as a viewer sees it flattened onto white and onto black
   * (`views`), when it is at least MIN_VIEW_TRANSPARENCY transparent. Default false: the hashes
   * of the stored pixels only, as a partner's tools compute them.
   */
  alphaViews?: boolean;
}

/** The hashes of one picture: the stored pixels, or a view of them. */
export interface PictureHashes {
  blockhash: HashBytes;
  /** 256-bit PDQ, byte order and hex as the reference prints it. */
  pdq: HashBytes;
  /** PDQ quality 0-100; below 50 the hash is too flat to match on. */
  pdqQuality: number;
  /**
   * PDQ of the image rotated/flipped, in DIHEDRAL_VARIANTS order (original first), when asked: turns
   * and mirrors of the pixels as stored (EXIF orientation not applied), like `pdq`.
   */
  dihedral?: HashBytes[];
}

/** The hashes of a view of a frame with alpha (ImageHashOptions.alphaViews): the frame flattened onto white or black. */
export interface ImageViewHashes extends PictureHashes {
  view: AlphaView;
}

export interface ImageHashes extends PictureHashes {
  /**
   * With `alphaViews`, for a frame with meaningful alpha: its views (ALPHA_VIEWS order), in the
   * stored orientation like the rest, each hashed like the stored pixels (dihedral variants when
   * asked). A view whose hashes equal the stored pixels' or an earlier view's is left out.
   */
  views?: ImageViewHashes[];
}

/**
 * Hashes one decoded frame, in the orientation its file stores it (a frame the decode turned
 * upright by its EXIF orientation is turned back first: see orientation.ts).
 */
export function hashFrame(frame: DecodedFrame, options: ImageHashOptions = {}): ImageHashes {
  const stored = storedOrientation(frame);
  const hashes: ImageHashes = hashPicture(stored, options);
  if (!options.alphaViews || !hasMeaningfulAlpha(stored)) return hashes;
  const views: ImageViewHashes[] = [];
  for (const view of ALPHA_VIEWS) {
    const viewed = { view, ...hashPicture(flattenForView(stored, view), options) };
    if ([hashes, ...views].some((known) => samePicture(known, viewed))) continue;
    views.push(viewed);
  }
  if (views.length > 0) hashes.views = views;
  return hashes;
}

/** Blockhash (a frame's fully transparent pixels as white) and PDQ (the RGB alone) of one picture. */
function hashPicture(picture: Parameters<typeof blockhash>[0], options: ImageHashOptions): PictureHashes {
  const pdq = pdqHash(picture);
  const hashes: PictureHashes = {
    blockhash: blockhash(picture, options.blockhashBits ?? DEFAULT_BLOCKHASH_BITS),
    pdq: pdq.hash,
    pdqQuality: pdq.quality,
  };
  if (options.dihedral) hashes.dihedral = dihedralHashes(pdq.dct);
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
