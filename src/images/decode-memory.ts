/**
 * Memory a decode holds at once, estimated from the header alone: decode.ts refuses an image over
 * `maxDecodeBytes` before any pixel is decoded, so a small file cannot make a worker allocate
 * hundreds of MB (the pixel limit alone lets a 394 KB interlaced PNG take 530 MB, a 143 KB
 * 49000000x1 PNG 1.26 GB).
 *
 * Every decode holds rows: libvips pulls rows through the shrink (baseline JPEG, non-interlaced
 * PNG, most TIFF strips: see below), and its stages each keep full-width rows, about 9 copies of
 * each row of a short image, at most about 1,500 rows' worth of a tall one, whatever the shrink
 * (streamedRowBytes). So a decode that streams still grows with the width, and the pixel limit
 * does not bound it. Measured peak RSS growth (8-bit RGB PNG or deflate TIFF, alike; estimate /
 * measured):
 *   49000000x1   1323 / 1263 MB    16000000x3   1296 / 1054 MB    1000000x10   270 / 205 MB
 *   200000x250    900 / 393 MB     65535x762     295 / 278 MB     20000x2500    90 / 77 MB
 *   7000x7000      32 / 41 MB (about 10 MB of any decode's own)
 * RGBA, 16-bit and grey rows scale with their bytes a pixel (20000x2500: 16-bit RGBA 214 MB,
 * grey 27). The estimate is an upper bound: short images (under ~170 rows) hold fewer copies than
 * 9 once they shrink vertically, and JPEG and WebP rows are narrower when the decoder scales on
 * load (a 65500x700 baseline JPEG took 29 MB), which is not counted.
 *
 * Some formats cannot give a first row before the whole image is in memory at full size; for
 * those the estimate adds width x height x what a pixel takes there (heldWholeDecode):
 *   interlaced PNG    channels x bytes per sample: every pass writes into the whole image
 *   progressive JPEG  2 bytes per DCT coefficient per component sample: each scan refines all of
 *                     them, so libjpeg keeps every coefficient (chroma subsampling shrinks that)
 *   GIF               4.5: frames are composed on an RGBA canvas (16383x3051: 323 / 288 MB,
 *                     65535x762: 618 / 597 MB, 4000x4000: 96 / 97 MB, rows included)
 *   animated WebP     4.5 for the first frame alone, 8.5 when a later frame is decoded: frames
 *                     are blended onto a full-size RGBA canvas, whatever the shrink (a 240-byte
 *                     16383x3000 file took 295 MB for its first frame, 7000x7000 431 MB for two)
 *   lossless WebP     4: libwebp decodes a still VP8L image whole into ARGB before any row comes
 *                     out, whatever the shrink on load (a 36 KB 7000x7000 file took 197 MB)
 *   lossy WebP        nothing without alpha: libwebp streams it, shrunk on load. With an alpha
 *                     plane, 5: the plane whole (1) and, when it is coded losslessly with more
 *                     than a palette, its ARGB decode (4): header bytes cannot tell which
 *   HEIF / AVIF       channels x bytes per sample x 6: libheif decodes the whole image, and its
 *                     codec's planes, the RGB conversion and libvips's copy come to about 6x that
 * Peak RSS measured on 7000x7000 images (and 3500x3500 AVIF) came within about 20% of these.
 * A still WebP's coding is read from its RIFF chunks (readWebpImage: 'VP8L', or 'VP8 ' and whether
 * an 'ALPH' chunk comes first); when they do not tell, or no bytes are given, it counts as the
 * costliest, 5. Still WebPs (estimate, rows included / peak RSS growth, without a second decode):
 *   lossless  7000x7000 228 / 197 MB    6000x6000 171 / 146    4000x4000  82 / 65
 *             2000x2000  25 /  18       16383x1000 139 / 68 (its rows: libwebp shrinks them on load)
 *   lossy with alpha coded with transforms       7000x7000 287 / 248    4000x4000 104 / 82
 *   lossy with alpha as libwebp codes it (a palette)  7000x7000 287 / 57 to 63
 *   lossy without alpha   7000x7000 32 / 2     16383x1000 74 / 3 (rows only, shrunk on load)
 * (The estimates with the second decode below are those made with the file's bytes.)
 * All figures with libvips's operation cache off (decode.ts), which otherwise keeps each decode's
 * buffers after it returns, and one libvips thread (sharp's default on glibc).
 *
 * TIFF depends on how the file cuts its pixels (tiff-header.ts reads that), not on its compression.
 * libtiff decodes a strip or a tile at a time. libvips reads a strip of more than 128 rows a
 * scanline at a time, unless the planes are separate or the pixels are YCbCr (JPEG-compressed
 * TIFF): those, and strips of up to 128 rows, it decodes whole, holding
 *   min(whole image, 2 strips)  the strips its cache keeps
 *   + 1 strip                   a copy to repack into, unless the pixels are RGB or CMYK of 8+ bits
 *   + 1 plane of a strip        with separate planes
 * Tiles are always decoded whole: libvips keeps two rows of tiles (clipped to the image) and
 * decodes into a buffer of one full tile, min(height, 2 tile heights) x width + 1 tile.
 * Measured on 7000x7000 RGB, estimate (strips or tiles, without the rows) / peak RSS growth, the
 * latter including the 20-40 MB every such TIFF decode takes (the rows: 32 MB):
 *   deflate or LZW, one strip                  streams: 41 MB, as in 256-row strips (44 MB)
 *   uncompressed, one strip (4000x4000)        streams: 25 MB, as in 256-row strips (27 MB)
 *   JPEG (YCbCr), one strip                    294 / 312 MB   (3504-row strips 220 / 242)
 *   separate planes, one strip                 196 / 217 MB   (16-bit grey 294 / 298)
 *   4096x4096 tiles                            197 / 218 MB   (5760x5760, libvips's largest, 246 / 265)
 * Each further libvips thread adds a tile buffer (5760x5760 tiles: 368 MB with 2 threads).
 *
 * A frame with alpha that must shrink is decoded twice (decode.ts): once shrunk, for its alpha
 * plane, and once whole, alpha removed and not resized, for its RGB, which is then resized on its
 * own: libvips premultiplies alpha when it resizes, which loses the stored colour of transparent
 * pixels, and PDQ hashes that colour. The decodes run one after the other, and the estimate adds
 * to the rows what the second holds (heldStoredRgb), for every image whose header declares alpha
 * and that is larger than the working size (not GIFs: libvips gives every GIF an alpha band, but a
 * transparent GIF pixel stores no colour, so they are decoded once). When only that second decode
 * would go over the budget, decode.ts skips it and keeps the alpha-weighted RGB
 * (DecodedImage.transparentColoursLost) rather than refuse the image:
 *   width x height x 3       the whole frame's RGB
 *   width x min(height, 320) x 3
 *                            the rows its resize keeps (measured 150 to 310; a one-row image, one copy)
 *   width x height x 8.5     for a still WebP, the frame libwebp decodes whole without the shrink
 *                            on load (measured 8.2 to 8.6 for the decode alone); 13 when that
 *                            RGBA frame is under 32 MiB (measured up to 12.8): glibc's malloc then
 *                            keeps the decode's freed buffers in its heap, and RSS keeps them
 *   less, for a still WebP, what its first decode's whole buffers (above) give back: glibc's
 *                            malloc unmaps a freed buffer of 32 MiB or more, so the second decode
 *                            does not add to it (7000x7000 lossless: 197 MB alone, 398 for the
 *                            second decode alone, 401 for both); a smaller one stays resident
 *                            (2700x2700 lossless: 31, 107, 140), counted at most 32 MiB a buffer
 * Measured peak RSS growth on 7000x7000 RGBA, transparent outside a disc, before this second
 * decode / with it (estimate with it):
 *   PNG                   62 / 182 MB (196)     interlaced PNG       242 / 365 MB (392)
 *   PNG, orientation 6    61 / 184 MB (196)     deflate TIFF          63 / 219 MB (196)
 *   (GIF, before GIFs were left out: 257 / 395 MB)   lossy WebP            57 / 406 MB (679)
 *   20000x2500 PNG       120 / 207 MB (289)     4000x4000 PNG         37 /  89 MB (76)
 *   3500x3500 AVIF       241 / 251 MB (355)     lossless WebP        197 / 401 MB (646)
 *   lossy WebP, alpha coded with transforms    248 / 453 MB (679)
 * The TIFF (with or without an orientation) is the one under its estimate: its second decode takes
 * 165 MB alone, 219 after the first, whose freed memory it does not all reuse.
 * A still WebP loses its shrink on load, and costs about 12.8 bytes a pixel up to 25 MP (lossy
 * 4000x4000: 20 / 206 MB (261), 4500x4500: 259 (318), 5000x5000: 320 (381)), less above (5500x5500
 * 285 (450)). Measured with the second decode on other sizes (estimate, lossless / lossy with
 * alpha coded with transforms): 2000x2000 78 (94) / 83 (98), 2700x2700 140 (165) / 148 (172),
 * 3000x3000 109 (158) / 118 (167), 4000x4000 185 (245) / 202 (261), 6000x6000 297 (489) /
 * 332 (523). At the default budget, one with alpha above about 4000x4000 (lossless 4200x4200)
 * keeps only its alpha-weighted colours.
 * The turn of an EXIF orientation is made on the raw RGB: made on the streamed decode it copied the
 * whole RGBA frame into memory first (the PNG of orientation 6 took 366 MB).
 */
