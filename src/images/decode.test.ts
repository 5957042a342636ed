import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { manyFramesGif } from '../../scripts/make-fixtures.js';
import { multiImageHeif } from '../../test/harness/heif.js';
import { ScanError, type ErrorCode } from '../errors.js';
import { decodeImage, fromSharpError, MAX_FRAME_INDEX, sampleFrameIndices } from './decode.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');
const bad = (name: string): Buffer => readFileSync(join(fixtures, 'bad', name));

/** Every bad input must fail fast: well under the decode's own 10 s budget. */
const FAST_MS = 2_000;

async function expectCode(work: Promise<unknown>, code: ErrorCode): Promise<ScanError> {
  const started = performance.now();
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ScanError);
  expect((error as ScanError).code).toBe(code);
  expect(performance.now() - started).toBeLessThan(FAST_MS);
  return error as ScanError;
}

describe('decodeImage refuses bad input with its error code, quickly', () => {
  it('zero bytes: image_empty', async () => {
    await expectCode(decodeImage(bad('zero.bin')), 'image_empty');
  });

  it('random bytes: image_unsupported_format', async () => {
    await expectCode(decodeImage(bad('random.bin')), 'image_unsupported_format');
  });

  it('truncated JPEG: image_corrupt', async () => {
    await expectCode(decodeImage(bad('truncated.jpg')), 'image_corrupt');
  });

  it('PNG header claiming 100000x100000: image_too_many_pixels from the header alone', async () => {
    const before = process.memoryUsage().rss;
    const error = await expectCode(decodeImage(bad('huge-header.png')), 'image_too_many_pixels');
    expect(error.message).toMatch(/pixel limit/);
    // Nothing near 30 GB (or even 100 MB) was allocated.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('SVG: image_format_refused, caught by the sniff', async () => {
    const error = await expectCode(decodeImage(bad('image.svg')), 'image_format_refused');
    expect(error.detail).toEqual({ format: 'svg' });
  });

  it('SVG behind a long comment, and other markup: refused as markup before any parser runs', async () => {
    const svg = `<!--${'x'.repeat(5000)}--><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>`;
    const error = await expectCode(decodeImage(Buffer.from(svg)), 'image_format_refused');
    expect(error.detail).toEqual({ format: 'markup' });
    await expectCode(decodeImage(Buffer.from('\ufeff  <html><body>hi</body></html>')), 'image_format_refused');
  });

  it('SVG behind any ASCII whitespace (form feed, vertical tab): refused by the sniff, not left to the SVG loader', async () => {
    for (const space of ['\f', '\v', ' \t\r\n\f\v']) {
      const svg = Buffer.from(`${space}<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="red"/></svg>`);
      const error = await expectCode(decodeImage(svg), 'image_format_refused');
      expect(error.detail).toEqual({ format: 'svg' });
    }
  });

  it('PDF and PostScript: image_format_refused', async () => {
    await expectCode(decodeImage(Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n')), 'image_format_refused');
    await expectCode(decodeImage(Buffer.from('%!PS-Adobe-3.0\nshowpage\n')), 'image_format_refused');
  });

  it('a real image over a configured pixel limit: image_too_many_pixels', async () => {
    await expectCode(decodeImage(readFileSync(join(fixtures, 'rings.jpg')), { maxPixels: 640 * 480 - 1 }), 'image_too_many_pixels');
  });

  it('more bytes than the cap: payload_too_large, before parsing', async () => {
    await expectCode(decodeImage(bad('truncated.jpg'), { maxInputBytes: 1000 }), 'payload_too_large');
  });

  it('a raster format outside allowedFormats: image_unsupported_format', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toBuffer();
    await expectCode(decodeImage(png, { allowedFormats: ['jpeg'] }), 'image_unsupported_format');
  });

  it('a decode slower than the budget: image_timeout', async () => {
    const big = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    await expectCode(decodeImage(big, { timeoutMs: 5 }), 'image_timeout');
  });
});

/**
 * `image` with the dimensions its header declares changed (PNG IHDR, JPEG SOF), its pixel data
 * left as it is: a small file whose header promises a large image, refused from the header alone.
 */
function declaring(image: Buffer, width: number, height: number): Buffer {
  const patched = Buffer.from(image);
  if (patched.toString('latin1', 12, 16) === 'IHDR') {
    patched.writeUInt32BE(width, 16);
    patched.writeUInt32BE(height, 20);
    patched.writeUInt32BE(crc32(patched.subarray(12, 29)), 29);
    return patched;
  }
  for (let at = 2; at < patched.length - 9; at++) {
    // SOF0..SOF2 (baseline, extended, progressive): marker, length, precision, height, width.
    if (patched[at] === 0xff && patched[at + 1]! >= 0xc0 && patched[at + 1]! <= 0xc2) {
      patched.writeUInt16BE(height, at + 5);
      patched.writeUInt16BE(width, at + 7);
      return patched;
    }
  }
  throw new Error('no PNG or JPEG header to patch');
}

describe('decodeImage refuses images that must be decoded whole over the memory budget, from the header', () => {
  const solid = (width: number, height: number, channels: 3 | 4) => sharp({ create: { width, height, channels, background: { r: 120, g: 130, b: 140, alpha: 1 } } });

  async function expectRefusedWithoutAllocating(image: Buffer, held: string): Promise<void> {
    const before = process.memoryUsage().rss;
    const error = await expectCode(decodeImage(image), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ held, limitBytes: 256 * 1024 * 1024 });
    expect(error.message).toMatch(/decode memory budget/);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  }

  it('an interlaced 16-bit RGBA PNG of 7000x7000 (392 MB held whole, within the pixel limit)', async () => {
    const png = await solid(64, 64, 4).toColourspace('rgb16').png({ progressive: true }).toBuffer();
    await expectRefusedWithoutAllocating(declaring(png, 7000, 7000), 'interlaced PNG');
  });

  it('a 4:4:4 progressive JPEG of 7000x7000 (294 MB of DCT coefficients)', async () => {
    const jpeg = await solid(64, 64, 3).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer();
    await expectRefusedWithoutAllocating(declaring(jpeg, 7000, 7000), 'progressive JPEG');
  });

  it('a 4000x4000 AVIF of 524 bytes (libheif holds about 290 MB)', async () => {
    const avif = await solid(4000, 4000, 3).avif({ quality: 30, effort: 0 }).toBuffer();
    await expectRefusedWithoutAllocating(avif, 'HEIF/AVIF');
  });

  it('a HEIF whose primary image is 64x64 and whose second is 7000x7000 (each image is checked, not only the first)', async () => {
    const small = await solid(64, 64, 3).avif({ quality: 30, effort: 0 }).toBuffer();
    const huge = await solid(7000, 7000, 3).avif({ quality: 30, effort: 0 }).toBuffer();
    const heif = multiImageHeif([small, huge]);
    expect(await sharp(heif).metadata()).toMatchObject({ format: 'heif', width: 64, height: 64, pages: 2 });
    await expectRefusedWithoutAllocating(heif, 'HEIF/AVIF');
    const error = await expectCode(decodeImage(heif), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ width: 7000, height: 7000, page: 1 });
    expect(error.message).toMatch(/7000x7000 HEIF\/AVIF \(page 1\) is decoded whole/);
    // The same file with a second image that fits decodes both.
    const both = await decodeImage(multiImageHeif([small, await solid(300, 200, 3).avif({ quality: 30, effort: 0 }).toBuffer()]));
    expect(both.frames.map((frame) => [frame.width, frame.height])).toEqual([
      [64, 64],
      [300, 200],
    ]);
  });

  it('a HEIF image past the pixel limit after a small primary one is refused', async () => {
    const small = await solid(64, 64, 3).avif({ quality: 30, effort: 0 }).toBuffer();
    const big = await solid(2000, 2000, 3).avif({ quality: 30, effort: 0 }).toBuffer();
    // Reading the image's header already refuses it (sharp checks the pixel limit there too).
    await expectCode(decodeImage(multiImageHeif([small, big]), { maxPixels: 1_000_000 }), 'image_too_many_pixels');
    await expect(decodeImage(multiImageHeif([small, big]), { maxPixels: 4_000_000 })).resolves.toMatchObject({ frameCount: 2 });
  });

  it('counts the whole image only for decodes that hold it: the same pixels non-interlaced stream their rows, and fit a budget the interlaced file does not', async () => {
    const pixels = solid(1500, 1500, 4).toColourspace('rgb16');
    const interlaced = await pixels.clone().png({ progressive: true }).toBuffer();
    const sequential = await pixels.clone().png().toBuffer();
    const budget = { maxDecodeBytes: 24 * 1024 * 1024 };
    const error = await expectCode(decodeImage(interlaced, budget), 'image_too_many_pixels');
    // The whole image, and 1,500 rows' worth streaming through the shrink.
    expect(error.detail).toEqual({ width: 1500, height: 1500, held: 'interlaced PNG', decodeBytes: 1500 * 1500 * 8 + 1500 * 8 * 1500, limitBytes: budget.maxDecodeBytes });
    expect((await decodeImage(sequential, budget)).frames[0]).toMatchObject({ width: 512, height: 512 });
    expect((await decodeImage(interlaced)).frames[0]).toMatchObject({ width: 512, height: 512 });
  });

  it('a 7000x7000 JPEG-compressed TIFF of 770 KB in one strip (libvips decodes the strip whole: 294 MB, and its rows 32 MB); the same in sharp\'s 256-row strips decodes', async () => {
    const pixels = solid(7000, 7000, 3);
    const oneStrip = await pixels.clone().tiff({ compression: 'jpeg', tileHeight: 7000 }).toBuffer();
    expect(oneStrip.length).toBeLessThan(1_000_000);
    await expectRefusedWithoutAllocating(oneStrip, 'TIFF strip');
    const error = await expectCode(decodeImage(oneStrip), 'image_too_many_pixels');
    expect(error.message).toBe('a 7000x7000 TIFF is decoded a 7000x7000 strip at a time: about 310 MiB, over the 256 MiB decode memory budget');
    expect((await decodeImage(await pixels.clone().tiff({ compression: 'jpeg' }).toBuffer())).frames[0]).toMatchObject({ width: 512, height: 512 });
  });

  it('TIFF strips count when decoded whole (JPEG), not when read a scanline at a time (deflate): the same pixels in one strip', async () => {
    const pixels = solid(1500, 1500, 3);
    const budget = { maxDecodeBytes: 12 * 1024 * 1024 };
    const jpegStrip = await pixels.clone().tiff({ compression: 'jpeg', tileHeight: 1500 }).toBuffer();
    const error = await expectCode(decodeImage(jpegStrip, budget), 'image_too_many_pixels');
    expect(error.detail).toEqual({
      width: 1500,
      height: 1500,
      held: 'TIFF strip',
      unit: { kind: 'strip', width: 1500, height: 1500 },
      page: 0,
      decodeBytes: 2 * 1500 * 1500 * 3 + 1500 * 3 * 1500,
      limitBytes: budget.maxDecodeBytes,
    });
    for (const fits of [pixels.clone().tiff({ compression: 'deflate', tileHeight: 1500 }), pixels.clone().tiff({ compression: 'jpeg' })]) {
      expect((await decodeImage(await fits.toBuffer(), budget)).frames[0]).toMatchObject({ width: 512, height: 512 });
    }
  });

  it('TIFF tiles: two rows of 1024x1024 tiles (all 2000 rows here) are over a budget that 256x256 tiles fit', async () => {
    const pixels = solid(2000, 2000, 3);
    const budget = { maxDecodeBytes: 16 * 1024 * 1024 };
    const tiled = (size: number) => pixels.clone().tiff({ compression: 'deflate', tile: true, tileWidth: size, tileHeight: size }).toBuffer();
    const error = await expectCode(decodeImage(await tiled(1024), budget), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ held: 'TIFF tile', unit: { kind: 'tile', width: 1024, height: 1024 }, decodeBytes: 2000 * 2000 * 3 + 1024 * 1024 * 3 + 2000 * 3 * 1500 });
    expect(error.message).toMatch(/decoded a 1024x1024 tile at a time.*decode memory budget/);
    expect((await decodeImage(await tiled(256), budget)).frames[0]).toMatchObject({ width: 512, height: 512 });
  });

  it('a TIFF whose layout cannot be trusted (a second RowsPerStrip that disagrees, which libtiff accepts) is budgeted as the worst layout', async () => {
    const file = await solid(600, 600, 3).tiff({ compression: 'deflate' }).toBuffer();
    const budget = { maxDecodeBytes: 4 * 1024 * 1024 };
    expect((await decodeImage(file, budget)).frames[0]).toMatchObject({ width: 512, height: 512 });
    // ResolutionUnit (a SHORT) becomes a RowsPerStrip of 2.
    const patched = Buffer.from(file);
    const ifd = patched.readUInt32LE(4);
    for (let entry = ifd + 2; entry < ifd + 2 + patched.readUInt16LE(ifd) * 12; entry += 12) {
      if (patched.readUInt16LE(entry) === 296) patched.writeUInt16LE(278, entry);
    }
    expect(await sharp(patched).metadata()).toMatchObject({ format: 'tiff', width: 600, height: 600 });
    const error = await expectCode(decodeImage(patched, budget), 'image_too_many_pixels');
    expect(error.detail).toEqual({ width: 600, height: 600, held: 'TIFF of unread layout', page: 0, decodeBytes: 2 * 600 * 600 * 3 + 600 * 600 + 600 * 3 * 1500, limitBytes: budget.maxDecodeBytes });
  });

  it('a non-interlaced PNG 16,000,000 pixels wide (1 GB of rows measured from a 143 KB file) is refused from the header: rows count whatever the format', async () => {
    const png = await solid(64, 3, 3).png().toBuffer();
    await expectRefusedWithoutAllocating(declaring(png, 16_000_000, 3), 'rows');
    const error = await expectCode(decodeImage(declaring(png, 16_000_000, 3)), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ width: 16_000_000, height: 3, decodeBytes: 16_000_000 * 27 * 3 });
    expect(error.message).toBe('a 16000000x3 png is decoded in rows 16000000 pixels wide: about 1236 MiB, over the 256 MiB decode memory budget');
  });

  it('real wide images: the rows of a 200000x4 PNG and a 60000x200 baseline JPEG are over a budget that narrower ones fit', async () => {
    const budget = { maxDecodeBytes: 8 * 1024 * 1024 };
    for (const [wide, narrow] of [
      [solid(200_000, 4, 3).png(), solid(20_000, 4, 3).png()],
      [solid(60_000, 200, 3).jpeg(), solid(1000, 200, 3).jpeg()],
    ] as const) {
      const error = await expectCode(decodeImage(await wide.toBuffer(), budget), 'image_too_many_pixels');
      expect(error.detail).toMatchObject({ held: 'rows' });
      expect((await decodeImage(await narrow.toBuffer(), budget)).frames[0]!.width).toBe(512);
    }
  });

  it('an animated WebP is decoded onto a whole canvas: counted per frame, more when a later frame is decoded', async () => {
    // Two 1000x1000 frames, translucent: 8.5 MB of canvas for the second, plus 6 MB of rows.
    const frames = Buffer.alloc(1000 * 2000 * 4, 37);
    frames.fill(0, 0, 1000 * 1000 * 4);
    const webp = await sharp(frames, { raw: { width: 1000, height: 2000, channels: 4, pageHeight: 1000 } }).webp({ lossless: true, effort: 0, loop: 0 }).toBuffer();
    const budget = { maxDecodeBytes: 12 * 1024 * 1024 };
    const error = await expectCode(decodeImage(webp, budget), 'image_too_many_pixels');
    expect(error.detail).toEqual({ width: 1000, height: 1000, held: 'animated WebP frame', decodeBytes: 8.5e6 + 6e6, limitBytes: budget.maxDecodeBytes });
    expect((await decodeImage(webp, { ...budget, maxFrames: 1 })).frames.map((frame) => frame.index)).toEqual([0]);
  });

  it('a still lossless WebP is decoded whole into ARGB, 4 bytes a pixel whatever the shrink: refused under a budget its rows alone fit', async () => {
    // 1500x1500 RGB: 6.75 MB of rows, all the estimate counted before (a 7000x7000 one took 197 MB, not 32).
    const lossless = await solid(1500, 1500, 3).webp({ lossless: true, effort: 0 }).toBuffer();
    expect(lossless.toString('latin1', 12, 16)).toBe('VP8L');
    const rows = 1500 * 3 * 1500;
    const budget = { maxDecodeBytes: 12 * 1024 * 1024 };
    expect(rows).toBeLessThan(budget.maxDecodeBytes);
    const error = await expectCode(decodeImage(lossless, budget), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ width: 1500, height: 1500, held: 'lossless WebP', decodeBytes: rows + 1500 * 1500 * 4, limitBytes: budget.maxDecodeBytes });
    expect(error.message).toMatch(/^a 1500x1500 lossless WebP is decoded whole: about \d+ MiB, over the 12 MiB decode memory budget$/);
    expect((await decodeImage(lossless, { maxDecodeBytes: 24 * 1024 * 1024 })).frames[0]).toMatchObject({ width: 512, height: 512 });
    // The same pixels, lossy: libwebp shrinks its rows as it decodes them.
    const lossy = await solid(1500, 1500, 3).webp().toBuffer();
    expect((await decodeImage(lossy, budget)).frames[0]).toMatchObject({ width: 512, height: 512 });
  });

  it('a GIF frame takes 4.5 bytes a pixel, plus its rows', async () => {
    const gif = await solid(2000, 2000, 3).gif().toBuffer();
    const error = await expectCode(decodeImage(gif, { maxDecodeBytes: 24 * 1024 * 1024 }), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ held: 'GIF frame', decodeBytes: 2000 * 2000 * 4.5 + 2000 * 4 * 1500 });
  });

  it('TIFF with separate planes, page by page: one strip on the second page is refused; 16-row strips decode', async () => {
    const budget = { maxDecodeBytes: 8 * 1024 * 1024 };
    const small = planarTiff(1500, 1500, [16, 16]);
    const decoded = await decodeImage(small, budget);
    expect(decoded).toMatchObject({ format: 'tiff', frameCount: 2 });
    expect([...decoded.frames[1]!.data.subarray(0, 3)]).toEqual([120, 130, 140]);
    const error = await expectCode(decodeImage(planarTiff(1500, 1500, [16, 1500]), budget), 'image_too_many_pixels');
    expect(error.detail).toMatchObject({ held: 'TIFF strip', page: 1, decodeBytes: 1500 * 1500 * 3 + 1500 * 1500 + 1500 * 3 * 1500 });
    expect(error.message).toMatch(/^a 1500x1500 TIFF \(page 1\) is decoded a 1500x1500 strip at a time/);
  });
});

