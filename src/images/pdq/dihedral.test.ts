import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { hammingDistance, hexToHash } from '../../matching/hash-bits.js';
import { decodeImage } from '../decode.js';
import { DIHEDRAL_VARIANTS, type DihedralVariant, dihedralHash, dihedralHashes } from './dihedral.js';
import { getPdqBit } from './hash-layout.js';
import { pdqHash } from './hasher.js';

/**
 * Published output of Meta's C++ reference (ThreatExchange pdq/cpp/reg_test/expected/out) for
 * pdq/data/reg-test-input/dih/bridge-1-original.jpg: its eight dihedral hashes, in the
 * reference's order (original, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1).
 * The image itself is not available here; its hashes are enough to check that our bit layout
 * and our sign/transpose tables are the reference's.
 */
const REFERENCE_BRIDGE_DIHEDRAL = [
  'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22',
  'f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f',
  'adad5a64b5a102e55b62a88052dacd5ae63b847fc337b4b766b399361bc93188',
  'a5f0b457248995e8c1065c275aaa56d8b61ba4bdf8fcfc0383c32f8b0bfc4f05',
  'd8f80f31e0f457b00637f5d5038f980fb36ed12a9662c1e233e64c634e9c64dd',
  '8dada49991a1bd1a5362577742da32a5e63b7b80c2364b4866b346c91bc9ce77',
  'f0a1e10271ccc0bd90530b720fff038de34ef1e8ada9a956d6967ade5ea91a50',
  'a5f44ba8a4996a17cd06a1d85aaaa927b61b5b42f8fc03fc83c3d0740bfcb0fa',
].map((hex) => hexToHash(hex, 256));

describe('dihedral variants agree with the PDQ reference', () => {
  it('our tables, applied to the signs of the reference original, give the reference variants', () => {
    // Without the DCT values, stand in each coefficient by its sign (the hash bit) with
    // distinct small magnitudes; sign flips and transposes then predict the variant's bits
    // up to coefficients near the median.
    const original = REFERENCE_BRIDGE_DIHEDRAL[0]!;
    const pseudoDct = Float32Array.from({ length: 256 }, (_, k) => (getPdqBit(original, k) ? 1 : -1) * (1 + ((k * 97) % 256) * 1e-3));
    DIHEDRAL_VARIANTS.forEach((variant, v) => {
      const predicted = dihedralHash(pseudoDct, variant);
      REFERENCE_BRIDGE_DIHEDRAL.forEach((reference, r) => {
        const distance = hammingDistance(predicted, reference);
        if (r === v) expect(distance, `${variant} vs its reference`).toBeLessThanOrEqual(20);
        else expect(distance, `${variant} vs reference ${DIHEDRAL_VARIANTS[r]}`).toBeGreaterThan(90);
      });
    });
  });
});

const fixtures = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'images');

/** What each variant means as a sharp operation on the picture. */
const AS_SHARP: Record<Exclude<DihedralVariant, 'original'>, (image: Sharp) => Sharp> = {
  rotate90: (image) => image.rotate(270),
  rotate180: (image) => image.rotate(180),
  rotate270: (image) => image.rotate(90),
  flipX: (image) => image.flip(),
  flipY: (image) => image.flop(),
  // sharp mirrors before it rotates, whatever the call order: upside down, then a clockwise
  // quarter turn, is the transpose.
  flipPlus1: (image) => image.flip().rotate(90),
  flipMinus1: (image) => image.flop().rotate(90),
};

describe('dihedral variants from the one DCT equal the hash of the transformed image', () => {
  for (const name of ['rings', 'shapes', 'text-lines', 'clouds', 'mosaic']) {
    it(name, async () => {
      const frame = (await decodeImage(readFileSync(join(fixtures, `${name}.jpg`)))).frames[0]!;
      const original = pdqHash(frame);
      const variants = dihedralHashes(original.dct);
      expect(hammingDistance(variants[0]!, original.hash)).toBe(0);
      for (const [variant, transform] of Object.entries(AS_SHARP)) {
        const raw = { width: frame.width, height: frame.height, channels: 3 as const };
        const { data, info } = await transform(sharp(frame.data, { raw })).raw().toBuffer({ resolveWithObject: true });
        const actual = pdqHash({ data, width: info.width, height: info.height }).hash;
        const fromDct = variants[DIHEDRAL_VARIANTS.indexOf(variant as DihedralVariant)]!;
        const distance = hammingDistance(fromDct, actual);
        // The Jarosz window and the grid sampling are not exactly symmetric, so mirrored
        // images differ in a few bits; transposes are exact.
        expect(distance, `${name} ${variant}`).toBeLessThanOrEqual(variant === 'flipPlus1' ? 0 : 24);
        expect(hammingDistance(original.hash, actual), `${name} ${variant} differs from the original`).toBeGreaterThan(64);
      }
    });
  }
});
