/**
 * THE image decode of the project. Untrusted bytes go in; out comes the header facts and the
 * pixels, decoded once, upright, 8-bit RGB plus the alpha plane when the image has one, at a
 * bounded working size. Every consumer (blockhash, PDQ, a classifier) reads these pixels; none
 * decodes again.
 *
 * Alpha is kept apart, not composited, so that each consumer sees what its reference sees:
 * PDQ hashes the stored RGB and ignores alpha, as Meta's reference does (it reads channels 0-2);
 * blockhash counts a fully transparent pixel as white and reads the others' RGB, as the
 * blockhash-core package does; a classifier sees the image flattened onto white, as a viewer
 * would (alpha.ts has the two derived views). When the frame must shrink, libvips resizes with
 * premultiplied alpha: colours are weighted by their alpha, and a working pixel whose sources are
 * all fully transparent comes out black, whatever colour those sources stored.
 *
 * The working copy is shrunk to fit inside workingSize x workingSize, except that neither side is
 * shrunk below MIN_WORKING_SIDE (or its original length, if shorter): a 4000x100 banner becomes
 * 512x100, not 512x13, so PDQ's 64x64 grid and blockhash's 16x16 blocks still have rows to read.
 *
 * RGB and grey images keep their stored values: an embedded ICC profile is ignored, as Meta's PDQ
 * reference ignores it (and with it the hashes that hash-sharing programs exchange); converting a
 * Display P3 or Adobe RGB image through its profile moves PDQ by up to 16 bits. CMYK and other
 * spaces have no stored RGB and still go through their profile to sRGB.
 *
 * Order of checks, cheapest first, so hostile input is refused before it costs anything:
 * byte cap -> empty -> scriptable/vector sniff -> a decode slot (decode-limiter.ts; the time
 * budget starts once the decode has one) -> header (sharp metadata: format, declared dimensions,
 * frame count, interlacing; for TIFF, each decoded page's strips or tiles from tiff-header.ts) ->
 * pixel limit -> decode memory budget (the rows every decode holds, plus the whole image for the
 * formats that need it: decode-memory.ts) -> frame-by-frame decode under the time budget.
 */
import sharp, { type Metadata, type ResizeOptions, type SharpOptions } from 'sharp';
import { ScanError } from '../errors.js';
import { withDeadline } from '../runtime/deadline.js';
import { type HeldWholeDecode, bytesPerPixel, heldTiffDecode, heldWholeDecode, streamedRowBytes, tiffBytesPerPixel } from './decode-memory.js';
import { type DecodeOptions, type ResolvedDecodeOptions, resolveDecodeOptions } from './decode-options.js';
import { sniffRefusedDocument } from './sniff.js';
import { readTiffLayouts } from './tiff-header.js';

export type { DecodeOptions } from './decode-options.js';

// libvips's operation cache keeps recent operations, and the decoded buffers they hold, alive
// after the decode returns, frame 0's while frame 1 decodes: 16 decodes of a 34 KB 16383x3051
// GIF left 1.5 GB resident (235 MB without the cache). Untrusted images are decoded once each,
// so the cache never pays: off for the whole process, here, where the decode module loads.
sharp.cache(false);

/** One decoded frame: RGB, 3 bytes a pixel, row-major, no padding. */
export interface DecodedFrame {
  /** The stored RGB values, alpha left out (not composited): what PDQ hashes. */
  data: Buffer;
  /**
   * Alpha, 1 byte a pixel, row-major, when the frame has a pixel that is not fully opaque;
   * undefined for opaque frames. See alpha.ts for the views that take it into account.
   */
  alpha?: Buffer;
  width: number;
  height: number;
  /** Which frame of the file this is (0 for stills and for the first frame). */
  index: number;
}

export interface DecodedImage {
  /** sharp's name of the format found in the bytes: 'jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'. */
  format: string;
  /** Original dimensions, upright (after the EXIF orientation), of one frame. */
  width: number;
  height: number;
  /** Frames (pages) in the file: 1 for still images. */
  frameCount: number;
  /** Whether the original had an alpha channel (frames keep it apart, in `alpha`, when not all opaque). */
  hasAlpha: boolean;
  /** The decoded frames at working size; frames[0] is the first frame. */
  frames: DecodedFrame[];
}

