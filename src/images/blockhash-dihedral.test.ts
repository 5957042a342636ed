import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { hammingDistance, hashToHex, hexToHash } from '../matching/hash-bits.js';
import { blankBlockhashes, blockhash, blockhashBitsFromBlank, blockhashWithVariants, type RgbImage } from './blockhash.js';
import { blockhashVariant, blockhashVariants, dihedralPixels } from './blockhash-dihedral.js';
import { decodeImage } from './decode.js';
import { DIHEDRAL_VARIANTS, type DihedralVariant } from './pdq/dihedral.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');

/**
 * The picture turned or mirrored as `variant` names it (pdq/dihedral.ts meanings), by moving
 * pixels: exact, no resampling. Output pixel (x, y) comes from input pixel source(x, y).
 */
function transformPixels(image: RgbImage, variant: DihedralVariant): RgbImage {
  const { width: w, height: h } = image;
  const turns = !['original', 'rotate180', 'flipX', 'flipY'].includes(variant);
  const width = turns ? h : w;
  const height = turns ? w : h;
  const source: Record<DihedralVariant, (x: number, y: number) => [number, number]> = {
    original: (x, y) => [x, y],
    rotate180: (x, y) => [w - 1 - x, h - 1 - y],
    flipX: (x, y) => [x, h - 1 - y],
    flipY: (x, y) => [w - 1 - x, y],
    // A quarter turn counter-clockwise: the right column becomes the top row.
    rotate90: (x, y) => [w - 1 - y, x],
    // A quarter turn clockwise: the left column, bottom up, becomes the top row.
    rotate270: (x, y) => [y, h - 1 - x],
    flipPlus1: (x, y) => [y, x],
    flipMinus1: (x, y) => [w - 1 - y, h - 1 - x],
  };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = source[variant](x, y);
      data.set(image.data.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

/** What each variant means as a sharp operation (as pdq/dihedral.test.ts checks them for PDQ). */
const AS_SHARP: Record<Exclude<DihedralVariant, 'original'>, (image: Sharp) => Sharp> = {
  rotate90: (image) => image.rotate(270),
  rotate180: (image) => image.rotate(180),
  rotate270: (image) => image.rotate(90),
  flipX: (image) => image.flip(),
  flipY: (image) => image.flop(),
  flipPlus1: (image) => image.flip().rotate(90),
  flipMinus1: (image) => image.flop().rotate(90),
};

async function fixture(name: string, size?: { width: number; height: number }): Promise<RgbImage> {
  if (!size) return (await decodeImage(readFileSync(join(fixtures, `${name}.jpg`)))).frames[0]!;
  const { data, info } = await sharp(join(fixtures, `${name}.jpg`)).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Distance of each variant's moved hash from the hash of the picture really turned (pixel moves). */
function variantDistances(image: RgbImage, bits = 16): number[] {
  const { hash, variants } = blockhashWithVariants(image, bits);
  expect(hashToHex(hash)).toBe(hashToHex(blockhash(image, bits)));
  return DIHEDRAL_VARIANTS.map((variant, v) => hammingDistance(variants[v]!, blockhash(transformPixels(image, variant), bits)));
}

/** Up to four discs of random grey over a flat dark or light background (blocks tying with their band's median). */
function blobs(width: number, height: number, seed: number, dark: boolean): RgbImage {
  const data = new Uint8Array(width * height * 3).fill(dark ? 40 : 200);
  let x = seed >>> 0 || 1;
  const next = () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
  for (let blob = 0; blob < 4; blob++) {
    const cx = next() * width;
    const cy = next() * height;
    const r = 2 + next() * Math.min(width, height) * 0.3;
    const value = Math.floor(next() * 256);
    for (let py = 0; py < height; py++) for (let px = 0; px < width; px++) if ((px - cx) ** 2 + (py - cy) ** 2 < r * r) data.fill(value, (py * width + px) * 3, (py * width + px) * 3 + 3);
  }
  return { data, width, height };
}

function randomHash(seed: number, bytes = 32): Uint8Array {
  let x = seed >>> 0 || 1;
  return Uint8Array.from({ length: bytes }, () => ((x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) >>> 24));
}

describe('blockhash variants are bit moves (pure)', () => {
  it('original is the hash; each variant is a permutation; the four without a turn keep bits-from-blank', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), (a, b) => {
        const hash = randomHash(a);
        const transposed = randomHash(b);
        const variants = blockhashVariants(hash, transposed);
        expect(variants).toHaveLength(8);
        expect(hashToHex(variants[0]!)).toBe(hashToHex(hash));
        const ones = (h: Uint8Array) => [...h].reduce((n, byte) => n + ((byte.toString(2).match(/1/g) ?? []).length), 0);
        DIHEDRAL_VARIANTS.forEach((variant, v) => {
          const turned = ['rotate90', 'rotate270', 'flipPlus1', 'flipMinus1'].includes(variant);
          const from = turned ? transposed : hash;
          expect(ones(variants[v]!)).toBe(ones(from));
          // Moves within and between bands (band i to 3 - i), and a transpose: bits from blank stay.
          expect(blockhashBitsFromBlank(variants[v]!)).toBe(blockhashBitsFromBlank(from));
        });
        // Undoing: mirroring twice, flipping twice, turning half round twice give the hash back.
        for (const variant of ['flipX', 'flipY', 'rotate180'] as const) {
          const once = blockhashVariant(hash, transposed, variant);
          expect(hashToHex(blockhashVariant(once, once, variant))).toBe(hashToHex(hash));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('moves blocks as the picture moves: one marked block in each corner', () => {
    // Block (row 0, column 1) set: 0100... in the first 16-bit row.
    const hash = hexToHash('4000' + '0000'.repeat(15), 256);
    // Transposed: block (row 1, column 0).
    const transposed = hexToHash('0000' + '8000' + '0000'.repeat(14), 256);
    const where = (h: Uint8Array) => {
      const bit = [...Array(256).keys()].find((k) => (h[k >> 3]! >> (7 - (k & 7))) & 1)!;
      return [Math.floor(bit / 16), bit % 16];
    };
    const expected: Record<DihedralVariant, [number, number]> = {
      original: [0, 1],
      flipY: [0, 14], // mirrored left-right
      flipX: [15, 1], // upside down
      rotate180: [15, 14],
      flipPlus1: [1, 0], // about the main diagonal
      rotate90: [14, 0], // counter-clockwise: the top row goes to the left column, bottom up
      rotate270: [1, 15], // clockwise: the top row goes to the right column
      flipMinus1: [14, 15],
    };
    for (const variant of DIHEDRAL_VARIANTS) expect(where(blockhashVariant(hash, transposed, variant)), variant).toEqual(expected[variant]);
  });
});

describe('blockhash variants equal the hash of the picture really turned', () => {
  // Whole-pixel blocks (512 x 512 and 384 x 256 cut into 16 x 16): integer sums, so exact.
  for (const name of ['clouds', 'mosaic', 'shapes', 'rings', 'text-lines']) {
    it(`${name} as decoded: all eight exact`, async () => {
      expect(variantDistances(await fixture(name))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    });
  }

  it('non-square, whole-pixel blocks (384 x 256, 256 x 640): exact', async () => {
    expect(variantDistances(await fixture('clouds', { width: 384, height: 256 }))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(variantDistances(await fixture('mosaic', { width: 256, height: 640 }))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  // Block edges cutting pixels (weighted sums, float rounding): exact on these photos too.
  for (const [name, width, height] of [
    ['clouds', 501, 333],
    ['mosaic', 333, 517],
    ['shapes', 203, 611],
    ['text-lines', 999, 37],
    ['rings', 17, 23],
  ] as const) {
    it(`${name} at ${width} x ${height} (blocks cut pixels): exact`, async () => {
      expect(variantDistances(await fixture(name, { width, height }))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    });
  }

  it('other grid sizes on a cut size: 8 and 32 a side exact; 12 on this photo too', async () => {
    const image = await fixture('shapes', { width: 301, height: 199 });
    expect(variantDistances(image, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(variantDistances(image, 32)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // A grid that is not a power of two cuts pixels at inexact shares: the turned picture's own
    // hash then depends on float rounding wherever a block ties with a dark median (a flat dark
    // band), so the moved hash can differ there (the hash as computed is as uncertain). Not on a photo.
    expect(variantDistances(image, 12)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('tiny pictures (under 16 pixels a side, stretched to hash) and strips: exact', () => {
    for (const [width, height] of [
      [3, 5],
      [5, 40],
      [15, 16],
      [7, 300],
    ] as const) {
      expect(variantDistances(blobs(width, height, width * 31 + height, true)), `${width} x ${height}`).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    }
  });

  // 16 (and any power of two) a side: width / 16 is exact in binary, so every pixel share, block
  // sum and median is exact and the moved hash is the turned picture's, bit for bit, at any size.
  // Pictures under 16 pixels a side are stretched by nearest neighbour, which does not mirror:
  // their variants are hashed from moved pixels instead.
  it('random pictures of random sizes, 2 to 90 pixels a side, flat dark or light backgrounds: exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 90 }), fc.integer({ min: 2, max: 90 }), fc.integer(), fc.boolean(), (width, height, seed, dark) => {
        expect(variantDistances(blobs(width, height, seed, dark))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it('the pixel moves are sharp\'s rotate, flip and flop', async () => {
    const image = blobs(37, 23, 5, false);
    for (const [variant, transform] of Object.entries(AS_SHARP)) {
      const raw = { width: image.width, height: image.height, channels: 3 as const };
      const { data } = await transform(sharp(image.data, { raw })).raw().toBuffer({ resolveWithObject: true });
      expect(Buffer.from(dihedralPixels(image, variant as DihedralVariant).data).equals(data), variant).toBe(true);
      expect(Buffer.from(transformPixels(image, variant as DihedralVariant).data).equals(data), variant).toBe(true);
    }
  });

  it('sharp turns and mirrors of the decoded pixels (rotate, flip, flop) agree with the moved hashes', async () => {
    for (const [name, size] of [
      ['clouds', undefined],
      ['mosaic', { width: 333, height: 517 }],
    ] as const) {
      const image = await fixture(name, size);
      const { variants } = blockhashWithVariants(image);
      for (const [variant, transform] of Object.entries(AS_SHARP)) {
        const raw = { width: image.width, height: image.height, channels: 3 as const };
        const { data, info } = await transform(sharp(image.data, { raw })).raw().toBuffer({ resolveWithObject: true });
        const turned = blockhash({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height });
        expect(hammingDistance(turned, variants[DIHEDRAL_VARIANTS.indexOf(variant as DihedralVariant)]!), `${name} ${variant}`).toBe(0);
      }
    }
  });
});

describe('bits from blank counts blank hashes of both orientations (blankBlockhashes)', () => {
  /** The 16 x 16 bits transposed: with it, every variant of blockhashVariant is a pure bit move. */
  function transposeBits(hash: Uint8Array): Uint8Array {
    const out = new Uint8Array(hash.length);
    for (let row = 0; row < 16; row++) {
      for (let column = 0; column < 16; column++) {
        const from = column * 16 + row;
        if ((hash[from >> 3]! >> (7 - (from & 7))) & 1) out[(row * 16 + column) >> 3]! |= 0x80 >> ((row * 16 + column) & 7);
      }
    }
    return out;
  }
  const bitMoves = (hash: Uint8Array) => DIHEDRAL_VARIANTS.map((variant) => blockhashVariant(hash, transposeBits(hash), variant));

  it('the blank hashes are closed under the eight bit moves of the variants (bands and stripes swap on a transpose)', () => {
    const blanks = new Set(blankBlockhashes().map(hashToHex));
    expect(blanks.size).toBe(510);
    for (const blank of blankBlockhashes()) for (const moved of bitMoves(blank)) expect(blanks.has(hashToHex(moved))).toBe(true);
  });

  it('so bits from blank is the same for every bit move of a hash', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 255 }), (seed, noise) => {
        // Random hashes, and blank ones with a few bits changed (near blank, where it matters).
        const base = seed % 2 ? randomHash(seed) : blankBlockhashes()[Math.abs(seed) % 510]!;
        const hash = Uint8Array.from(base);
        for (let bit = noise % 7; bit < 256; bit += 11 + (noise % 29)) hash[bit >> 3]! ^= 0x80 >> (bit & 7);
        const fromBlank = blockhashBitsFromBlank(hash);
        for (const moved of bitMoves(hash)) expect(blockhashBitsFromBlank(moved)).toBe(fromBlank);
      }),
      { numRuns: 200 },
    );
  });

  /** A width x height picture of `colour(x, y)` (grey levels). */
  function picture(width: number, height: number, grey: (x: number, y: number) => number): RgbImage {
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.fill(grey(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
    return { data, width, height };
  }
  const STORED = ['original', 'rotate180', 'flipX', 'flipY'];

  it.each([
    // A two-tone flag (Ukraine, Poland, Indonesia): its quarter turns hash to vertical stripes, 128
    // bits from every horizontal blank hash (the defect: they matched a photo at 52).
    ['two-tone flag, bands across', 0, 0, picture(600, 400, (_x, y) => (y < 200 ? 60 : 220))],
    ['two-tone flag split left and right', 0, 0, picture(600, 400, (x) => (x < 300 ? 60 : 220))],
    // A horizon off the block edges (sky over sea at 55 %): one block row mixed.
    ['horizon, sky over sea', 16, 0, picture(600, 400, (_x, y) => (y < 220 ? 200 : 50))],
    // Three bands across: their edges fall inside the quarter bands, each band split in halves
    // (upper rows darker): a gradient's pattern, blank (it was 64 and 32 from the flat blank hashes).
    ['three-band flag, bands across', 0, 0, picture(600, 400, (_x, y) => (y < 133 ? 20 : y < 267 ? 120 : 240))],
  ] as Array<[string, number, number, RgbImage]>)('%s: %i bits from blank as stored (mirrored, flipped, half turned), %i turned a quarter', (_name, stored, turned, image) => {
    const { variants } = blockhashWithVariants(image);
    DIHEDRAL_VARIANTS.forEach((variant, v) => expect(blockhashBitsFromBlank(variants[v]!), variant).toBe(STORED.includes(variant) ? stored : turned));
  });

  it.each([
    ['top to bottom, darkening', (_x: number, y: number) => 240 - Math.floor(y / 4)],
    ['top to bottom, brightening', (_x: number, y: number) => 10 + Math.floor(y / 4)],
    ['left to right, darkening', (x: number) => 240 - Math.floor(x / 4)],
  ] as Array<[string, (x: number, y: number) => number]>)('a smooth gradient (%s) is blank in every variant', (_name, grey) => {
    // Each band's rows step in brightness: its upper rows on one side of the band's median, its
    // lower rows on the other (00000000ffffffff or ffffffff00000000 in every band: 128 from every
    // flat blank hash, the defect); turned, each stripe's columns do: a gradient's pattern either way.
    const { variants } = blockhashWithVariants(picture(512, 512, grey));
    DIHEDRAL_VARIANTS.forEach((variant, v) => expect(blockhashBitsFromBlank(variants[v]!), variant).toBe(0));
  });

  it('bits from blank is the distance to the nearest of blankBlockhashes (brute force, near the gradient patterns too)', () => {
    const blanks = blankBlockhashes();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 509 }), fc.integer({ min: 0, max: 80 }), fc.integer(), (b, flips, seed) => {
        const hash = Uint8Array.from(blanks[b]!);
        const random = randomHash(seed);
        for (let i = 0; i < flips; i++) {
          const bit = (random[i % 32]! * 7 + i * 53) & 255;
          hash[bit >> 3]! ^= 0x80 >> (bit & 7);
        }
        expect(blockhashBitsFromBlank(hash)).toBe(Math.min(...blanks.map((blank) => hammingDistance(hash, blank))));
      }),
      { numRuns: 200 },
    );
  });
});
