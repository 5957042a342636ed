import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  bytesPerPixel,
  heldStoredRgb,
  heldTiffDecode,
  heldWholeDecode,
  readWebpImage,
  streamedRowBytes,
  tiffBytesPerPixel,
  tiffHasAlpha,
  type DecodeHeader,
} from './decode-memory.js';
import type { TiffLayout } from './tiff-header.js';

const header = (fields: Partial<DecodeHeader>): DecodeHeader => ({ format: 'png', width: 7000, height: 7000, channels: 3, depth: 'uchar', isProgressive: false, ...fields });
const MB = 1_000_000;
const MiB = 1024 * 1024;

/** A RIFF WEBP file of these chunks (id, payload size), payloads zero, each padded to an even size. */
function webpFile(...chunks: [id: string, size: number][]): Buffer {
  const body = chunks.map(([id, size]) => {
    const chunk = Buffer.alloc(8 + size + (size % 2));
    chunk.write(id, 0, 'latin1');
    chunk.writeUInt32LE(size, 4);
    return chunk;
  });
  const riff = Buffer.alloc(12);
  riff.write('RIFFsizeWEBP', 0, 'latin1');
  riff.writeUInt32LE(4 + body.reduce((sum, chunk) => sum + chunk.length, 0), 4);
  return Buffer.concat([riff, ...body]);
}
const LOSSLESS = webpFile(['VP8L', 25]);
const LOSSY = webpFile(['VP8 ', 40]);
const LOSSY_ALPHA = webpFile(['VP8X', 10], ['ALPH', 33], ['VP8 ', 40]);

describe('heldWholeDecode', () => {
  it('streaming decodes hold no whole image: baseline JPEG, non-interlaced PNG, lossy WebP without alpha, TIFF', () => {
    expect(heldWholeDecode(header({ format: 'jpeg', chromaSubsampling: '4:4:4' }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'png', channels: 4, depth: 'ushort' }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'webp' }), false, LOSSY)).toBeUndefined();
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

  it('animated WebP: the canvas at 4.5 bytes a pixel for the first frame, 8.5 when a later frame is decoded; a still WebP by its coding', () => {
    const animated = header({ format: 'webp', channels: 4, width: 16383, height: 3000, pages: 4 });
    expect(heldWholeDecode(animated)).toEqual({ held: 'animated WebP frame', bytes: 16383 * 3000 * 4.5 });
    // Whole bytes.
    expect(heldWholeDecode(header({ format: 'gif', width: 3, height: 1 }))!.bytes).toBe(14);
    expect(heldWholeDecode(animated, true)!.bytes).toBe(16383 * 3000 * 8.5);
    expect(heldWholeDecode({ ...animated, pages: 1 }, false, LOSSY)).toBeUndefined();
    expect(heldWholeDecode({ ...animated, pages: undefined }, false, LOSSLESS)).toEqual({ held: 'lossless WebP', bytes: 16383 * 3000 * 4 });
  });
});