import type { Metadata } from 'sharp';
import type { TiffLayout } from './tiff-header.js';

export type DecodeHeader = Pick<Metadata, 'format' | 'width' | 'height' | 'channels' | 'depth' | 'isProgressive' | 'chromaSubsampling' | 'pages'>;

export interface HeldWholeDecode {
  /** What makes the decode hold the whole image, for the error message: 'interlaced PNG', ... */
  held: string;
  bytes: number;
  /** For a TIFF: the strip or tile decoded at once, in pixels. */
  unit?: TiffLayout['block'];
}

const BYTES_PER_SAMPLE: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };
/** libheif's copies of a HEIF/AVIF image, relative to its decoded size (measured). */
const HEIF_COPIES = 6;
/** Bytes a pixel of a GIF frame (measured). */
const GIF_FRAME_BYTES = 4.5;
/** Bytes a pixel of an animated WebP's canvas: decoding its first frame, or a later one (measured). */
const WEBP_ANIMATION_BYTES = { first: 4.5, later: 8.5 };
/**
 * Bytes a pixel libwebp holds at once decoding a still WebP, whatever the shrink on load (see the
 * header): a lossless (VP8L) image is decoded whole into ARGB (measured 4.0); a lossy one streams,
 * but its alpha plane is decoded whole (1), and an alpha plane coded losslessly with transforms
 * other than a palette alone is decoded into ARGB first (4 more: measured 5.0 with both).
 */
