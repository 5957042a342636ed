/**
 * The hashes read a frame in its stored orientation (orientation.ts), while the decode turns it
 * upright for everything else. Turning it back must be exact: for every EXIF orientation, the frame
 * the hashes read is, byte for byte, the frame the same stored pixels decode to without an
 * orientation tag, whether the decode shrank it or not, with alpha or without.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageSample } from '../classifiers/image-input.js';
import type { ImageInputSpec } from '../classifiers/manifest.js';
import { hammingDistance } from '../matching/hash-bits.js';
import { decodeImage } from './decode.js';
import { hashImage } from './index.js';
import { storedOrientation } from './orientation.js';

/** width x height pixels with nothing symmetric about them: a turn or a mirror changes every row. */
function asymmetric(width: number, height: number, channels: 3 | 4): Buffer {
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      pixels[o] = Math.round((x * 255) / width);
      pixels[o + 1] = Math.round((y * 255) / height);
      pixels[o + 2] = (x * 7 + y * 13) % 256 > 128 ? 230 : 20;
      // Fully transparent in the top-left corner (storing its colours), half in the bottom-right.
      if (channels === 4) pixels[o + 3] = x < width / 3 && y < height / 3 ? 0 : x > (2 * width) / 3 && y > height / 2 ? 128 : 255;
    }
  }
  return pixels;
}

/** Byte for byte the same plane, or both absent. */
const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => (a === undefined || b === undefined ? a === b : Buffer.compare(a, b) === 0);

const png = (pixels: Buffer, width: number, height: number, channels: 3 | 4, orientation: number): Promise<Buffer> =>
  sharp(pixels, { raw: { width, height, channels } }).png({ compressionLevel: 1 }).withMetadata({ orientation }).toBuffer();

describe('storedOrientation turns a decoded frame back to its stored orientation, exactly', () => {
  const cases = [
    { name: 'kept at its size (37x23)', width: 37, height: 23, channels: 3 as const },
    { name: 'shrunk evenly (1000x700)', width: 1000, height: 700, channels: 3 as const },
    { name: 'shrunk unevenly, longer than 4:1 (1100x200)', width: 1100, height: 200, channels: 3 as const },
    { name: 'with alpha, kept at its size (41x29)', width: 41, height: 29, channels: 4 as const },
    { name: 'with alpha, shrunk (decoded twice: 900x600)', width: 900, height: 600, channels: 4 as const },
  ];
  for (const { name, width, height, channels } of cases) {
    it(`${name}: in every orientation, the stored pixels the same file decodes to without its tag`, async () => {
      const pixels = asymmetric(width, height, channels);
      const asStored = (await decodeImage(await png(pixels, width, height, channels, 1))).frames[0]!;
      expect(asStored.orientation).toBeUndefined();
      expect(storedOrientation(asStored)).toBe(asStored);
      for (let orientation = 2; orientation <= 8; orientation++) {
        const upright = (await decodeImage(await png(pixels, width, height, channels, orientation))).frames[0]!;
        const label = `orientation ${orientation}`;
        expect(upright.orientation, label).toBe(orientation);
        // The decode still turns the frame upright...
        expect([upright.width, upright.height], label).toEqual(orientation >= 5 ? [asStored.height, asStored.width] : [asStored.width, asStored.height]);
        // ...and turned back it is the stored one, every plane byte for byte.
        const stored = storedOrientation(upright);
        expect([stored.width, stored.height], label).toEqual([asStored.width, asStored.height]);
        expect(same(stored.data, asStored.data), label).toBe(true);
        expect(same(stored.alpha, asStored.alpha), `${label}: alpha`).toBe(true);
        expect(same(stored.alphaWeighted, asStored.alphaWeighted), `${label}: alpha-weighted`).toBe(true);
        expect(upright.data.equals(asStored.data), `${label}: the decode turned it`).toBe(false);
      }
    });
  }

  it('keeps alphaWeighted the same buffer as data when the decode made it so (transparent colours lost)', () => {
    const data = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => i);
    const frame = { data, alphaWeighted: data, alpha: new Uint8Array(8).fill(0), width: 4, height: 2, orientation: 6 };
    const stored = storedOrientation(frame);
    expect(stored.alphaWeighted).toBe(stored.data);
    expect([stored.width, stored.height]).toEqual([2, 4]);
  });
});

describe('hashes are of the stored pixels; classifiers still see the image upright', () => {
  const width = 700;
  const height = 300;
  const pixels = asymmetric(width, height, 3);
  const spec: ImageInputSpec = { kind: 'image', name: 'input', width: 64, height: 64, layout: 'NHWC', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };

  it('an EXIF-turned file hashes (PDQ, blockhash, every dihedral variant) as its stored pixels do, in every orientation', async () => {
    const asStored = hashImage(await decodeImage(await png(pixels, width, height, 3, 1)), { dihedral: true });
    for (let orientation = 2; orientation <= 8; orientation++) {
      const turned = hashImage(await decodeImage(await png(pixels, width, height, 3, orientation)), { dihedral: true });
      expect(hammingDistance(turned.pdq, asStored.pdq), `orientation ${orientation}`).toBe(0);
      expect(hammingDistance(turned.blockhash, asStored.blockhash), `orientation ${orientation}`).toBe(0);
      expect(turned.pdqQuality).toBe(asStored.pdqQuality);
      // Variants are turns and mirrors of the stored pixels, so each is the stored file's own.
      turned.dihedral!.forEach((variant, i) => expect(hammingDistance(variant, asStored.dihedral![i]!), `orientation ${orientation}, variant ${i}`).toBe(0));
    }
  });

  it("the classifier's input of a file at orientation 6 is that of the same picture stored upright", async () => {
    // Within the working size, so that both decodes keep every pixel (no resize to compare).
    const [w, h] = [400, 250];
    const small = asymmetric(w, h, 3);
    const tagged = (await decodeImage(await png(small, w, h, 3, 6))).frames[0]!;
    // The picture as a viewer shows it, written upright with no tag: a quarter turn clockwise.
    const uprightPixels = await sharp(small, { raw: { width: w, height: h, channels: 3 } }).rotate(90).raw().toBuffer();
    const upright = (await decodeImage(await png(uprightPixels, h, w, 3, 1))).frames[0]!;
    expect([tagged.width, tagged.height]).toEqual([upright.width, upright.height]);
    expect(tagged.data.equals(upright.data)).toBe(true);
    expect(imageSample(tagged, spec)).toEqual(imageSample(upright, spec));
  });
});
