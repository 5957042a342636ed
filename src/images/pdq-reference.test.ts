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

describe('PDQ hashes the pixels as stored, EXIF orientation ignored, as the reference does', () => {
  // Meta's references (pdq-photo-hasher through CImg, python-threatexchange through PIL's
  // Image.open) never apply the orientation tag: a partner's hash of a file is of its stored
  // pixels. When the upright frame was hashed, and the dihedral variants relied on to turn it back,
  // a review measured these two 22 (clouds) and 34 (text-lines) bits from the reference's hash at
  // orientations 3 and 6 (the variants' sign flips are not exact turns of the blurred grid).
  const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');
  for (const name of ['text-lines', 'clouds']) {
    it.each([6, 3])(`${name}.jpg re-encoded with EXIF orientation %i hashes exactly as the same stored pixels at orientation 1`, async (orientation) => {
      const source = sharp(readFileSync(join(fixtures, `${name}.jpg`))).jpeg({ quality: 90 });
      const asStored = await source.clone().withMetadata({ orientation: 1 }).toBuffer();
      const tagged = await source.clone().withMetadata({ orientation }).toBuffer();
      expect((await sharp(tagged).metadata()).orientation).toBe(orientation);
      // One encode, two tags: the stored pixels are the same.
      expect((await sharp(tagged, { autoOrient: false }).raw().toBuffer()).equals(await sharp(asStored).raw().toBuffer())).toBe(true);
      const decoded = await decodeImage(tagged);
      // The decode still turns it upright (for classifiers)...
      expect([decoded.width, decoded.height]).toEqual(orientation === 6 ? [480, 640] : [640, 480]);
      // ...the hashes are of the stored pixels, distance 0, variant 'original'.
      const expected = hashImage(await decodeImage(asStored));
      const hashes = hashImage(decoded, { dihedral: true });
      expect(hashToHex(hashes.pdq)).toBe(hashToHex(expected.pdq));
      expect(hammingDistance(hashes.dihedral![0]!, expected.pdq)).toBe(0);
      expect(hashes.pdqQuality).toBe(expected.pdqQuality);
      expect(hashToHex(hashes.blockhash)).toBe(hashToHex(expected.blockhash));
    });
  }
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