const WEBP_STILL_BYTES = { lossless: 4, alphaPlane: 1, alphaArgb: 4 };
/**
 * glibc's malloc maps every allocation of 32 MiB or more on its own and unmaps it when it is freed
 * (its largest mmap threshold), while a smaller one may stay in its heap (measured: a lossless
 * WebP's 4-byte frame of 2700x2700 stays resident through the next decode, one of 3000x3000 not).
 */
const MALLOC_MMAP_BYTES = 32 * 1024 * 1024;
/**
 * Bytes a pixel of a still WebP decoded at full size, without its shrink on load (measured, see the
 * header): `heap` when its RGBA frame is under 32 MiB (MALLOC_MMAP_BYTES), whose buffers then stay
 * resident once freed, through the rest of the decode (measured up to 12.8 for the decode alone).
 */
const WEBP_WHOLE_FRAME_BYTES = { mapped: 8.5, heap: 13 };
/** Rows libvips's resize of an image in memory keeps at most (measured: 150 to 310). */
const RESIZED_ROWS = 320;
/** Copies libvips's stages keep of each row of a short image (measured: about 7 to 9). */
const ROW_COPIES = 9;
/** Most rows' worth libvips keeps of a tall image, whatever the shrink (measured: 1,140 to 1,420). */
const MAX_STREAMED_ROWS = 1500;

/**
 * The memory of the rows every decode holds while it shrinks, for an image `width` pixels wide of
 * `bytesPerPixel` bytes a pixel as decoded (channels x bytes per sample).
 */
export function streamedRowBytes(width: number, height: number, bytesPerPixel: number): number {
  return width * Math.min(ROW_COPIES * height, MAX_STREAMED_ROWS) * bytesPerPixel;
}

/** Bytes a pixel as libvips decodes the header's image. */
export function bytesPerPixel(header: Pick<DecodeHeader, 'channels' | 'depth'>): number {
  return Math.max(1, header.channels) * (BYTES_PER_SAMPLE[header.depth] ?? 8);
}

/**
 * The memory of a decode that must hold the whole image, without its rows (streamedRowBytes), or
 * undefined when the decode streams (TIFF: heldTiffDecode). `laterFrame`: a frame after the first
 * is decoded too, which for an animated WebP holds more. `input`: the file, whose chunks tell how
 * a still WebP is coded (readWebpImage); without it, or when they do not tell, the costliest coding.
 */
