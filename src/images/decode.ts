/**
 * THE image decode of the project. Untrusted bytes go in; out comes the header facts and the
 * pixels, decoded once, upright, flattened onto white, 8-bit RGB, at a bounded working size.
 * Every consumer (blockhash, PDQ, a classifier) reads these pixels; none decodes again.
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
 * pixel limit -> decode memory budget -> frame-by-frame decode under the time budget.
 */
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { ScanError } from '../errors.js';
import { withDeadline } from '../runtime/deadline.js';
import { type HeldWholeDecode, heldTiffDecode, heldWholeDecode } from './decode-memory.js';
import { type DecodeOptions, type ResolvedDecodeOptions, resolveDecodeOptions } from './decode-options.js';
import { sniffRefusedDocument } from './sniff.js';
import { readTiffLayouts } from './tiff-header.js';

export type { DecodeOptions } from './decode-options.js';

/** One decoded frame: RGB, 3 bytes a pixel, row-major, no padding. */
export interface DecodedFrame {
  data: Buffer;
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
  /** Whether the original had an alpha channel (it has been flattened onto white). */
  hasAlpha: boolean;
  /** The decoded frames at working size; frames[0] is the first frame. */
  frames: DecodedFrame[];
}

/** Vector or scriptable formats sharp could identify, refused whatever `allowedFormats` says. */
const REFUSED_FORMATS = new Set(['svg', 'pdf', 'magick', 'openslide']);
/** sharp's names of the colour spaces whose stored values are decoded as they are (ICC profile ignored). */
const STORED_VALUE_SPACES = new Set(['srgb', 'rgb', 'rgb16', 'b-w', 'grey16']);

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
  const metadata = await turn.within(sharp(input, baseInputOptions(limits)).metadata());

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
  if (held && held.bytes > limits.maxDecodeBytes) {
    const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MiB`;
    const { unit, page } = held;
    const onPage = page ? ` (page ${page})` : '';
    const what = unit
      ? `${held.width}x${held.height} TIFF${onPage} is decoded a ${unit.width}x${unit.height} ${unit.kind} at a time`
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
  const frames: DecodedFrame[] = [];
  for (const index of frameIndices) {
    frames.push(await decodeFrame(input, { index, multiFrame: frameCount > 1, ignoreIcc }, limits, turn));
  }
  return {
    format,
    width: metadata.autoOrient?.width ?? metadata.width,
    height: metadata.autoOrient?.height ?? metadata.height,
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

/**
 * What the decode will hold at once, from the header: the whole image for the formats that need
 * it; for a TIFF, the largest over the pages to be decoded of what their strips or tiles take
 * (each page has its own layout, which sharp's metadata does not report).
 */
function heldDecodeMemory(input: Buffer, metadata: Metadata, pages: readonly number[]): HeldDecode | undefined {
  if (metadata.format !== 'tiff') {
    const held = heldWholeDecode(metadata);
    return held && { ...held, width: metadata.width, height: metadata.height };
  }
  // One walk of the directory chain for all the pages, not one per page.
  const layouts = readTiffLayouts(input, pages);
  let largest: HeldDecode | undefined;
  for (const [i, page] of pages.entries()) {
    const layout = layouts[i];
    const held = heldTiffDecode(layout, metadata);
    if (held && (largest === undefined || held.bytes > largest.bytes)) {
      largest = { ...held, width: layout?.width ?? metadata.width, height: layout?.height ?? metadata.height, page };
    }
  }
  return largest;
}

/**
 * Frame numbers to decode: the first, then evenly spaced up to the last frame of the range the
 * animation budget allows, at most `maxFrames` in all. Each sampled frame is a separate decode
 * that renders every frame before it, so the budget counts frames rendered across all of them
 * (sum of index + 1) times the frame's pixels; the range shrinks until that fits.
 */
export function sampleFrameIndices(frameCount: number, pixelsPerFrame: number, limits: Pick<ResolvedDecodeOptions, 'maxFrames' | 'maxAnimationPixels'>): number[] {
  const pixels = Math.max(1, pixelsPerFrame);
  let range = Math.max(1, Math.min(frameCount, Math.floor(limits.maxAnimationPixels / pixels)));
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

interface FrameChoice {
  index: number;
  multiFrame: boolean;
  /** Decode the stored values, not their conversion through the embedded ICC profile. */
  ignoreIcc: boolean;
}

async function decodeFrame(input: Buffer, { index, multiFrame, ignoreIcc }: FrameChoice, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<DecodedFrame> {
  const remainingMs = turn.deadline - Date.now();
  if (remainingMs <= 0) throw new ScanError('image_timeout', undefined, { frame: index });
  const pipeline = sharp(input, { ...baseInputOptions(limits), autoOrient: true, ignoreIcc, ...(multiFrame ? { page: index, pages: 1 } : {}) })
    // sharp counts whole seconds; the JS deadline below enforces the exact budget.
    .timeout({ seconds: Math.min(3600, Math.ceil(remainingMs / 1000)) })
    .resize({ width: limits.workingSize, height: limits.workingSize, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' });
  const { data, info } = await turn.within(pipeline.toBuffer({ resolveWithObject: true }));
  if (info.channels !== 3) throw new ScanError('image_corrupt', `decoded to ${info.channels} channels, expected 3`);
  return { data, width: info.width, height: info.height, index };
}

/** One decode's turn on its slot: its deadline, and the sharp calls it made. */
class DecodeTurn {
  private readonly calls: Promise<unknown>[] = [];

  constructor(readonly deadline: number) {}

  /** Races a sharp call against the deadline and turns sharp's errors into error codes. */
  within<T>(work: Promise<T>): Promise<T> {
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