/** Vector or scriptable formats sharp could identify, refused whatever `allowedFormats` says. */
const REFUSED_FORMATS = new Set(['svg', 'pdf', 'magick', 'openslide']);
/** sharp's names of the colour spaces whose stored values are decoded as they are (ICC profile ignored). */
const STORED_VALUE_SPACES = new Set(['srgb', 'rgb', 'rgb16', 'b-w', 'grey16']);
/** Formats whose pages are separate images, each with its own dimensions (animation frames share one canvas). */
const PAGED_FORMATS = new Set(['tiff', 'heif']);
/**
 * Shortest a side of the working copy is shrunk to (a shorter original side is kept as it is):
 * twice PDQ's 64-point grid, 8 pixels for each of blockhash's 16 blocks (never more than
 * workingSize). At the default working size of 512 it applies only to images longer than 4:1,
 * and the working copy still holds at most workingSize^2 pixels.
 */
export const MIN_WORKING_SIDE = 128;

export async function decodeImage(bytes: Uint8Array, options?: DecodeOptions): Promise<DecodedImage> {
  const limits = resolveDecodeOptions(options);
  if (bytes.byteLength > limits.maxInputBytes) {
    throw new ScanError('payload_too_large', undefined, { bytes: bytes.byteLength, limit: limits.maxInputBytes });
  }
  if (bytes.byteLength === 0) throw new ScanError('image_empty');
  const document = sniffRefusedDocument(bytes);
  if (document !== undefined) {
    if (document === 'gzip') throw new ScanError('image_unsupported_format', 'gzip-compressed data is not decoded', { format: document });
    throw new ScanError('image_format_refused', undefined, { format: document });
  }

  const release = await limits.limiter.acquire();
  // The deadline starts now that the decode has its slot: time spent waiting is not the image's fault.
  const turn = new DecodeTurn(Date.now() + limits.timeoutMs);
  try {
    // A view, not a copy: sharp only reads it.
    return await decodeInTurn(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), limits, turn);
  } finally {
    // A sharp call that lost the race against the deadline still holds its thread: so does the slot.
    void turn.ended().then(release);
  }
}