/**
 * A TIFF sharp does not write: RGB in separate planes (all of R, then G, then B), deflate, one
 * page per entry of `rowsPerStrip`, each page with its own rows per strip; pixels (120, 130, 140).
 * Pages after the first are `laterPages` in size when given.
 */
function planarTiff(firstWidth: number, firstHeight: number, rowsPerStrip: readonly number[], laterPages?: { width: number; height: number }): Buffer {
  const parts: Buffer[] = [];
  let end = 0;
  const add = (part: Buffer): number => {
    parts.push(part);
    end += part.length;
    return end - part.length;
  };
  const longs = (values: number[]): Buffer => Buffer.from(new Uint32Array(values).buffer);
  const header = Buffer.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]);
  add(header);
  let link = { part: header, at: 4 };
  for (const [page, rows] of rowsPerStrip.entries()) {
    const { width, height } = page > 0 && laterPages ? laterPages : { width: firstWidth, height: firstHeight };
    const offsets: number[] = [];
    const counts: number[] = [];
    for (const value of [120, 130, 140]) {
      for (let top = 0; top < height; top += rows) {
        const strip = deflateSync(Buffer.alloc(Math.min(rows, height - top) * width, value));
        offsets.push(add(strip));
        counts.push(strip.length);
      }
    }
    const bits = add(Buffer.from(new Uint16Array([8, 8, 8]).buffer));
    const [offsetsAt, countsAt] = [add(longs(offsets)), add(longs(counts))];
    // [tag, type (3 SHORT, 4 LONG), count, value or offset], in tag order.
    const entries = [
      [256, 4, 1, width],
      [257, 4, 1, height],
      [258, 3, 3, bits],
      [259, 3, 1, 8],
      [262, 3, 1, 2],
      [273, 4, offsets.length, offsetsAt],
      [277, 3, 1, 3],
      [278, 4, 1, rows],
      [279, 4, counts.length, countsAt],
      [284, 3, 1, 2],
    ] as const;
    const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
    ifd.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, count, value], i) => {
      ifd.writeUInt16LE(tag, 2 + i * 12);
      ifd.writeUInt16LE(type, 4 + i * 12);
      ifd.writeUInt32LE(count, 6 + i * 12);
      if (type === 3 && count === 1) ifd.writeUInt16LE(value, 10 + i * 12);
      else ifd.writeUInt32LE(value, 10 + i * 12);
    });
    link.part.writeUInt32LE(add(ifd), link.at);
    link = { part: ifd, at: 2 + entries.length * 12 };
  }
  return Buffer.concat(parts);
}