export function heldWholeDecode(header: DecodeHeader, laterFrame = false, input?: Uint8Array): HeldWholeDecode | undefined {
  const pixels = header.width * header.height;
  const bytesPerSample = BYTES_PER_SAMPLE[header.depth] ?? 8;
  if (header.format === 'png' && header.isProgressive) return { held: 'interlaced PNG', bytes: pixels * header.channels * bytesPerSample };
  if (header.format === 'jpeg' && header.isProgressive) return { held: 'progressive JPEG', bytes: pixels * 2 * jpegSamplesPerPixel(header) };
  if (header.format === 'gif') return { held: 'GIF frame', bytes: Math.ceil(pixels * GIF_FRAME_BYTES) };
  if (header.format === 'webp' && (header.pages ?? 1) > 1) {
    return { held: 'animated WebP frame', bytes: Math.ceil(pixels * (laterFrame ? WEBP_ANIMATION_BYTES.later : WEBP_ANIMATION_BYTES.first)) };
  }
  if (header.format === 'webp') return stillWebpDecode(pixels, input === undefined ? undefined : readWebpImage(input));
  if (header.format === 'heif') return { held: 'HEIF/AVIF', bytes: pixels * header.channels * bytesPerSample * HEIF_COPIES };
  return undefined;
}

/** How a still WebP's image is coded, from its chunks (readWebpImage). */
export type WebpImage = { coding: 'lossless' } | { coding: 'lossy'; alpha: boolean };

/**
 * How a still WebP's image is coded, from its RIFF chunk headers alone: the first image chunk,
 * 'VP8L' (lossless) or 'VP8 ' (lossy), and for a lossy one whether an 'ALPH' chunk (its alpha
 * plane) comes before it, as an extended file ('VP8X' first) may have. Undefined when the chunks
 * do not tell: not RIFF WEBP, cut short or a chunk running past the end before the image chunk,
 * another first chunk, an animation frame ('ANMF'). Never throws.
 */
export function readWebpImage(bytes: Uint8Array): WebpImage | undefined {
  if (bytes.length < 12 || fourCc(bytes, 0) !== 'RIFF' || fourCc(bytes, 8) !== 'WEBP') return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let alpha = false;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = fourCc(bytes, at);
    if (id === 'VP8L') return { coding: 'lossless' };
    if (id === 'VP8 ') return { coding: 'lossy', alpha };
    // A simple file starts with its image; only an extended one has chunks before it.
    if ((at === 12 && id !== 'VP8X') || id === 'ANMF') return undefined;
    if (id === 'ALPH') alpha = true;
    const size = view.getUint32(at + 4, true);
    // Chunks are padded to an even size.
    at += 8 + size + (size % 2);
  }
  return undefined;
}

function fourCc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

/**
 * The buffers libwebp holds whole decoding a still WebP (see WEBP_STILL_BYTES), each at its
 * largest, in bytes: none for a lossy image without alpha, and for an unread coding the costliest
 * (a lossy one with alpha, whose two buffers come to more than a lossless image's one).
 */
function stillWebpBuffers(pixels: number, image: WebpImage | undefined): number[] {
  if (image?.coding === 'lossless') return [pixels * WEBP_STILL_BYTES.lossless];
  if (image?.coding === 'lossy' && !image.alpha) return [];
  return [pixels * WEBP_STILL_BYTES.alphaPlane, pixels * WEBP_STILL_BYTES.alphaArgb];
}

function stillWebpDecode(pixels: number, image: WebpImage | undefined): HeldWholeDecode | undefined {
  const buffers = stillWebpBuffers(pixels, image);
  if (buffers.length === 0) return undefined;
  const held = image === undefined ? 'WebP of unread coding' : image.coding === 'lossless' ? 'lossless WebP' : 'WebP alpha plane';
  return { held, bytes: buffers.reduce((sum, bytes) => sum + bytes, 0) };
}

/**
 * The memory decode.ts adds for a frame with alpha that must shrink, besides the rows of its
 * decodes and what heldWholeDecode counts: the frame's RGB decoded whole (width x height x 3), the
 * rows of that RGB's resize, and for a still WebP the whole frame libwebp then decodes (see the
 * header), less what the first decode's whole buffers gave back before it (`input`, the file, as
 * for heldWholeDecode: without it, nothing). For a TIFF, `format` 'tiff' and the page's size.
 */
export function heldStoredRgb(header: Pick<DecodeHeader, 'format' | 'width' | 'height' | 'pages'>, input?: Uint8Array): number {
  const { width, height } = header;
  const rgb = width * height * 3 + width * Math.min(height, RESIZED_ROWS) * 3;
  const stillWebp = header.format === 'webp' && (header.pages ?? 1) <= 1;
  if (!stillWebp) return rgb;
  const image = input === undefined ? undefined : readWebpImage(input);
  // Each buffer of 32 MiB or more is unmapped when the first decode ends; a smaller one may stay
  // resident, and so may a buffer that came out smaller than its largest (a palette packs pixels).
  const givenBack = image === undefined ? 0 : stillWebpBuffers(width * height, image).reduce((sum, bytes) => sum + Math.max(0, bytes - MALLOC_MMAP_BYTES), 0);
  const frameBytes = width * height * 4 < MALLOC_MMAP_BYTES ? WEBP_WHOLE_FRAME_BYTES.heap : WEBP_WHOLE_FRAME_BYTES.mapped;
  return rgb + Math.ceil(width * height * frameBytes) - givenBack;
}

