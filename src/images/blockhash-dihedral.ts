/**
 * The eight dihedral variants (rotations and reflections) of a blockhash, in DIHEDRAL_VARIANTS
 * order and with PDQ's meanings (pdq/dihedral.ts), from two hashes: the picture's and its
 * transpose's. Blockhash thresholds each block against the median of its horizontal quarter band
 * (blockhash.ts). A mirror reverses each block row, an upside-down flip reverses the block rows
 * (band i becomes band 3 - i, its rows reversed) and a half turn does both: every band keeps its
 * multiset of block values, so its median, and the variant's hash is the original's bits moved
 * (no re-hashing). A quarter turn or a diagonal flip moves block columns into rows, which changes
 * the bands: those four are the same moves applied to the hash of the transposed picture (its
 * block values are the original's transposed, so blockhash.ts thresholds those once more).
 *
 * Exactness: the moved hash is the transformed picture's own hash, bit for bit, at any size, for
 * a grid a power of two a side (16, the default and the hash sets' 256 bits; 8; 32): the block
 * edges fall at multiples of width / bits and height / bits, exact in binary, so every share of a cut pixel, every
 * block sum and every median is exact, and the turned picture's are the same values moved. On
 * other grids (12) the shares are rounded, and where a block ties with its band's dark median (a
 * flat dark band) the picture's hash itself hangs on that rounding, turned or not: the moved hash
 * can differ there (measured 0 bits on photos, up to 64 on synthetic flat-dark pictures). A
 * picture narrower or lower than the grid is stretched by nearest neighbour first, which does not
 * mirror: blockhash.ts hashes its variants from moved pixels (dihedralPixels) instead.
 */
import type { HashBytes } from '../matching/hash-bits.js';
import type { RgbImage } from './blockhash.js';
import { DIHEDRAL_VARIANTS, type DihedralVariant } from './pdq/dihedral.js';

/**
 * Where block (row, column) of the variant's grid (side blocks a side) comes from: from the
 * picture's hash, or the transposed picture's (`transposed`), at (row', column'), with rows and/or
 * columns reversed. In picture terms (sharp names as in pdq/dihedral.ts): flipX = upside down
 * (sharp flip), flipY = left-right mirror (sharp flop), rotate90 = a quarter turn counter-clockwise
 * (sharp rotate(270)) = the transpose upside down, rotate270 = a quarter turn clockwise (sharp
 * rotate(90)) = the transpose mirrored, flipPlus1 = the transpose, flipMinus1 = the transpose
 * turned half round (about the anti-diagonal).
 */
const MOVES: Record<DihedralVariant, { transposed: boolean; reverseRows: boolean; reverseColumns: boolean }> = {
  original: { transposed: false, reverseRows: false, reverseColumns: false },
  rotate90: { transposed: true, reverseRows: true, reverseColumns: false },
  rotate180: { transposed: false, reverseRows: true, reverseColumns: true },
  rotate270: { transposed: true, reverseRows: false, reverseColumns: true },
  flipX: { transposed: false, reverseRows: true, reverseColumns: false },
  flipY: { transposed: false, reverseRows: false, reverseColumns: true },
  flipPlus1: { transposed: true, reverseRows: false, reverseColumns: false },
  flipMinus1: { transposed: true, reverseRows: true, reverseColumns: true },
};

function bitAt(hash: HashBytes, bit: number): number {
  return (hash[bit >> 3]! >> (7 - (bit & 7))) & 1;
}

/** The hash of `variant` of the picture, from its hash and its transposed picture's (row-major, MSB first). */
export function blockhashVariant(hash: HashBytes, transposed: HashBytes, variant: DihedralVariant): HashBytes {
  const side = Math.round(Math.sqrt(hash.length * 8));
  if (side * side !== hash.length * 8 || transposed.length !== hash.length) throw new RangeError(`not a square blockhash grid: ${hash.length * 8} bits`);
  const { transposed: fromTransposed, reverseRows, reverseColumns } = MOVES[variant];
  const source = fromTransposed ? transposed : hash;
  const out = new Uint8Array(hash.length);
  for (let row = 0; row < side; row++) {
    const fromRow = reverseRows ? side - 1 - row : row;
    for (let column = 0; column < side; column++) {
      const fromColumn = reverseColumns ? side - 1 - column : column;
      const bit = row * side + column;
      if (bitAt(source, fromRow * side + fromColumn)) out[bit >> 3]! |= 0x80 >> (bit & 7);
    }
  }
  return out;
}

/**
 * The picture turned or mirrored as `variant` names it, by moving pixels (exact, no resampling):
 * output pixel (x, y) is input pixel source(x, y). For pictures too small to move blocks
 * (blockhash.ts stretches them by nearest neighbour, which does not mirror exactly).
 */
export function dihedralPixels(image: RgbImage, variant: DihedralVariant): RgbImage {
  const { width: w, height: h } = image;
  const turned = MOVES[variant].transposed;
  const width = turned ? h : w;
  const height = turned ? w : h;
  const { reverseRows, reverseColumns } = MOVES[variant];
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    // Position in the (transposed, when turned) grid before rows and columns are reversed.
    const ty = reverseRows ? height - 1 - y : y;
    for (let x = 0; x < width; x++) {
      const tx = reverseColumns ? width - 1 - x : x;
      const [sx, sy] = turned ? [ty, tx] : [tx, ty];
      const from = (sy * w + sx) * 3;
      data[(y * width + x) * 3] = image.data[from]!;
      data[(y * width + x) * 3 + 1] = image.data[from + 1]!;
      data[(y * width + x) * 3 + 2] = image.data[from + 2]!;
    }
  }
  return { data, width, height };
}

/** All eight, in DIHEDRAL_VARIANTS order (the hash itself first). */
export function blockhashVariants(hash: HashBytes, transposed: HashBytes): HashBytes[] {
  return DIHEDRAL_VARIANTS.map((variant) => (variant === 'original' ? hash : blockhashVariant(hash, transposed, variant)));
}