describe('decodeImage output', () => {
  it('a GIF with 10,000 frames decodes at most 8 evenly spaced frames, first included', async () => {
    const started = performance.now();
    const decoded = await decodeImage(bad('many-frames.gif'));
    expect(performance.now() - started).toBeLessThan(FAST_MS);
    expect(decoded.format).toBe('gif');
    expect(decoded.frameCount).toBe(10_000);
    expect(decoded.frames.map((frame) => frame.index)).toEqual([0, 1428, 2857, 4285, 5714, 7142, 8571, 9999]);
    // Frames alternate black/white by index parity: frame 0 black, frame 1428 black, 2857 white.
    expect([...decoded.frames[0]!.data]).toEqual([0, 0, 0]);
    expect([...decoded.frames[2]!.data]).toEqual([255, 255, 255]);
  });

  it('an animation of more frames than sharp can reach samples up to frame 100,000, its last reachable one', async () => {
    const decoded = await decodeImage(manyFramesGif(MAX_FRAME_INDEX + 2));
    expect(decoded.frameCount).toBe(100_002);
    expect(decoded.frames.map((frame) => frame.index).at(-1)).toBe(MAX_FRAME_INDEX);
    // Frames alternate black/white by index parity: frame 100,000 is black.
    expect([...decoded.frames.at(-1)!.data]).toEqual([0, 0, 0]);
  });

  it('an EXIF-rotated JPEG comes out upright, dimensions included', async () => {
    // Stored 200x100 landscape, left half black; orientation 6 says "rotate 90 clockwise to view".
    const pixels = Buffer.alloc(200 * 100 * 3, 255);
    for (let y = 0; y < 100; y++) pixels.fill(0, y * 600, y * 600 + 300);
    const jpeg = await sharp(pixels, { raw: { width: 200, height: 100, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const decoded = await decodeImage(jpeg);
    expect([decoded.width, decoded.height]).toEqual([100, 200]);
    const frame = decoded.frames[0]!;
    expect([frame.width, frame.height]).toEqual([100, 200]);
    // After the clockwise turn the black half is on top.
    expect(frame.data[(10 * 100 + 50) * 3]).toBeLessThan(30);
    expect(frame.data[(190 * 100 + 50) * 3]).toBeGreaterThan(225);
  });

  it('an RGBA PNG keeps its stored RGB, alpha left out and kept apart (not composited)', async () => {
    const rgba = Buffer.alloc(10 * 10 * 4);
    for (let i = 0; i < 100; i++) rgba.set(i < 50 ? [200, 0, 0, 255] : [0, 90, 180, 0], i * 4);
    const png = await sharp(rgba, { raw: { width: 10, height: 10, channels: 4 } }).png().toBuffer();
    const decoded = await decodeImage(png);
    expect(decoded.hasAlpha).toBe(true);
    const { data, alpha } = decoded.frames[0]!;
    expect(data.length).toBe(10 * 10 * 3);
    expect([...data.subarray(0, 3)]).toEqual([200, 0, 0]);
    // The hidden pixel's stored colour, as PDQ's reference reads it.
    expect([...data.subarray(99 * 3, 100 * 3)]).toEqual([0, 90, 180]);
    expect(alpha && [alpha[0], alpha[99], alpha.length]).toEqual([255, 0, 100]);
  });

  it('a frame whose pixels are all opaque has no alpha plane, even from a file with an alpha channel', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 1 } } }).png().toBuffer();
    const decoded = await decodeImage(png);
    expect(decoded.hasAlpha).toBe(true);
    expect(decoded.frames[0]!.alpha).toBeUndefined();
    expect((await decodeImage(readFileSync(join(fixtures, 'rings.jpg')))).frames[0]!.alpha).toBeUndefined();
  });

  it('shrinks to the working size on load, keeping the aspect ratio, never enlarging', async () => {
    const decoded = await decodeImage(readFileSync(join(fixtures, 'rings.jpg')));
    expect(decoded).toMatchObject({ format: 'jpeg', width: 640, height: 480, frameCount: 1 });
    expect(decoded.frames).toHaveLength(1);
    expect(decoded.frames[0]).toMatchObject({ width: 512, height: 384, index: 0 });
    expect(decoded.frames[0]!.data.length).toBe(512 * 384 * 3);
    const small = await decodeImage(readFileSync(join(fixtures, 'rings--half.jpg')));
    expect(small.frames[0]).toMatchObject({ width: 320, height: 240 });
  });

  it('shrinks each side of a very wide or tall image on its own, never below 128 (or its own length)', async () => {
    const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#406080' } }).png().toBuffer();
    const sizes = async (width: number, height: number) => {
      const { frames } = await decodeImage(await solid(width, height));
      return [frames[0]!.width, frames[0]!.height];
    };
    // Fit inside 512 would give 512x13, 13x512, 512x4 and 512x1.
    expect(await sizes(4000, 100)).toEqual([512, 100]);
    expect(await sizes(100, 4000)).toEqual([100, 512]);
    expect(await sizes(20_000, 150)).toEqual([512, 128]);
    expect(await sizes(60_000, 1)).toEqual([512, 1]);
    // Up to 4:1 the aspect ratio is kept, as before.
    expect(await sizes(2048, 512)).toEqual([512, 128]);
    expect(await sizes(1000, 300)).toEqual([512, 154]);
  });

  it('works out the working size of each page of a TIFF from that page: a 2000x50 second page after a 600x400 first', async () => {
    const decoded = await decodeImage(planarTiff(600, 400, [16, 16], { width: 2000, height: 50 }));
    expect(decoded.frames.map((frame) => [frame.width, frame.height])).toEqual([
      [512, 341],
      [512, 50],
    ]);
  });

  it('grayscale input comes out as 3-channel RGB', async () => {
    const decoded = await decodeImage(readFileSync(join(fixtures, 'rings--gray.jpg')));
    const { data } = decoded.frames[0]!;
    expect(data.length).toBe(512 * 384 * 3);
    expect(data[300]).toBe(data[301]);
  });
});

