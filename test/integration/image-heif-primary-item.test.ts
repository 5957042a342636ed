/**
 * A HEIF or AVIF shows its primary item (pitm), which need not be its first top-level image. A file
 * of more images than the decode samples, whose primary one the spread over the images skips, was
 * hashed without the image every viewer shows (9 images, the primary at position 4: pages
 * [0,1,2,3,5,6,7,8] decoded); and the page-0 image was decoded under the primary one's header, so a
 * huge page 0 behind a small primary item went unchecked against the decode memory budget. The
 * primary page is now always decoded, first (frames[0]), and every other sampled page is checked
 * from its own header.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { decodeImage } from '../../src/images/index.js';
import { sampleHeifPages } from '../../src/images/decode.js';
import { multiImageHeif } from '../harness/heif.js';

const avif = (width: number, height: number, red: number): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background: { r: red, g: 0, b: 0 } } }).avif({ quality: 30, effort: 0 }).toBuffer();

/** `heif` with its primary item (pitm) set to the image at `position` (item IDs are 1-based, in order). */
function withPrimary(heif: Buffer, position: number): Buffer {
  const copy = Buffer.from(heif);
  const at = copy.indexOf('pitm', 0, 'latin1');
  // size, 'pitm', version and flags, then the 16-bit item ID.
  copy.writeUInt16BE(position + 1, at + 8);
  return copy;
}

describe("a HEIF's primary item", () => {
  it('9 images, the primary at position 4: it is decoded, as frames[0], along with 7 others spread over the rest', async () => {
    const images = await Promise.all(Array.from({ length: 9 }, (_, i) => avif(64 + i, 64, i * 30)));
    const heif = withPrimary(multiImageHeif(images), 4);
    expect(await sharp(heif).metadata()).toMatchObject({ format: 'heif', width: 68, pages: 9, pagePrimary: 4 });
    const decoded = await decodeImage(heif);
    expect(decoded).toMatchObject({ format: 'heif', width: 68, height: 64, frameCount: 9 });
    expect(decoded.frames.map((frame) => frame.index)).toEqual([4, 0, 1, 2, 5, 6, 7, 8]);
    // Each frame is its own page's image: its width and its red.
    for (const frame of decoded.frames) {
      expect(frame.width).toBe(64 + frame.index);
      expect(Math.abs(frame.data[0]! - frame.index * 30)).toBeLessThanOrEqual(3);
    }
    // The same file with its first image primary: sampled as before.
    expect((await decodeImage(multiImageHeif(images))).frames.map((frame) => frame.index)).toEqual([0, 1, 2, 3, 5, 6, 7, 8]);
  });

  it('a huge page 0 behind a small primary item is checked against the decode memory budget, and named', async () => {
    const images = [await avif(3000, 3000, 0), ...(await Promise.all(Array.from({ length: 3 }, (_, i) => avif(64, 64, 100 + i))))];
    const heif = withPrimary(multiImageHeif(images), 2);
    const error = await decodeImage(heif, { maxDecodeBytes: 64 * 1024 * 1024 }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(ScanError);
    expect(error).toMatchObject({ code: 'image_too_many_pixels', detail: { width: 3000, height: 3000, page: 0 } });
    expect((error as ScanError).message).toMatch(/^a 3000x3000 HEIF\/AVIF \(page 0\) is decoded whole/);
  });

  it('sampleHeifPages: the primary page first, then the others, at most maxFrames in all', () => {
    const limits = { maxFrames: 8, maxAnimationPixels: 200_000_000 };
    expect(sampleHeifPages(9, 4, 100, limits)).toEqual([4, 0, 1, 2, 5, 6, 7, 8]);
    expect(sampleHeifPages(9, 0, 100, limits)).toEqual([0, 1, 2, 3, 5, 6, 7, 8]);
    expect(sampleHeifPages(9, 8, 100, limits)).toEqual([8, 0, 1, 2, 3, 5, 6, 7]);
    expect(sampleHeifPages(3, 1, 100, limits)).toEqual([1, 0, 2]);
    expect(sampleHeifPages(100, 50, 100, limits)).toHaveLength(8);
    expect(sampleHeifPages(100, 50, 100, limits)[0]).toBe(50);
    expect(sampleHeifPages(9, 4, 100, { ...limits, maxFrames: 1 })).toEqual([4]);
  });
});