async function decodeInTurn(input: Buffer, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<DecodedImage> {
  const metadata = await turn.run(() => sharp(input, baseInputOptions(limits)).metadata());

  const format = metadata.format as string;
  if (REFUSED_FORMATS.has(format)) throw new ScanError('image_format_refused', undefined, { format });
  if (!limits.allowedFormats.includes(format)) {
    throw new ScanError('image_unsupported_format', `format ${format} is not decoded here`, { format });
  }
  const declaredPixels = metadata.width * metadata.height;
  if (!(declaredPixels > 0)) throw new ScanError('image_corrupt', 'the header declares no pixels', { format });
  if (declaredPixels > limits.maxPixels) {
    throw new ScanError('image_too_many_pixels', undefined, { width: metadata.width, height: metadata.height, limit: limits.maxPixels });
  }
  const frameCount = Math.max(1, metadata.pages ?? 1);
  const frameIndices = sampleFrameIndices(frameCount, declaredPixels, limits);
  const held = heldDecodeMemory(input, metadata, frameIndices);
  if (held.bytes > limits.maxDecodeBytes) {
    const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MiB`;
    const { unit, page } = held;
    const onPage = page ? ` (page ${page})` : '';
    const what = unit
      ? `${held.width}x${held.height} TIFF${onPage} is decoded a ${unit.width}x${unit.height} ${unit.kind} at a time`
      : held.held === STREAMED_ROWS
        ? `${held.width}x${held.height} ${format}${onPage} is decoded in rows ${held.width} pixels wide`
        : `${held.width}x${held.height} ${held.held}${onPage} is decoded whole`;
    throw new ScanError('image_too_many_pixels', `a ${what}: about ${mb(held.bytes)}, over the ${mb(limits.maxDecodeBytes)} decode memory budget`, {
      width: held.width,
      height: held.height,
      held: held.held,
      ...(unit ? { unit } : {}),
      ...(page !== undefined ? { page } : {}),
      decodeBytes: held.bytes,
      limitBytes: limits.maxDecodeBytes,
    });
  }

  const ignoreIcc = STORED_VALUE_SPACES.has(metadata.space);
  const width = metadata.autoOrient?.width ?? metadata.width;
  const height = metadata.autoOrient?.height ?? metadata.height;
  const frames: DecodedFrame[] = [];
  for (const index of frameIndices) {
    // The pages of a TIFF or HEIF may each have their own size: the working size is worked out from the page's.
    const page = index > 0 && PAGED_FORMATS.has(format) ? await turn.run(() => sharp(input, { ...baseInputOptions(limits), page: index }).metadata()) : metadata;
    const upright = page === metadata ? { width, height } : { width: page.autoOrient?.width ?? page.width, height: page.autoOrient?.height ?? page.height };
    const resize = workingResize(upright.width, upright.height, limits.workingSize);
    frames.push(await decodeFrame(input, { index, multiFrame: frameCount > 1, ignoreIcc, resize }, limits, turn));
  }
  return {
    format,
    width,
    height,
    frameCount,
    hasAlpha: metadata.hasAlpha,
    frames,
  };
}

interface HeldDecode extends HeldWholeDecode {
  width: number;
  height: number;
  /** For a TIFF, the page (0 = first) whose strips or tiles take the most. */
  page?: number;
}

/** `held` of a decode that holds nothing but its rows. */
const STREAMED_ROWS = 'rows';

/**
 * What the decode will hold at once, from the header: the rows it streams through the shrink,
 * plus the whole image for the formats that need it; for a TIFF, the largest over the pages to be
 * decoded of their rows and what their strips or tiles take (each page has its own layout, which
 * sharp's metadata does not report).
 */
function heldDecodeMemory(input: Buffer, metadata: Metadata, pages: readonly number[]): HeldDecode {
  const { width, height } = metadata;
  if (metadata.format !== 'tiff') {
    const rows = streamedRowBytes(width, height, bytesPerPixel(metadata));
    const whole = heldWholeDecode(metadata, pages.some((page) => page > 0));
    return { held: whole?.held ?? STREAMED_ROWS, bytes: (whole?.bytes ?? 0) + rows, width, height };
  }
  // One walk of the directory chain for all the pages, not one per page.
  const layouts = readTiffLayouts(input, pages);
  let largest: HeldDecode | undefined;
  for (const [i, page] of pages.entries()) {
    const layout = layouts[i];
    const size = { width: layout?.width ?? width, height: layout?.height ?? height };
    const pixelBytes = layout ? tiffBytesPerPixel(layout) : bytesPerPixel(metadata);
    const rows = streamedRowBytes(size.width, size.height, pixelBytes);
    const blocks = heldTiffDecode(layout, metadata);
    const held: HeldDecode = { ...(blocks ?? { held: STREAMED_ROWS }), bytes: (blocks?.bytes ?? 0) + rows, ...size, page };
    if (largest === undefined || held.bytes > largest.bytes) largest = held;
  }
  return largest!;
}

/** Highest frame (page) number sharp takes: its constructor throws for a later one. */
export const MAX_FRAME_INDEX = 100_000;

/**
 * Frame numbers to decode: the first, then evenly spaced up to the last frame of the range the
 * animation budget allows (and sharp reaches: MAX_FRAME_INDEX), at most `maxFrames` in all. Each
 * sampled frame is a separate decode that renders every frame before it, so the budget counts
 * frames rendered across all of them (sum of index + 1) times the frame's pixels; the range
 * shrinks until that fits.
 */
export function sampleFrameIndices(frameCount: number, pixelsPerFrame: number, limits: Pick<ResolvedDecodeOptions, 'maxFrames' | 'maxAnimationPixels'>): number[] {
  const pixels = Math.max(1, pixelsPerFrame);
  let range = Math.max(1, Math.min(frameCount, MAX_FRAME_INDEX + 1, Math.floor(limits.maxAnimationPixels / pixels)));
  for (;;) {
    const indices = spreadIndices(range, Math.min(range, limits.maxFrames));
    const rendered = indices.reduce((sum, index) => sum + index + 1, 0) * pixels;
    if (rendered <= limits.maxAnimationPixels || range === 1) return indices;
    range = Math.max(1, Math.min(range - 1, Math.floor((range * limits.maxAnimationPixels) / rendered)));
  }
}

/** `count` indices from 0 to range - 1, evenly spaced, both ends included. */
function spreadIndices(range: number, count: number): number[] {
  if (count <= 1) return [0];
  const indices = new Set<number>();
  for (let i = 0; i < count; i++) indices.add(Math.round((i * (range - 1)) / (count - 1)));
  return [...indices];
}

function baseInputOptions(limits: ResolvedDecodeOptions): SharpOptions {
  return { failOn: limits.failOn, limitInputPixels: limits.maxPixels, sequentialRead: true };
}

/**
 * The resize that takes an upright width x height frame to its working copy, or undefined when it
 * fits already (never enlarged). Within the usual aspect ratios, sharp's fit inside the
 * workingSize square; when that would take a side below MIN_WORKING_SIDE (or below its own
 * length, if shorter), each side is sized on its own: the long one to workingSize, the short one
 * to that floor. Every consumer samples a fixed grid whatever the aspect ratio (PDQ 64x64,
 * blockhash 16x16 blocks, a classifier its input size), so the stretch costs them nothing, while
 * a side shrunk to a few rows leaves PDQ's grid reading the same row over and over.
 */
export function workingResize(width: number, height: number, workingSize: number): ResizeOptions | undefined {
  if (width <= workingSize && height <= workingSize) return undefined;
  const scale = workingSize / Math.max(width, height);
  const floor = Math.min(workingSize, MIN_WORKING_SIDE);
  const target = (side: number): number => Math.max(Math.round(side * scale), Math.min(side, floor));
  if (target(width) === Math.round(width * scale) && target(height) === Math.round(height * scale)) {
    return { width: workingSize, height: workingSize, fit: 'inside', withoutEnlargement: true };
  }
  return { width: target(width), height: target(height), fit: 'fill' };
}

interface FrameChoice {
  index: number;
  multiFrame: boolean;
  /** Decode the stored values, not their conversion through the embedded ICC profile. */
  ignoreIcc: boolean;
  /** From workingResize: undefined when the frame is decoded at its own size. */
  resize: ResizeOptions | undefined;
}

async function decodeFrame(input: Buffer, { index, multiFrame, ignoreIcc, resize }: FrameChoice, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<DecodedFrame> {
  const remainingMs = turn.deadline - Date.now();
  if (remainingMs <= 0) throw new ScanError('image_timeout', undefined, { frame: index });
  const { data, info } = await turn.run(() => {
    let pipeline = sharp(input, { ...baseInputOptions(limits), autoOrient: true, ignoreIcc, ...(multiFrame ? { page: index, pages: 1 } : {}) })
      // sharp counts whole seconds; the JS deadline below enforces the exact budget.
      .timeout({ seconds: Math.min(3600, Math.ceil(remainingMs / 1000)) });
    if (resize) pipeline = pipeline.resize(resize);
    // Alpha, when there is one, comes out as a 4th channel, split off below: no compositing.
    return pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  });
  const frame = { width: info.width, height: info.height, index };
  if (info.channels === 3) return { data, ...frame };
  if (info.channels !== 4) throw new ScanError('image_corrupt', `decoded to ${info.channels} channels, expected 3 or 4`);
  return { ...splitAlpha(data, info.width * info.height), ...frame };
}

/** RGBA to RGB and, unless every pixel is opaque, the alpha plane. */
function splitAlpha(rgba: Buffer, pixels: number): Pick<DecodedFrame, 'data' | 'alpha'> {
  const data = Buffer.allocUnsafe(pixels * 3);
  const alpha = Buffer.allocUnsafe(pixels);
  let opaque = true;
  for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 4, o += 3) {
    data[o] = rgba[i]!;
    data[o + 1] = rgba[i + 1]!;
    data[o + 2] = rgba[i + 2]!;
    const a = rgba[i + 3]!;
    alpha[p] = a;
    if (a !== 255) opaque = false;
  }
  return opaque ? { data } : { data, alpha };
}

/** One decode's turn on its slot: its deadline, and the sharp calls it made. */
class DecodeTurn {
  private readonly calls: Promise<unknown>[] = [];

  constructor(readonly deadline: number) {}

  /**
   * Starts a sharp call and races it against the deadline, turning sharp's errors into error
   * codes: those of the call and those its constructor and option setters throw at once.
   */
  run<T>(start: () => Promise<T>): Promise<T> {
    let work: Promise<T>;
    try {
      work = start();
    } catch (error) {
      return Promise.reject(fromSharpError(error));
    }
    this.calls.push(work);
    const typed = work.catch((error: unknown) => Promise.reject(fromSharpError(error)));
    return withDeadline(typed, this.deadline - Date.now(), () => new ScanError('image_timeout'));
  }

  /** Settles once every sharp call of the turn has ended, the ones that lost the race included. */
  async ended(): Promise<void> {
    await Promise.allSettled(this.calls);
  }
}

/** sharp reports failures as plain Errors; their messages are the only thing to go on. */
export function fromSharpError(error: unknown): ScanError {
  if (error instanceof ScanError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const detail = { decoder: message.slice(0, 300) };
  if (/pixel limit/i.test(message)) return new ScanError('image_too_many_pixels', undefined, detail);
  if (/unsupported image format/i.test(message)) return new ScanError('image_unsupported_format', undefined, detail);
  // e.g. HEIC (HEVC), whose decoder the prebuilt libvips leaves out: a codec we lack, not damage.
  if (/not been built in|unsupported (codec|compression)/i.test(message)) return new ScanError('image_unsupported_format', undefined, detail);
  if (/timeout/i.test(message)) return new ScanError('image_timeout', undefined, detail);
  if (/buffer is empty/i.test(message)) return new ScanError('image_empty', undefined, detail);
  return new ScanError('image_corrupt', undefined, detail);
}