describe('sampleFrameIndices', () => {
  const limits = { maxFrames: 8, maxAnimationPixels: 200_000_000 };
  it('takes every frame of a short animation', () => {
    expect(sampleFrameIndices(1, 100, limits)).toEqual([0]);
    expect(sampleFrameIndices(3, 100, limits)).toEqual([0, 1, 2]);
  });
  it('cuts the range so that all the frames rendered stay within the animation pixel budget', () => {
    // 4 MP frames: reaching frame i renders i + 1 frames; 1+2+4+5+7+8+10+11 = 48 frames = 192 MP.
    expect(sampleFrameIndices(1000, 4_000_000, limits)).toEqual([0, 1, 3, 4, 6, 7, 9, 10]);
    // A frame bigger than the whole budget: only the first.
    expect(sampleFrameIndices(1000, 300_000_000, limits)).toEqual([0]);
  });
  it('never goes past the last frame sharp can decode', () => {
    expect(sampleFrameIndices(200_000, 1, limits).at(-1)).toBe(MAX_FRAME_INDEX);
    expect(Math.max(...sampleFrameIndices(10_000_000, 1, { maxFrames: 3, maxAnimationPixels: 10_000_000_000 }))).toBe(MAX_FRAME_INDEX);
  });
});

describe('fromSharpError', () => {
  it("types what sharp's constructor throws at once, like what its calls reject with", () => {
    const thrown = (() => {
      try {
        sharp(Buffer.alloc(1), { page: MAX_FRAME_INDEX + 1 });
      } catch (error) {
        return error;
      }
    })();
    expect(fromSharpError(thrown)).toMatchObject({ code: 'image_corrupt', detail: { decoder: expect.stringMatching(/page/) } });
  });
});
