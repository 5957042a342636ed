import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { hammingDistance, hashToHex, hexToHash } from '../matching/hash-bits.js';
import { decodeImage } from './decode.js';
import { hashImage } from './index.js';

const reference = join(import.meta.dirname, '..', '..', 'fixtures', 'images', 'reference');

describe('PDQ against the reference implementation', () => {
  it("gives Meta's published hash, bit for bit, for the python-threatexchange test image (RGBA PNG with an ICC profile)", async () => {
    const expected = 'ad64cd9875e131a177b1f2a0d6b38ae1de9ea80421e4c51dde1b0363deba3466';
    const hashes = hashImage(await decodeImage(readFileSync(join(reference, 'threatexchange-pdq-26x28.png'))));
    expect(hashToHex(hashes.pdq)).toBe(expected);
    expect(hammingDistance(hashes.pdq, hexToHash(expected, 256))).toBe(0);
    expect(hashes.pdqQuality).toBe(100);
  });
});

describe('decode keeps the stored values of RGB and grey images', () => {
  // A smooth gradient, so that a colour conversion would move most values.
  const width = 64;
  const height = 48;
  const pixels = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) pixels.set([(p % width) * 4, Math.floor(p / width) * 5, 200 - (p % width) * 2], p * 3);

  it('ignores an embedded ICC profile (Display P3): the pixels are the ones stored, as the reference hashes them', async () => {
    const tagged = await sharp(pixels, { raw: { width, height, channels: 3 } }).withIccProfile('p3').png().toBuffer();
    const stored = await sharp(tagged, { ignoreIcc: true }).raw().toBuffer();
    const colourManaged = await sharp(tagged).raw().toBuffer();
    expect(stored.equals(colourManaged)).toBe(false);
    expect((await decodeImage(tagged)).frames[0]!.data.equals(stored)).toBe(true);
  });

  it('still converts CMYK to sRGB (there are no stored RGB values to keep)', async () => {
    const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 220, g: 30, b: 30 } } }).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(red).metadata()).space).toBe('cmyk');
    const [r, g, b] = (await decodeImage(red)).frames[0]!.data;
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });
});