describe('still WebP: the coding its chunks declare, and what libwebp holds whole for it', () => {
  const still = header({ format: 'webp' });

  it('lossless (VP8L): the whole image as ARGB, 4 bytes a pixel, whatever the shrink (196 MB at 7000x7000; measured 197)', () => {
    expect(readWebpImage(LOSSLESS)).toEqual({ coding: 'lossless' });
    expect(heldWholeDecode(still, false, LOSSLESS)).toEqual({ held: 'lossless WebP', bytes: 196 * MB });
  });

  it("lossy (VP8 ): streams, unless an ALPH chunk comes first: its alpha plane whole (1) and the plane's own ARGB decode (4)", () => {
    expect(readWebpImage(LOSSY)).toEqual({ coding: 'lossy', alpha: false });
    expect(heldWholeDecode(still, false, LOSSY)).toBeUndefined();
    expect(readWebpImage(LOSSY_ALPHA)).toEqual({ coding: 'lossy', alpha: true });
    expect(heldWholeDecode(header({ format: 'webp', channels: 4 }), false, LOSSY_ALPHA)).toEqual({ held: 'WebP alpha plane', bytes: 245 * MB });
    // An extended file without ALPH: no alpha plane to decode.
    expect(readWebpImage(webpFile(['VP8X', 10], ['ICCP', 3], ['VP8 ', 40]))).toEqual({ coding: 'lossy', alpha: false });
  });

  it('lossless wrapped in an extended file (VP8X), behind metadata chunks of odd sizes (padded)', () => {
    const wrapped = webpFile(['VP8X', 10], ['ICCP', 457], ['EXIF', 1], ['VP8L', 25], ['XMP ', 9]);
    expect(readWebpImage(wrapped)).toEqual({ coding: 'lossless' });
    expect(heldWholeDecode(still, false, wrapped)!.bytes).toBe(196 * MB);
  });

  it("reads sharp's own files alike: lossless, lossy, lossy with alpha, lossless with an ICC profile", async () => {
    const pixels = (channels: 3 | 4) => sharp({ create: { width: 16, height: 16, channels, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } });
    expect(readWebpImage(await pixels(4).webp({ lossless: true }).toBuffer())).toEqual({ coding: 'lossless' });
    expect(readWebpImage(await pixels(3).webp().toBuffer())).toEqual({ coding: 'lossy', alpha: false });
    expect(readWebpImage(await pixels(4).webp().toBuffer())).toEqual({ coding: 'lossy', alpha: true });
    const withProfile = await pixels(3).withIccProfile('p3').webp({ lossless: true }).toBuffer();
    expect(withProfile.toString('latin1', 12, 16)).toBe('VP8X');
    expect(readWebpImage(withProfile)).toEqual({ coding: 'lossless' });
  });

  it('chunks that do not tell count as the costliest coding, 5 bytes a pixel: no bytes, not RIFF WEBP, cut short, a size past the end, an animation frame', () => {
    const costliest = { held: 'WebP of unread coding', bytes: 245 * MB };
    expect(heldWholeDecode(still)).toEqual(costliest);
    const unread = [
      Buffer.alloc(0),
      Buffer.from('RIFF\x10\0\0\0WAVEfmt '),
      LOSSLESS.subarray(0, 15),
      webpFile(['VP8X', 10]),
      // The ICCP chunk claims to run past the end of the file, over the image chunk.
      (() => {
        const lying = webpFile(['VP8X', 10], ['ICCP', 4], ['VP8 ', 40]);
        lying.writeUInt32LE(0xffff_fff0, 34);
        return lying;
      })(),
      webpFile(['VP8X', 10], ['ANIM', 6], ['ANMF', 40]),
      // A simple file starts with its image.
      webpFile(['ALPH', 4], ['VP8 ', 40]),
    ];
    for (const bytes of unread) {
      expect(readWebpImage(bytes)).toBeUndefined();
      expect(heldWholeDecode(still, false, bytes)).toEqual(costliest);
    }
  });

  it('a truncated header never throws nor counts less than the whole file: every prefix', () => {
    for (const file of [LOSSLESS, LOSSY, LOSSY_ALPHA, webpFile(['VP8X', 10], ['ICCP', 457], ['VP8L', 25])]) {
      const whole = heldWholeDecode(still, false, file)?.bytes ?? 0;
      for (let length = 0; length <= file.length; length++) {
        expect(heldWholeDecode(still, false, file.subarray(0, length))?.bytes ?? 0).toBeGreaterThanOrEqual(whole);
      }
    }
    // Offsets past a 4 GB chunk, and a view into a larger buffer.
    const far = webpFile(['VP8X', 10], ['ICCP', 4]);
    far.writeUInt32LE(0xffff_ffff, 34);
    expect(readWebpImage(far)).toBeUndefined();
    const inside = Buffer.concat([Buffer.from('junk'), LOSSY_ALPHA, Buffer.from('junk')]);
    expect(readWebpImage(inside.subarray(4, 4 + LOSSY_ALPHA.length))).toEqual({ coding: 'lossy', alpha: true });
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

  it("a still WebP's frame is 13 bytes a pixel when its RGBA is under 32 MiB, whose freed buffers stay resident", () => {
    // 2896 x 2896 x 4 is just under 32 MiB, 2897 x 2897 x 4 not.
    expect(heldStoredRgb(header({ format: 'webp', width: 2896, height: 2896 }))).toBe(2896 * 2896 * 16 + 2896 * 320 * 3);
    expect(heldStoredRgb(header({ format: 'webp', width: 2897, height: 2897 }))).toBe(Math.ceil(2897 * 2897 * 11.5) + 2897 * 320 * 3);
    expect(heldStoredRgb(header({ format: 'webp', width: 2000, height: 2000 }))).toBe(2000 * 2000 * 16 + 2000 * 320 * 3);
  });

  it("a still WebP's first decode gives back its whole buffers of 32 MiB or more (unmapped) before the second: counted once, not twice", () => {
    const still = header({ format: 'webp', channels: 4 });
    const second = 7000 * 7000 * 11.5 + 7000 * 320 * 3;
    expect(heldStoredRgb(still, LOSSLESS)).toBe(second - (196 * MB - 32 * MiB));
    expect(heldStoredRgb(still, LOSSY_ALPHA)).toBe(second - (196 * MB - 32 * MiB) - (49 * MB - 32 * MiB));
    expect(heldStoredRgb(still, LOSSY)).toBe(second);
    // Without the bytes, or bytes that do not tell: nothing given back.
    expect(heldStoredRgb(still)).toBe(second);
    expect(heldStoredRgb(still, LOSSLESS.subarray(0, 14))).toBe(second);
    // Buffers under 32 MiB may stay resident: 2000x2000 lossless (16 MB) gives nothing back; 3000x3000 (36 MB) the part over 32 MiB.
    expect(heldStoredRgb(header({ format: 'webp', width: 2000, height: 2000 }), LOSSLESS)).toBe(heldStoredRgb(header({ format: 'webp', width: 2000, height: 2000 })));
    expect(heldStoredRgb(header({ format: 'webp', width: 3000, height: 3000 }), LOSSY_ALPHA)).toBe(Math.ceil(3000 * 3000 * 11.5) + 3000 * 320 * 3 - (36 * MB - 32 * MiB));
    // Whatever the coding, the whole estimate (rows, whole buffers, second decode) stays above either decode alone.
    for (const input of [LOSSLESS, LOSSY_ALPHA]) {
      const whole = heldWholeDecode(still, false, input)!.bytes;
      expect(whole + heldStoredRgb(still, input)).toBeGreaterThanOrEqual(Math.max(whole, second));
    }
    // Not a TIFF's or a GIF's.
    expect(heldStoredRgb(header({ format: 'tiff' }), LOSSLESS)).toBe(147 * MB + 7000 * 320 * 3);
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
