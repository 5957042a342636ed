import { describe, expect, it } from 'vitest';
import { bytesPerPixel, heldStoredRgb, heldTiffDecode, heldWholeDecode, streamedRowBytes, tiffBytesPerPixel, tiffHasAlpha, type DecodeHeader } from './decode-memory.js';
import type { TiffLayout } from './tiff-header.js';

const header = (fields: Partial<DecodeHeader>): DecodeHeader => ({ format: 'png', width: 7000, height: 7000, channels: 3, depth: 'uchar', isProgressive: false, ...fields });
const MB = 1_000_000;

describe('heldWholeDecode', () => {
  it('streaming decodes hold no whole image: baseline JPEG, non-interlaced PNG, WebP, TIFF', () => {
    expect(heldWholeDecode(header({ format: 'jpeg', chromaSubsampling: '4:4:4' }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'png', channels: 4, depth: 'ushort' }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'webp', channels: 4 }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'tiff' }))).toBeUndefined();
  });

  it('interlaced PNG: width x height x channels x bytes per sample', () => {
    expect(heldWholeDecode(header({ isProgressive: true, channels: 4, depth: 'ushort' }))).toEqual({ held: 'interlaced PNG', bytes: 392 * MB });
    expect(heldWholeDecode(header({ isProgressive: true }))).toEqual({ held: 'interlaced PNG', bytes: 147 * MB });
  });

  it('progressive JPEG: 2 bytes per coefficient, chroma planes a quarter each when subsampled', () => {
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, chromaSubsampling: '4:4:4' }))!.bytes).toBe(294 * MB);
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, chromaSubsampling: '4:2:0' }))!.bytes).toBe(147 * MB);
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, channels: 4, chromaSubsampling: '4:2:0:4' }))!.bytes).toBe(245 * MB);
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, channels: 1 }))!.bytes).toBe(98 * MB);
  });

  it('GIF frames at 4.5 bytes a pixel; HEIF/AVIF at six copies of the decoded image', () => {
    expect(heldWholeDecode(header({ format: 'gif', channels: 4 }))).toEqual({ held: 'GIF frame', bytes: 220.5 * MB });
    expect(heldWholeDecode(header({ format: 'heif', width: 3500, height: 3500 }))).toEqual({ held: 'HEIF/AVIF', bytes: 220.5 * MB });
  });

  it('animated WebP: the canvas at 4.5 bytes a pixel for the first frame, 8.5 when a later frame is decoded; a still WebP streams', () => {
    const animated = header({ format: 'webp', channels: 4, width: 16383, height: 3000, pages: 4 });
    expect(heldWholeDecode(animated)).toEqual({ held: 'animated WebP frame', bytes: 16383 * 3000 * 4.5 });
    // Whole bytes.
    expect(heldWholeDecode(header({ format: 'gif', width: 3, height: 1 }))!.bytes).toBe(14);
    expect(heldWholeDecode(animated, true)!.bytes).toBe(16383 * 3000 * 8.5);
    expect(heldWholeDecode({ ...animated, pages: 1 })).toBeUndefined();
    expect(heldWholeDecode({ ...animated, pages: undefined })).toBeUndefined();
  });
});

describe('streamedRowBytes', () => {
  it('about 9 copies of each row of a short image, at most 1,500 rows of a tall one, at the bytes a pixel as decoded', () => {
    // 143 KB of PNG, 1.26 GB measured.
    expect(streamedRowBytes(49_000_000, 1, 3)).toBe(49_000_000 * 9 * 3);
    expect(streamedRowBytes(16_000_000, 3, 3)).toBe(16_000_000 * 27 * 3);
    expect(streamedRowBytes(65_535, 762, 3)).toBe(65_535 * 1500 * 3);
    expect(streamedRowBytes(7000, 7000, 3)).toBe(31.5 * MB);
    expect(bytesPerPixel(header({ channels: 4, depth: 'ushort' }))).toBe(8);
    expect(bytesPerPixel(header({ channels: 1, depth: 'uchar' }))).toBe(1);
    expect(tiffBytesPerPixel({ samplesPerPixel: 3, bitsPerSample: 16 })).toBe(6);
    expect(tiffBytesPerPixel({ samplesPerPixel: 1, bitsPerSample: 1 })).toBe(1);
  });
});

