/**
 * Memory a decode holds at once, estimated from the header alone: decode.ts refuses an image over
 * `maxDecodeBytes` before any pixel is decoded, so a small file cannot make a worker allocate
 * hundreds of MB (the pixel limit alone lets a 394 KB interlaced PNG take 530 MB).
 *
 * Most decodes stream: libvips pulls a few rows at a time through the shrink (baseline JPEG,
 * non-interlaced PNG, TIFF strips), or the decoder scales on load (JPEG, WebP), so their memory
 * follows the width, not the area, and the pixel limit bounds it. Some formats cannot give a first
 * row before the whole image is in memory at full size; for those the estimate is
 * width x height x what a pixel takes there:
 *   interlaced PNG    channels x bytes per sample: every pass writes into the whole image
 *   progressive JPEG  2 bytes per DCT coefficient per component sample: each scan refines all of
 *                     them, so libjpeg keeps every coefficient (chroma subsampling shrinks that)
 *   GIF               4: frames are composed as RGBA
 *   HEIF / AVIF       channels x bytes per sample x 6: libheif decodes the whole image, and its
 *                     codec's planes, the RGB conversion and libvips's copy come to about 6x that
 * Peak RSS measured on 7000x7000 images (and 3500x3500 AVIF) came within about 20% of these.
 */
import type { Metadata } from 'sharp';

export type DecodeHeader = Pick<Metadata, 'format' | 'width' | 'height' | 'channels' | 'depth' | 'isProgressive' | 'chromaSubsampling'>;

export interface HeldWholeDecode {
  /** What makes the decode hold the whole image, for the error message: 'interlaced PNG', ... */
  held: string;
  bytes: number;
}

const BYTES_PER_SAMPLE: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };
/** libheif's copies of a HEIF/AVIF image, relative to its decoded size (measured). */
const HEIF_COPIES = 6;

/** The memory of a decode that must hold the whole image, or undefined when the decode streams. */
export function heldWholeDecode(header: DecodeHeader): HeldWholeDecode | undefined {
  const pixels = header.width * header.height;
  const bytesPerSample = BYTES_PER_SAMPLE[header.depth] ?? 8;
  if (header.format === 'png' && header.isProgressive) return { held: 'interlaced PNG', bytes: pixels * header.channels * bytesPerSample };
  if (header.format === 'jpeg' && header.isProgressive) return { held: 'progressive JPEG', bytes: pixels * 2 * jpegSamplesPerPixel(header) };
  if (header.format === 'gif') return { held: 'GIF frame', bytes: pixels * 4 };
  if (header.format === 'heif') return { held: 'HEIF/AVIF', bytes: pixels * header.channels * bytesPerSample * HEIF_COPIES };
  return undefined;
}

/** Component samples per pixel: libvips reports any chroma subsampling as 4:2:0 (each chroma plane a quarter). */
function jpegSamplesPerPixel({ channels, chromaSubsampling }: DecodeHeader): number {
  return channels >= 3 && chromaSubsampling?.startsWith('4:2:0') ? channels - 1.5 : channels;
}
