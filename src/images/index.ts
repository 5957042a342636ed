/**
 * The images face: decode once with `decodeImage`, then `hashImage` computes blockhash and PDQ
 * from that same decoded frame. Nothing here decodes again. The decode turns frames upright by
 * their EXIF orientation (for classifiers); the hashes are taken on the pixels in their stored
 * orientation, as Meta's PDQ references and blockhash implementations take them (they never apply
 * EXIF orientation), so a file hashes as its partner's hash of it, whatever its orientation tag:
 * the frame is turned back first, exactly (orientation.ts), and PDQ's dihedral variants are
 * turns and mirrors of the stored pixels.
 */
import type { HashBytes } from '../matching/hash-bits.js';
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

export interface ImageHashOptions {
  /** Blockhash grid size: bits x bits blocks, bits^2-bit hash. Default 16 (256 bits). */
  blockhashBits?: number;
  /** Also return PDQ's eight dihedral variants (from the one DCT, no re-hashing). Default false. */
  dihedral?: boolean;
}

export interface ImageHashes {
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

/**
 * Hashes one decoded frame, in the orientation its file stores it (a frame the decode turned
 * upright by its EXIF orientation is turned back first: see orientation.ts).
 */
export function hashFrame(frame: DecodedFrame, options: ImageHashOptions = {}): ImageHashes {
  const stored = storedOrientation(frame);
  const pdq = pdqHash(stored);
  const hashes: ImageHashes = {
    blockhash: blockhash(stored, options.blockhashBits ?? DEFAULT_BLOCKHASH_BITS),
    pdq: pdq.hash,
    pdqQuality: pdq.quality,
  };
  if (options.dihedral) hashes.dihedral = dihedralHashes(pdq.dct);
  return hashes;
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
