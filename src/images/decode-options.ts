/**
 * Limits and choices of the one image decode, field by field, with their defaults.
 * Every field is optional; `resolveDecodeOptions` fills in the defaults and checks ranges.
 */
import { type DecodeLimiter, sharedDecodeLimiter } from './decode-limiter.js';

export type FailOnLevel = 'none' | 'truncated' | 'error' | 'warning';

export interface DecodeOptions {
  /**
   * Largest input accepted, in bytes; more is `payload_too_large` before any parsing.
   * Default 50 MiB.
   */
  maxInputBytes?: number;
  /**
   * Largest width x height of one frame, as the file's header declares it; more is
   * `image_too_many_pixels`, found from the header alone, before any pixel is allocated.
   * Also passed to sharp as `limitInputPixels`. Default 50,000,000 (50 MP).
   */
  maxPixels?: number;
  /**
   * Most memory one decode may hold at once, in bytes, as estimated from the header (see
   * decode-memory.ts); more is `image_too_many_pixels`, before any pixel is decoded. Every
   * decode counts the rows it streams through the shrink (width x min(9 x height, 1,500) rows x
   * bytes a pixel: 8-bit RGB over about 60,000 pixels wide and 170 rows tall is refused);
   * formats that must hold the whole image add it (interlaced PNG, progressive JPEG, GIF,
   * animated WebP, lossless WebP, a lossy WebP's alpha plane, HEIF/AVIF, an APNG its canvas and every frame it replays (its sampled range cut to fit)), and TIFFs the strips or tiles libvips decodes whole. At the
   * default, a 49000000x1 PNG (1.3 GB), a 7000x7000 16-bit interlaced PNG (392 MB), a 4:4:4
   * progressive JPEG (294 MB) and a JPEG-compressed TIFF in one strip (294 MB) are refused, a
   * 48 MP 4:2:0 progressive JPEG (144 MB), a 12 MP AVIF (216 MB) and TIFFs in sharp's 256-row
   * strips are not (each with 18 to 36 MB of rows). Default 256 MiB.
   */
  maxDecodeBytes?: number;
  /**
   * Wall-clock budget for the whole decode (header, every sampled frame), in milliseconds,
   * counted from when the decode gets a slot of `limiter` (waiting for one is not the image's
   * fault); past it the decode fails with `image_timeout`. sharp's own `timeout` (whole seconds,
   * rounded up) stops the libvips work, but only between the regions it computes, not within one
   * native call (a libjpeg scan, lcms building a transform), so the slot can stay busy past the
   * budget: inputs known to run long in one call are refused or defused from their bytes first
   * (jpeg-markers.ts, icc-profile.ts). Default 10,000.
   */
  timeoutMs?: number;
  /**
   * The slots decodes take turns on. A decode holds its slot until its last sharp call has
   * ended, even one that lost the race against the deadline, so the slots bound the threadpool
   * threads decodes occupy. Default: the process's shared limiter, one slot fewer than libuv's
   * threadpool (UV_THREADPOOL_SIZE, default 4) and at most one per core (decode-limiter.ts).
   */
  limiter?: DecodeLimiter;
  /**
   * Longest side of the decoded working copy, in pixels. Images are shrunk on load (JPEG DCT
   * scaling, WebP/HEIF thumbnails) and never enlarged. 512 is enough for PDQ (it filters down
   * to 64x64), blockhash (16x16 blocks) and a 224x224 classifier input. Images longer than 4:1
   * are not shrunk evenly: the short side keeps min(its length, 128, workingSize) pixels (a
   * 4000x100 banner becomes 512x100, not 512x13), so PDQ and blockhash keep rows to sample; the
   * working copy stays within workingSize x workingSize. Default 512.
   */
  workingSize?: number;
  /**
   * Animated or multi-page images: at most this many frames are decoded, all of them when the
   * sampled range holds no more. Otherwise up to half of them are the frames a viewer shows
   * longest (by their delays; 0 to 10 ms count as the 100 ms browsers show), when the frames are
   * not all shown alike long, and the rest are evenly spaced from the first (always included) to
   * the last of the sampled range (sampleFrameIndices in decode.ts). The animation's last frame
   * (where a play-once animation stops) is always among them when its own decode fits
   * `maxAnimationPixels`; the budget then thins the evenly spaced ones instead, and fills the
   * slots they leave with a spread over the first frames (never fewer than maxFrames while they
   * fit). A GIF or animated WebP is first read once whole, each frame shrunk to a 32x32 grey
   * thumbnail (every pixel averaged), to find its scenes (runs of frames showing nearly the same
   * picture), when that pass and the frame-by-frame sample fit the budget together: shown time is
   * then counted per picture (the scenes showing nearly the same picture anywhere in the
   * animation, among the 64 it showed last), not per frame, and each sampled scene is decoded as
   * its last frame, or its first when the last does not fit. Multi-page TIFFs are not sampled: see
   * `maxTiffPages`. Default 8.
   */
  maxFrames?: number;
  /**
   * Pictures (or frames, when the scenes are not known) shown 1 s or more in all that are decoded beyond
   * `maxFrames`, when more of them than its slots: the longest shown first, within
   * `maxAnimationPixels`. An animation of more long scenes than this, plus half of `maxFrames`,
   * can hide one among them. 0 decodes none beyond `maxFrames`. Default 16.
   */
  maxLongScenes?: number;
  /**
   * Most pages of a TIFF: every page is decoded and hashed (viewers show them all, and a page
   * costs only its own decode); a TIFF of more is `image_too_complex`, never a sample of its
   * pages, nor is a TIFF whose pages hold more pixels in all than `maxAnimationPixels`.
   * Default 32.
   */
  maxTiffPages?: number;
  /**
   * Animated images are decoded frame by frame, and decoding frame N makes the decoder render
   * every frame before it. The sampled range is cut so that the frames rendered over all
   * sampled decodes, times the frame's pixels, stay within this: a 10,000-frame file costs what
   * the budget allows, not what it declares. An APNG's frames are rendered in one pass up to the
   * last one sampled, each counted as its canvas's pixels plus 65,536 (a sharp call of its own).
   * Each read of an animated WebP (a sampled frame's decode, the scene pass) is charged 3,000
   * pixels for every frame of the file, which libwebp walks on each read. A TIFF's pages, all
   * decoded, must hold no more in all. Default 200,000,000.
   */
  maxAnimationPixels?: number;
  /**
   * Which raster formats (sharp's names) are decoded. SVG, PDF, PostScript and other vector or
   * scriptable formats are refused (`image_format_refused`) whatever this says; a raster format
   * outside the list is `image_unsupported_format`.
   * Default ['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'] (heif covers AVIF).
   */
  allowedFormats?: readonly string[];
  /**
   * sharp's `failOn`: how damaged pixel data may be before decoding stops with `image_corrupt`.
   * 'truncated' and stricter levels reject a cut-off file instead of hashing a half-grey image.
   * Default 'error' (rejects truncation and decoder errors, tolerates mere warnings such as
   * trailing garbage, which are common in real uploads). A JPEG cut short whose EOI marker was put
   * back on is only a libjpeg warning: it decodes with its missing blocks grey (as a crop would
   * hide them). Telling that warning apart per decode is not possible: sharp collects libvips
   * warnings in one queue for the whole process, so a decode sees other decodes' warnings.
   */
  failOn?: FailOnLevel;
}