/**
 * Whether a TIFF page has more samples a pixel than its colours take, which libvips reads as alpha
 * (without PhotometricInterpretation, libtiff takes 3 or more samples for RGB).
 */
export function tiffHasAlpha({ samplesPerPixel, photometric }: Pick<TiffLayout, 'samplesPerPixel' | 'photometric'>): boolean {
  const grey = photometric === 0 || photometric === 1 || photometric === 3 || (photometric === undefined && samplesPerPixel < 3);
  const colours = photometric === 5 ? 4 : grey ? 1 : 3;
  return samplesPerPixel > colours;
}

/** Component samples per pixel: libvips reports any chroma subsampling as 4:2:0 (each chroma plane a quarter). */
function jpegSamplesPerPixel({ channels, chromaSubsampling }: DecodeHeader): number {
  return channels >= 3 && chromaSubsampling?.startsWith('4:2:0') ? channels - 1.5 : channels;
}

/** libvips reads a strip taller than this a scanline at a time, when it can. */
const SCANLINE_READ_ROWS = 128;
const PHOTOMETRIC_YCBCR = 6;
/** Photometric interpretations whose samples libvips copies as they are (RGB, CMYK): no repacking copy (grey and palette measured with one). */
const COPIED_AS_STORED = new Set([2, 5]);

/**
 * The memory a TIFF page's strips or tiles make the decode hold, or undefined when its strips are
 * read a scanline at a time. Without a layout (tiff-header.ts could not read one), the worst one:
 * the whole image in one strip, separate planes, repacked.
 */
export function heldTiffDecode(layout: TiffLayout | undefined, header: DecodeHeader): HeldWholeDecode | undefined {
  if (layout === undefined) {
    // Separate planes: always read whole, so there is an estimate.
    const { bytes } = tiffBlocks(worstLayout(header))!;
    return { held: 'TIFF of unread layout', bytes };
  }
  return tiffBlocks(layout);
}

function tiffBlocks(layout: TiffLayout): HeldWholeDecode | undefined {
  const { width, height, samplesPerPixel, bitsPerSample, photometric, separatePlanes, block } = layout;
  const rowBytes = width * samplesPerPixel * tiffSampleBytes(bitsPerSample);
  const unit = { ...block };
  if (block.kind === 'tile') {
    const tile = block.width * block.height * samplesPerPixel * tiffSampleBytes(bitsPerSample);
    return { held: 'TIFF tile', bytes: Math.min(height, 2 * block.height) * rowBytes + tile, unit };
  }
  // Without Photometric libtiff guesses one: assume the costlier reads.
  const unknownPhotometric = photometric === undefined;
  const readWhole = block.height <= SCANLINE_READ_ROWS || separatePlanes || unknownPhotometric || photometric === PHOTOMETRIC_YCBCR;
  if (!readWhole) return undefined;
  const strip = block.height * rowBytes;
  const repacked = unknownPhotometric || !COPIED_AS_STORED.has(photometric) || bitsPerSample < 8;
  const bytes = Math.min(height * rowBytes, 2 * strip) + (repacked ? strip : 0) + (separatePlanes ? strip / samplesPerPixel : 0);
  return { held: 'TIFF strip', bytes, unit };
}

function worstLayout(header: DecodeHeader): TiffLayout {
  const { width, height } = header;
  return {
    width,
    height,
    samplesPerPixel: Math.max(1, header.channels),
    bitsPerSample: 8 * (BYTES_PER_SAMPLE[header.depth] ?? 8),
    compression: 1,
    photometric: undefined,
    separatePlanes: true,
    block: { kind: 'strip', width, height },
  };
}

/** Bytes a pixel of a TIFF page as libvips decodes it. */
export function tiffBytesPerPixel(layout: Pick<TiffLayout, 'samplesPerPixel' | 'bitsPerSample'>): number {
  return layout.samplesPerPixel * tiffSampleBytes(layout.bitsPerSample);
}

/** libvips's sample size: 1, 2 and 4-bit samples are unpacked to bytes. */
function tiffSampleBytes(bits: number): number {
  return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 : 8;
}