describe('heldTiffDecode', () => {
  /** 7000x7000 8-bit RGB, chunky, deflate, in 256-row strips: what sharp writes (with deflate). */
  const layout = (fields: Partial<TiffLayout>, block: Partial<TiffLayout['block']> = {}): TiffLayout => ({
    width: 7000,
    height: 7000,
    samplesPerPixel: 3,
    bitsPerSample: 8,
    compression: 8,
    photometric: 2,
    separatePlanes: false,
    ...fields,
    block: { kind: 'strip', width: fields.width ?? 7000, height: 256, ...block },
  });
  const tiffHeader = header({ format: 'tiff' });

  it('strips of more than 128 rows of interleaved RGB, CMYK or grey are read a scanline at a time, one strip or many, whatever the compression', () => {
    expect(heldTiffDecode(layout({}), tiffHeader)).toBeUndefined();
    expect(heldTiffDecode(layout({}, { height: 7000 }), tiffHeader)).toBeUndefined();
    expect(heldTiffDecode(layout({ compression: 1 }, { height: 7000 }), tiffHeader)).toBeUndefined();
    expect(heldTiffDecode(layout({ photometric: 5, samplesPerPixel: 4 }, { height: 7000 }), tiffHeader)).toBeUndefined();
    expect(heldTiffDecode(layout({ photometric: 1, samplesPerPixel: 1, bitsPerSample: 16 }, { height: 7000 }), tiffHeader)).toBeUndefined();
  });

  it('YCbCr (JPEG-compressed) strips are decoded whole: up to two strips cached, plus one repacked', () => {
    const jpeg = { compression: 7, photometric: 6 };
    expect(heldTiffDecode(layout(jpeg, { height: 7000 }), tiffHeader)).toEqual({ held: 'TIFF strip', bytes: 294 * MB, unit: { kind: 'strip', width: 7000, height: 7000 } });
    expect(heldTiffDecode(layout(jpeg, { height: 3500 }), tiffHeader)!.bytes).toBe((147 + 73.5) * MB);
    // sharp's default TIFF: JPEG in 256-row strips.
    expect(heldTiffDecode(layout(jpeg), tiffHeader)!.bytes).toBe(768 * 7000 * 3);
  });

  it('separate planes are decoded a strip at a time: the strip cache plus one plane, plus a repacked strip unless RGB or CMYK', () => {
    expect(heldTiffDecode(layout({ separatePlanes: true }, { height: 7000 }), tiffHeader)!.bytes).toBe((147 + 49) * MB);
    expect(heldTiffDecode(layout({ separatePlanes: true, width: 5000, height: 5000, samplesPerPixel: 4, bitsPerSample: 16 }, { height: 5000 }), tiffHeader)!.bytes).toBe(250 * MB);
    expect(heldTiffDecode(layout({ separatePlanes: true, samplesPerPixel: 1, photometric: 1, bitsPerSample: 16 }, { height: 7000 }), tiffHeader)!.bytes).toBe(3 * 98 * MB);
  });

  it('strips of up to 128 rows are decoded whole, and hold little', () => {
    expect(heldTiffDecode(layout({}, { height: 128 }), tiffHeader)!.bytes).toBe(256 * 7000 * 3);
    expect(heldTiffDecode(layout({ photometric: 1, samplesPerPixel: 1, bitsPerSample: 1 }, { height: 16 }), tiffHeader)!.bytes).toBe(3 * 16 * 7000);
  });

  it('tiles: two rows of tiles clipped to the image, plus one whole tile', () => {
    expect(heldTiffDecode(layout({}, { kind: 'tile', width: 4096, height: 4096 }), tiffHeader)).toEqual({
      held: 'TIFF tile',
      bytes: 147 * MB + 4096 * 4096 * 3,
      unit: { kind: 'tile', width: 4096, height: 4096 },
    });
    expect(heldTiffDecode(layout({}, { kind: 'tile', width: 256, height: 256 }), tiffHeader)!.bytes).toBe(512 * 7000 * 3 + 256 * 256 * 3);
  });

  it('a layout the header reader could not read: the worst one, the whole image in one strip, separate planes, repacked', () => {
    expect(heldTiffDecode(undefined, tiffHeader)).toEqual({ held: 'TIFF of unread layout', bytes: (147 + 147 + 49) * MB });
    expect(heldTiffDecode(undefined, header({ format: 'tiff', width: 1000, height: 1000, channels: 4, depth: 'ushort' }))!.bytes).toBe(8 * MB + 8 * MB + 2 * MB);
  });
});

describe('heldStoredRgb: the whole frame RGB a frame with alpha that must shrink is decoded to again', () => {
  it('width x height x 3, plus at most 320 rows of its resize; a still WebP adds the frame libwebp decodes whole', () => {
    expect(heldStoredRgb(header({ channels: 4 }))).toBe(147 * MB + 7000 * 320 * 3);
    // A one-row image: one copy of the row.
    expect(heldStoredRgb(header({ width: 49_000_000, height: 1 }))).toBe(2 * 147 * MB);
    expect(heldStoredRgb(header({ format: 'webp', width: 4000, height: 4000 }))).toBe(4000 * 4000 * 11.5 + 4000 * 320 * 3);
    // Animated: heldWholeDecode counts the canvas already.
    expect(heldStoredRgb(header({ format: 'webp', width: 4000, height: 4000, pages: 3 }))).toBe(4000 * 4000 * 3 + 4000 * 320 * 3);
    expect(heldStoredRgb(header({ format: 'gif', width: 2000, height: 2000 }))).toBe(12 * MB + 2000 * 320 * 3);
  });
});

describe('tiffHasAlpha', () => {
  it('more samples a pixel than the colours take', () => {
    expect(tiffHasAlpha({ samplesPerPixel: 3, photometric: 2 })).toBe(false);
    expect(tiffHasAlpha({ samplesPerPixel: 4, photometric: 2 })).toBe(true);
    expect(tiffHasAlpha({ samplesPerPixel: 1, photometric: 1 })).toBe(false);
    expect(tiffHasAlpha({ samplesPerPixel: 2, photometric: 0 })).toBe(true);
    expect(tiffHasAlpha({ samplesPerPixel: 2, photometric: 3 })).toBe(true);
    expect(tiffHasAlpha({ samplesPerPixel: 4, photometric: 5 })).toBe(false);
    expect(tiffHasAlpha({ samplesPerPixel: 5, photometric: 5 })).toBe(true);
    expect(tiffHasAlpha({ samplesPerPixel: 3, photometric: 6 })).toBe(false);
    // No Photometric: libtiff takes 3 or more samples for RGB, fewer for grey.
    expect(tiffHasAlpha({ samplesPerPixel: 3, photometric: undefined })).toBe(false);
    expect(tiffHasAlpha({ samplesPerPixel: 4, photometric: undefined })).toBe(true);
    expect(tiffHasAlpha({ samplesPerPixel: 2, photometric: undefined })).toBe(true);
  });
});