export type ResolvedDecodeOptions = Required<DecodeOptions>;

export const DEFAULT_DECODE_OPTIONS: ResolvedDecodeOptions = Object.freeze({
  maxInputBytes: 50 * 1024 * 1024,
  maxPixels: 50_000_000,
  maxDecodeBytes: 256 * 1024 * 1024,
  timeoutMs: 10_000,
  limiter: sharedDecodeLimiter,
  workingSize: 512,
  maxFrames: 8,
  maxLongScenes: 16,
  maxTiffPages: 32,
  maxAnimationPixels: 200_000_000,
  allowedFormats: Object.freeze(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']),
  failOn: 'error',
});

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`decode option ${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`decode option ${name} must be a non-negative integer, got ${value}`);
  return value;
}

/** Highest `maxTiffPages`: each page is a decode of its own, and its header a walk of the directory chain. */
export const MAX_TIFF_PAGES = 1000;

export function resolveDecodeOptions(options: DecodeOptions = {}): ResolvedDecodeOptions {
  const merged = { ...DEFAULT_DECODE_OPTIONS, ...withoutUndefined(options) };
  positiveInteger('maxInputBytes', merged.maxInputBytes);
  positiveInteger('maxPixels', merged.maxPixels);
  positiveInteger('maxDecodeBytes', merged.maxDecodeBytes);
  positiveInteger('timeoutMs', merged.timeoutMs);
  positiveInteger('workingSize', merged.workingSize);
  positiveInteger('maxFrames', merged.maxFrames);
  positiveInteger('maxAnimationPixels', merged.maxAnimationPixels);
  nonNegativeInteger('maxLongScenes', merged.maxLongScenes);
  positiveInteger('maxTiffPages', merged.maxTiffPages);
  if (merged.maxTiffPages > MAX_TIFF_PAGES) throw new RangeError(`decode option maxTiffPages must be at most ${MAX_TIFF_PAGES}, got ${merged.maxTiffPages}`);
  return merged;
}

function withoutUndefined(options: DecodeOptions): DecodeOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as DecodeOptions;
}
