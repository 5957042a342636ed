/**
 * The eight dihedral variants (rotations and reflections) of a PDQ hash, derived from the one
 * 16x16 DCT block instead of hashing transformed images. Reflecting an image along an axis
 * multiplies each DCT coefficient of frequency u along that axis by (-1)^u; swapping the axes
 * (transposing the image) transposes the block. Every rotation or flip is a mix of the two,
 * and the median threshold is then taken again over the changed block.
 *
 * Names and sign patterns follow the PDQ reference, so variant lists line up with its output.
 * Our coefficient (i, j) has vertical frequency i + 1 and horizontal frequency j + 1, so
 * "negate even i" mirrors top-bottom and "negate even j" mirrors left-right.
 */
import type { HashBytes } from '../../matching/hash-bits.js';
import { pdqBitsFromDct } from './hasher.js';

export const DIHEDRAL_VARIANTS = [
  'original',
  'rotate90',
  'rotate180',
  'rotate270',
  'flipX',
  'flipY',
  'flipPlus1',
  'flipMinus1',
] as const;
export type DihedralVariant = (typeof DIHEDRAL_VARIANTS)[number];

interface Transform {
  /** Output is the transpose of the input block. */
  transpose: boolean;
  /** Whether input coefficient (i, j) changes sign. */
  negate: (i: number, j: number) => boolean;
}

const even = (n: number): boolean => (n & 1) === 0;

/**
 * What each variant does to the picture (checked against sharp in dihedral.test.ts):
 * rotate90 = a quarter turn counter-clockwise (sharp rotate(270)), rotate270 = a quarter turn
 * clockwise (sharp rotate(90)), flipX = upside down (sharp flip), flipY = left-right mirror
 * (sharp flop), flipPlus1 = transpose (about the main diagonal), flipMinus1 = about the
 * anti-diagonal.
 */
const TRANSFORMS: Record<DihedralVariant, Transform> = {
  original: { transpose: false, negate: () => false },
  rotate90: { transpose: true, negate: (_i, j) => even(j) },
  rotate180: { transpose: false, negate: (i, j) => !even(i + j) },
  rotate270: { transpose: true, negate: (i) => even(i) },
  flipX: { transpose: false, negate: (i) => even(i) },
  flipY: { transpose: false, negate: (_i, j) => even(j) },
  flipPlus1: { transpose: true, negate: () => false },
  flipMinus1: { transpose: true, negate: (i, j) => !even(i + j) },
};

/** The 16x16 DCT block of the transformed image, from the original's block. */
export function dihedralDct(dct: Float32Array, variant: DihedralVariant, out = new Float32Array(256)): Float32Array {
  const { transpose, negate } = TRANSFORMS[variant];
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const value = negate(i, j) ? -dct[i * 16 + j]! : dct[i * 16 + j]!;
      out[transpose ? j * 16 + i : i * 16 + j] = value;
    }
  }
  return out;
}

/** All eight hashes, in DIHEDRAL_VARIANTS order (the original first). */
export function dihedralHashes(dct: Float32Array): HashBytes[] {
  const scratch = new Float32Array(256);
  return DIHEDRAL_VARIANTS.map((variant) => pdqBitsFromDct(dihedralDct(dct, variant, scratch)));
}

export function dihedralHash(dct: Float32Array, variant: DihedralVariant): HashBytes {
  return pdqBitsFromDct(dihedralDct(dct, variant));
}
