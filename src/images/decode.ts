/**
 * THE image decode of the project. Untrusted bytes go in; out comes the header facts and the
 * pixels, decoded once, upright, 8-bit RGB plus the alpha plane when the image has one, at a
 * bounded working size. Every consumer (blockhash, PDQ, a classifier) reads these pixels; none
 * decodes again. The hashes read them in their stored orientation, as the references do (they
 * never apply EXIF orientation): a frame the decode turned upright names its EXIF orientation, and
 * orientation.ts turns it back, exactly (libvips turns after its resize, by a transpose or flip).
 *
 * Alpha is kept apart, not composited, so that each consumer sees what its reference sees:
 * PDQ hashes the stored RGB and ignores alpha, as Meta's reference does (it reads channels 0-2);
 * blockhash counts a fully transparent pixel as white and reads the others' RGB, as the
 * blockhash-core package does; a classifier sees the image flattened onto white, as a viewer
 * would (alpha.ts has the two derived views). When a frame with alpha must shrink, its RGB is
 * still the stored RGB, shrunk as if there were no alpha: each working pixel the plain average of
 * its sources' stored colours, fully transparent ones included, so an image hashes alike at any
 * size, whatever colour its transparent pixels store. libvips resizes an image that has alpha with
 * premultiplied alpha (its colours weighted by alpha, black where every source is fully
 * transparent), so such a frame is decoded twice: shrunk, for its alpha plane, and whole without
 * its alpha, for its RGB, resized on its own (decodeFrame; the memory budget counts the whole
 * frame's RGB). Frames without alpha, and frames that need no shrink, are decoded once.
 *
 * The working copy is shrunk to fit inside workingSize x workingSize, except that neither side is
 * shrunk below MIN_WORKING_SIDE (or its original length, if shorter): a 4000x100 banner becomes
 * 512x100, not 512x13, so PDQ's 64x64 grid and blockhash's 16x16 blocks still have rows to read.
 *
 * RGB and grey images keep their stored values: an embedded ICC profile is ignored, as Meta's PDQ
 * reference ignores it (and with it the hashes that hash-sharing programs exchange); converting a
 * Display P3 or Adobe RGB image through its profile moves PDQ by up to 16 bits. CMYK and other
 * spaces have no stored RGB and still go through their profile to sRGB, unless lcms could not
 * build that transform in bounded time (icc-profile.ts): then libvips's own CMYK profile is used.
 *
 * Order of checks, cheapest first, so hostile input is refused before it costs anything:
 * byte cap -> empty -> scriptable/vector sniff -> a PNG's metadata chunks dropped, which libpng
 * would inflate and copy on every read (png-chunks.ts) -> a JPEG of more than 100 scans refused,
 * since libjpeg walks the whole image once per scan in a call no timeout stops (jpeg-markers.ts)
 * -> an animated WebP of more than 10,000 frames refused (webp-frames.ts) -> an AVIF/HEIF holding
 * an image sequence (a moov box, which libavif may show instead of the still item libheif
 * decodes) refused (isobmff-boxes.ts) -> a decode slot (decode-limiter.ts; the time budget starts once the decode has one) -> header
 * (sharp metadata: format, declared dimensions, frame count, interlacing; for TIFF, each decoded
 * page's strips or tiles from tiff-header.ts; for a HEIF, its primary image, always decoded, first;
 * for an APNG, its frames from its fcTL and fdAT chunks,
 * which libpng skips: apng.ts) -> pixel limit -> decode memory budget (the rows every decode holds, plus the whole image for the
 * formats that need it, plus the whole frame's RGB of an image with alpha that must shrink:
 * decode-memory.ts; an APNG's canvas and every frame it replays: heldApngDecode, its sampled range cut to fit) -> frame-by-frame decode
 * under the time budget (an APNG's frames decoded one by one and composited in order, from the
 * last frame the canvas before it cannot change to each sampled one; its default image, when not a
 * frame, decoded too, as a still PNG), each frame's embedded ICC
 * profile used only if lcms can build its transform in bounded time (icc-profile.ts).
 */
import sharp, { type Metadata, type OutputInfo, type ResizeOptions, type Sharp, type SharpOptions } from 'sharp';
import { ScanError } from '../errors.js';
import { withDeadline } from '../runtime/deadline.js';
import {
  type DecodeHeader,
  type HeldWholeDecode,
  bytesPerPixel,
  heldStoredRgb,
  heldTiffDecode,
  heldWholeDecode,
  streamedRowBytes,
  tiffBytesPerPixel,
  tiffHasAlpha,
} from './decode-memory.js';
import { type DecodeOptions, type ResolvedDecodeOptions, resolveDecodeOptions } from './decode-options.js';
import { unboundedIccTag } from './icc-profile.js';
import { countJpegScans, MAX_JPEG_SCANS } from './jpeg-markers.js';
import { countWebpFrames, MAX_WEBP_FRAMES } from './webp-frames.js';
import { MAX_TOP_LEVEL_BOXES, readTopLevelBoxes } from './isobmff-boxes.js';
import { isTurned } from './orientation.js';
import { ApngCanvas, type Apng, type ApngFrame, buildFramePng, DISPOSE, framePngBytes, framesToRender, isApng, readApng } from './apng.js';
import { stripPngMetadata } from './png-chunks.js';
import { sniffRefusedDocument } from './sniff.js';
import { readTiffLayouts, type TiffLayout } from './tiff-header.js';

export type { DecodeOptions } from './decode-options.js';

// libvips's operation cache keeps recent operations, and the decoded buffers they hold, alive
// after the decode returns, frame 0's while frame 1 decodes: 16 decodes of a 34 KB 16383x3051
// GIF left 1.5 GB resident (235 MB without the cache). Untrusted images are decoded once each,
// so the cache never pays: off for the whole process, here, where the decode module loads.
sharp.cache(false);

/** One decoded frame: RGB, 3 bytes a pixel, row-major, no padding. */
export interface DecodedFrame {
  /**
   * The stored RGB values, alpha left out (not composited): what PDQ hashes. On a shrunk frame,
   * the stored RGB shrunk as if there were no alpha (not weighted by it).
   */
  data: Buffer;
  /**
   * Alpha, 1 byte a pixel, row-major, when the frame has a pixel that is not fully opaque;
   * undefined for opaque frames. See alpha.ts for the views that take it into account.
   */
  alpha?: Buffer;
  /**
   * On a frame shrunk with alpha: its RGB shrunk with each source weighted by its alpha (libvips's
   * resize: what a viewer's scaler shows), for the views that composite (alpha.ts). The same
   * buffer as `data` when the stored colours could not be kept (DecodedImage.transparentColoursLost).
   */
  alphaWeighted?: Buffer;
  width: number;
  height: number;
  /**
   * Which frame of the file this is (0 for stills and for the first frame). An APNG's default
   * image that is not one of its frames (apngDefaultImage) is numbered frameCount, one past the
   * animation's last frame.
   */
  index: number;
  /**
   * Set on an APNG's default image (its IDAT) when it is not a frame of the animation: APNG
   * viewers never show it, every decoder that does not know APNG shows nothing else. Decoded as
   * a still PNG, after the animation's sampled frames, numbered frameCount.
   */
  apngDefaultImage?: true;
  /**
   * The EXIF orientation (2 to 8) the decode turned this frame upright by; absent when the frame is
   * as stored. The hashes undo the turn (orientation.ts): PDQ and blockhash are taken on the pixels
   * in their stored orientation, as the references take them; everything else reads the frame upright.
   */
  orientation?: number;
}

export interface DecodedImage {
  /** sharp's name of the format found in the bytes: 'jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'. */
  format: string;
  /** Original dimensions, upright (after the EXIF orientation), of one frame (the hashes read it as stored: DecodedFrame.orientation). */
  width: number;
  height: number;
  /** Frames (pages) in the file: 1 for still images. */
  frameCount: number;
  /** Whether the original had an alpha channel (frames keep it apart, in `alpha`, when not all opaque). */
  hasAlpha: boolean;
  /**
   * The decoded frames at working size; frames[0] is the first frame. An APNG's default image
   * that is not a frame of its animation comes last (DecodedFrame.apngDefaultImage).
   */
  frames: DecodedFrame[];
  /**
   * True when a frame with alpha was shrunk without its stored colours: decoding it a second time
   * for them would have gone over the decode memory budget, so its RGB is alpha-weighted only
   * (fully transparent areas black to PDQ, whatever colour they store).
   */
  transparentColoursLost?: boolean;
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

  // A view, not a copy (sharp only reads it), unless a PNG has chunks to drop.
  const input = stripPngMetadata(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (limits.allowedFormats.includes('jpeg') && (countJpegScans(input, MAX_JPEG_SCANS) ?? 0) > MAX_JPEG_SCANS) {
    throw new ScanError('image_too_complex', `a JPEG of more than ${MAX_JPEG_SCANS} scans: libjpeg would decode the whole image once per scan`, {
      format: 'jpeg',
      limitScans: MAX_JPEG_SCANS,
    });
  }
  if (limits.allowedFormats.includes('webp') && (countWebpFrames(input, MAX_WEBP_FRAMES) ?? 0) > MAX_WEBP_FRAMES) {
    throw new ScanError('image_too_complex', `an animated WebP of more than ${MAX_WEBP_FRAMES} frames: libwebp walks every frame on each read of the file`, {
      format: 'webp',
      limitFrames: MAX_WEBP_FRAMES,
    });
  }

  if (limits.allowedFormats.includes('heif')) refuseImageSequence(input);

  const release = await limits.limiter.acquire();
  // The deadline starts now that the decode has its slot: time spent waiting is not the image's fault.
  const turn = new DecodeTurn(Date.now() + limits.timeoutMs);
  try {
    return await decodeInTurn(input, limits, turn);
  } finally {
    // A sharp call that lost the race against the deadline still holds its thread: so does the slot.
    void turn.ended().then(release);
  }
}

/**
 * Refuses an ISOBMFF file (HEIF, AVIF) holding an image sequence, a `moov` box at its top level,
 * before any decoder sees it: libheif (libvips) decodes its still primary item, while libavif
 * (Chrome) shows the sequence unless the major brand is 'avif' (isobmff-boxes.ts). The sequence is
 * not decoded here, so neither is the file: image_unsupported_format, as libvips refuses a file
 * whose major brand is 'avis'. A file of more boxes than the walk reads is refused alike, since a
 * `moov` could follow them.
 */
function refuseImageSequence(input: Buffer): void {
  const top = readTopLevelBoxes(input);
  if (top === undefined) return;
  if (top.boxes.some((box) => box.type === 'moov')) {
    throw new ScanError('image_unsupported_format', 'AVIF/HEIF image sequence (a moov track) is not decoded', { format: 'heif', box: 'moov' });
  }
  if (top.tooMany) {
    throw new ScanError('image_unsupported_format', `an AVIF/HEIF of more than ${MAX_TOP_LEVEL_BOXES} top-level boxes is not decoded`, {
      format: 'heif',
      limitBoxes: MAX_TOP_LEVEL_BOXES,
    });
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
  // An APNG's frames are in chunks libpng skips (sharp reports one page): read them here (apng.ts).
  const apngRead = format === 'png' ? readApng(input) : {};
  const apng = isApng(apngRead) ? apngRead : undefined;
  if (apng && apng.frames.length > MAX_APNG_FRAMES) {
    throw new ScanError('image_too_complex', `an APNG of more than ${MAX_APNG_FRAMES} frames`, { format, limitFrames: MAX_APNG_FRAMES });
  }
  const frameCount = apng ? apng.frames.length : Math.max(1, metadata.pages ?? 1);
  if (format === 'tiff' && frameCount > limits.maxTiffPages) {
    throw new ScanError('image_too_complex', `a TIFF of more than ${limits.maxTiffPages} pages: every page of a TIFF is decoded, as viewers show them all`, {
      format,
      pages: frameCount,
      limitPages: limits.maxTiffPages,
    });
  }
  // The page the header describes: a HEIF's primary item (pitm, what viewers show and what sharp
  // reads without `page`), which need not be its first top-level image; page 0 for the others.
  const headerPage = format === 'heif' ? primaryPage(metadata, frameCount) : 0;
  // An APNG's sampled frames are picked below, once its decode memory is known (sampleApngFrames).
  let frameIndices = apng
    ? []
    : format === 'heif'
      ? sampleHeifPages(frameCount, headerPage, declaredPixels, limits)
      : format === 'tiff'
        ? // Every page (at most maxTiffPages): viewers show them all, and a page costs only its own decode.
          Array.from({ length: frameCount }, (_, page) => page)
        : sampleFrameIndices(frameCount, declaredPixels, limits, { delays: metadata.delay, decodePixels: webpWalkPixels(format, frameCount) });
  // A TIFF's pages are sized from one walk of its directory chain (readTiffLayouts); a page whose
  // directory that walk leaves unread (two copies of a tag that disagree: libtiff keeps the first)
  // is read as libvips reads it, as a HEIF's other images are, not taken for page 0's size.
  const tiffLayouts = format === 'tiff' ? readTiffLayouts(input, frameIndices) : undefined;
  const unreadTiffPages = tiffLayouts ? frameIndices.filter((page, i) => page !== 0 && tiffLayouts[i] === undefined) : [];
  // A HEIF's images are each sized on their own and decoded whole: a small primary image must
  // not vouch for a huge other one, so every sampled one is read and checked before any decode.
  const heifPages = format === 'heif' ? await readOtherPages(input, frameIndices, headerPage, limits, turn) : new Map<number, Metadata>();
  const otherPages = tiffLayouts ? await readOtherPages(input, unreadTiffPages, 0, limits, turn) : heifPages;
  if (tiffLayouts) refuseTiffOverBudget(metadata, frameIndices, tiffLayouts, otherPages, limits);
  for (const [page, header] of heifPages) {
    const pixels = header.width * header.height;
    if (!(pixels > 0)) throw new ScanError('image_corrupt', `the header of page ${page} declares no pixels`, { format, page });
    if (pixels > limits.maxPixels) {
      throw new ScanError('image_too_many_pixels', undefined, { width: header.width, height: header.height, page, limit: limits.maxPixels });
    }
  }
  // An APNG's estimate depends on the frames replayed: checked here with frame 0 alone, the
  // sampled range then cut to what fits (sampleApngFrames).
  const apngHeld = apng && ((indices: readonly number[]) => heldApngDecode(metadata, apng, limits.workingSize, indices));
  const held = apngHeld ? apngHeld([0]) : heldDecodeMemory(input, metadata, headerPage, frameIndices, limits.workingSize, otherPages, tiffLayouts);
  // The second decode for stored colours is what goes over the budget: shrink with alpha weights
  // only (transparent areas black to PDQ), and say so, rather than refuse an image that fits.
  const storedColours = hasStoredColours(format) && held.bytes <= limits.maxDecodeBytes;
  const heldBytes = storedColours ? held.bytes : held.bytes - (held.storedRgbBytes ?? 0);
  if (heldBytes > limits.maxDecodeBytes) {
    const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MiB`;
    const { unit, page } = held;
    // A TIFF names page 0 too; a HEIF names a page only when it is not the primary one the header describes.
    const onPage = page !== undefined && (page > 0 || format === 'heif') ? ` (page ${page})` : '';
    const what = unit
      ? `${held.width}x${held.height} TIFF${onPage} is decoded a ${unit.width}x${unit.height} ${unit.kind} at a time`
      : held.held === STREAMED_ROWS
        ? `${held.width}x${held.height} ${format}${onPage} is decoded in rows ${held.width} pixels wide`
        : `${held.width}x${held.height} ${held.held}${onPage} is decoded whole`;
    throw new ScanError('image_too_many_pixels', `a ${what}: about ${mb(heldBytes)}, over the ${mb(limits.maxDecodeBytes)} decode memory budget`, {
      width: held.width,
      height: held.height,
      held: held.held,
      ...(unit ? { unit } : {}),
      ...(page !== undefined ? { page } : {}),
      decodeBytes: heldBytes,
      limitBytes: limits.maxDecodeBytes,
    });
  }

  // A GIF's or animated WebP's scenes, when one more pass over all its frames is affordable: the
  // frames are then sampled by scene (sceneSampling).
  if (SCENE_FORMATS.has(format) && frameCount > limits.maxFrames && limits.maxFrames > 1) {
    frameIndices = await sceneSampling(input, metadata, frameCount, declaredPixels, limits, limits.maxDecodeBytes - heldBytes, turn, frameIndices) ?? frameIndices;
  }

  const width = metadata.autoOrient?.width ?? metadata.width;
  const height = metadata.autoOrient?.height ?? metadata.height;
  const frames: DecodedFrame[] = [];
  if (apng && apngHeld) {
    const dropped = storedColours ? 0 : (held.storedRgbBytes ?? 0);
    frameIndices = sampleApngFrames(apng, declaredPixels, limits, (indices) => apngHeld(indices).bytes - dropped);
    const resize = workingResize(width, height, limits.workingSize);
    const orientation = metadata.orientation ?? 1;
    // The default image first (nothing else held yet), listed last: frames[0] stays the animation's first frame.
    const defaultImage = apng.defaultImageIsFrame
      ? undefined
      : await decodeFrame(input, { index: frameCount, multiFrame: false, ignoreIcc: ignoresIcc(metadata), orientation, resize, storedColours }, limits, turn);
    frames.push(...(await decodeApngFrames(input, apng, frameIndices, { orientation, resize, storedColours }, limits, turn)));
    if (defaultImage) frames.push({ ...defaultImage, apngDefaultImage: true });
  }
  for (const index of apng ? [] : frameIndices) {
    // The pages of a TIFF or HEIF may each have their own size: the working size is worked out from the page's.
    const page = index !== headerPage && PAGED_FORMATS.has(format) ? (heifPages.get(index) ?? (await readPage(input, index, limits, turn))) : metadata;
    const upright = page === metadata ? { width, height } : { width: page.autoOrient?.width ?? page.width, height: page.autoOrient?.height ?? page.height };
    const resize = workingResize(upright.width, upright.height, limits.workingSize);
    frames.push(await decodeFrame(input, { index, multiFrame: frameCount > 1, ignoreIcc: ignoresIcc(page), orientation: page.orientation ?? 1, resize, storedColours }, limits, turn));
  }
  return {
    format,
    width,
    height,
    frameCount,
    // An APNG's canvas is transparent where no frame has painted (or a frame was disposed of).
    hasAlpha: metadata.hasAlpha || frames.some((frame) => frame.alpha !== undefined),
    frames,
    ...(hasStoredColours(format) && !storedColours && frames.some((frame) => frame.alphaWeighted === frame.data) && { transparentColoursLost: true }),
  };
}

/** Formats whose frames are found in scenes (sceneSampling): libvips's GIF and WebP loaders read all the frames in one pass (`pages: -1`). */
const SCENE_FORMATS = new Set(['gif', 'webp']);
/** Side of the grey thumbnail each frame is shrunk to, to find scenes (never enlarged). */
export const SCENE_THUMBNAIL_SIDE = 32;
/**
 * Mean absolute difference (grey levels, 0 to 255) between a frame's thumbnail and its scene's first
 * frame's above which the frame starts a new scene. Unrelated photos differ by 40 to 70 at 32x32,
 * the same photo re-encoded (JPEG q20, half size, grey) by under 1, a changed pixel of a 256x256
 * frame by under 0.2; comparing with the scene's first frame, not the frame before, splits a slow
 * fade, whose steps are each small.
 */
export const SCENE_DIFFERENCE = 8;
/**
 * What the scene pass costs a frame besides its pixels, in pixels, against maxAnimationPixels
 * (measured: 10,000 1x1 GIF frames in 36 ms, about 10 ns a pixel of GIF frames).
 */
export const SCENE_FRAME_PIXELS = 400;
/**
 * What libwebp's walk over one frame of an animated WebP costs each read of the file, in pixels
 * against maxAnimationPixels: every read (each sampled frame's decode, the scene pass) walks all
 * the frames, whichever one it decodes (measured: a read of a 10,000-frame WebP of 16x16 frames
 * took 300 ms for frame 0, about 30 us a frame, 3,000 pixels at about 10 ns a pixel).
 */
export const WEBP_FRAME_WALK_PIXELS = 3_000;

/** The pixels charged to each read of an animated WebP for the frames libwebp walks (0 for other formats). */
export function webpWalkPixels(format: string | undefined, frameCount: number): number {
  return format === 'webp' && frameCount > 1 ? frameCount * WEBP_FRAME_WALK_PIXELS : 0;
}

/**
 * The size of TIFF page `pages[i]`: from its directory (`layouts`, readTiffLayouts), else as
 * libvips read it (`unread`, readOtherPages), else the header's (page 0).
 */
function tiffPageSize(metadata: Metadata, pages: readonly number[], i: number, layouts: readonly (TiffLayout | undefined)[], unread: ReadonlyMap<number, Metadata>): { width: number; height: number } {
  const { width, height } = layouts[i] ?? unread.get(pages[i]!) ?? metadata;
  return { width, height };
}

/**
 * Refuses a TIFF whose pages (every one is decoded) hold more pixels in all than
 * maxAnimationPixels: image_too_complex, as for more than maxTiffPages (sizes: tiffPageSize).
 */
function refuseTiffOverBudget(metadata: Metadata, pages: readonly number[], layouts: readonly (TiffLayout | undefined)[], unread: ReadonlyMap<number, Metadata>, limits: ResolvedDecodeOptions): void {
  if (pages.length < 2) return;
  const pixels = pages.reduce((sum, _, i) => {
    const { width, height } = tiffPageSize(metadata, pages, i, layouts, unread);
    return sum + width * height;
  }, 0);
  if (pixels > limits.maxAnimationPixels) {
    throw new ScanError(
      'image_too_complex',
      `a TIFF of ${pages.length} pages holding ${pixels} pixels in all, over the ${limits.maxAnimationPixels} pixel animation budget: every page of a TIFF is decoded`,
      { format: 'tiff', pages: pages.length, pixels, limitPixels: limits.maxAnimationPixels },
    );
  }
}

/**
 * The frames to decode of a GIF or animated WebP, by scene: one pass decodes every frame, each
 * shrunk to a SCENE_THUMBNAIL_SIDE grey thumbnail (flattened on white, every source pixel
 * averaged), which scenesFromThumbnails splits into scenes and picturesOfScenes groups into
 * pictures; then sampleFrameIndices over them, within what the pass left of the budget, filled up
 * with frames of `byFrame` (the frame-by-frame sample) to as many as it has, or as many as the
 * scenes, while they fit. Undefined (sample by frame) when the pass is not affordable: its frames
 * (each counted as its pixels plus SCENE_FRAME_PIXELS, plus a WebP's walk: webpWalkPixels) and
 * `byFrame`'s decodes must fit maxAnimationPixels together, so that the pass never leaves fewer
 * frames decoded than without it (as do the last frame's with frame 0's); a WebP's pass can hold about every frame's RGBA (libwebp's
 * frames: 400 256x256 frames grew the process by 104 MiB), which must fit what the decode memory
 * budget has left (`freeBytes`). Undefined too when the pass fails but for the deadline, which
 * the decode then meets frame by frame, as without scenes.
 */
async function sceneSampling(
  input: Buffer,
  metadata: Metadata,
  frameCount: number,
  pixelsPerFrame: number,
  limits: ResolvedDecodeOptions,
  freeBytes: number,
  turn: DecodeTurn,
  byFrame: readonly number[],
): Promise<number[] | undefined> {
  const decodePixels = webpWalkPixels(metadata.format, frameCount);
  const sampling = { delays: metadata.delay, decodePixels };
  const passPixels = frameCount * (pixelsPerFrame + SCENE_FRAME_PIXELS) + decodePixels;
  const left = limits.maxAnimationPixels - passPixels;
  if (frameCount - 1 > MAX_FRAME_INDEX || sampleCost([0, frameCount - 1], pixelsPerFrame, sampling) > left) return undefined;
  // The pass must leave what the frame-by-frame sample costs: on a large GIF, it would otherwise
  // take the budget of the frames it was to choose better (300 512x512 frames: 8 hashed, then 4).
  if (sampleCost(byFrame, pixelsPerFrame, sampling) > left) return undefined;
  if (metadata.format === 'webp' && frameCount * pixelsPerFrame * 4 > freeBytes) return undefined;
  let thumbnails: { data: Buffer; info: OutputInfo };
  try {
    thumbnails = await turn.run(() =>
      sharp(input, { ...baseInputOptions(limits), limitInputPixels: frameCount * pixelsPerFrame, pages: -1, animated: true })
        .timeout({ seconds: timeoutSeconds(turn, 0) })
        // The default kernel, which averages every source pixel (a box shrink, then lanczos3): 'nearest'
        // read 1,024 pixels of a 512x512 frame, and a picture carrying another's values at just those
        // pixels joined its scene (and went unhashed). It costs more (654 ms, not 270, for 300 512x512 frames).
        .resize(SCENE_THUMBNAIL_SIDE, SCENE_THUMBNAIL_SIDE, { fit: 'fill', withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .greyscale()
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true }),
    );
  } catch (error) {
    if (error instanceof ScanError && error.code === 'image_timeout') throw error;
    return undefined;
  }
  const { data, info } = thumbnails;
  const pageHeight = info.pageHeight ?? info.height;
  if (info.channels !== 1 || (info.pages ?? 1) !== frameCount || pageHeight * frameCount !== info.height) return undefined;
  const scenes = picturesOfScenes(data, info.width * pageHeight, scenesFromThumbnails(data, info.width * pageHeight, frameCount, metadata.delay));
  const sampled = sampleFrameIndices(frameCount, pixelsPerFrame, { ...limits, maxAnimationPixels: left }, { ...sampling, scenes });
  // Never fewer frames than the frame-by-frame sample (which fits what the pass left): its frames fill up the scenes' sample.
  const frames = new Set(sampled);
  for (const frame of byFrame) {
    if (frames.size >= Math.min(byFrame.length, scenes.length) || frames.has(frame)) continue;
    if (sampleCost([...frames, frame], pixelsPerFrame, sampling) <= left) frames.add(frame);
  }
  return [...frames].sort((a, b) => a - b);
}

/**
 * The scenes of an animation from its frames' grey thumbnails (`thumbnails`: frameCount of
 * `pixelsPerThumbnail` bytes, in order): a frame whose mean absolute difference from the first
 * frame of the current scene is above SCENE_DIFFERENCE starts a new one. Each scene is shown the
 * sum of its frames' shownMs (`delays` as the file declares them).
 */
export function scenesFromThumbnails(thumbnails: Uint8Array, pixelsPerThumbnail: number, frameCount: number, delays: readonly (number | undefined)[] | undefined): Scene[] {
  const scenes: Scene[] = [];
  let scene: Scene | undefined;
  for (let frame = 0; frame < frameCount; frame++) {
    if (scene === undefined || thumbnailDifference(thumbnails, pixelsPerThumbnail, scene.first, frame) > SCENE_DIFFERENCE) {
      scene = { first: frame, last: frame, shownMs: 0 };
      scenes.push(scene);
    }
    scene.last = frame;
    scene.shownMs += shownMs(delays?.[frame]);
  }
  return scenes;
}

/**
 * Most pictures a scene is compared with (picturesOfScenes): the first MAX_PICTURES distinct ones
 * of the animation. A scene of none of them is a picture of its own.
 */
export const MAX_PICTURES = 64;
/**
 * Most thumbnail pixels picturesOfScenes compares in all (about 50 ms): the comparisons run on the
 * event loop, and 80,000 scenes of 32x32 frames against 64 pictures would take seconds. Past it,
 * each remaining scene is a picture of its own.
 */
export const MAX_PICTURE_COMPARE_PIXELS = 50_000_000;

/**
 * The scenes with the picture each shows (Scene.picture): a scene whose first frame's thumbnail is
 * within SCENE_DIFFERENCE of the first frame of an earlier scene's picture (one of the
 * MAX_PICTURES shown most recently) shows that picture. A picture shown in alternation with another (every 100 ms, as
 * 99 scenes of one frame) is then shown its scenes' time in all, and is picked as one of the
 * longest shown.
 */
export function picturesOfScenes(thumbnails: Uint8Array, pixelsPerThumbnail: number, scenes: readonly Scene[]): Scene[] {
  // Most recently shown first: a picture shown in alternation stays near the front, whatever
  // came before it (64 brief decoys first filled a first-come list and hid the alternation).
  const pictures: number[] = [];
  let compareLeft = MAX_PICTURE_COMPARE_PIXELS;
  return scenes.map((scene, i) => {
    const at = pictures.findIndex((picture) => {
      if (compareLeft < pixelsPerThumbnail) return false;
      compareLeft -= pixelsPerThumbnail;
      return thumbnailDifference(thumbnails, pixelsPerThumbnail, scenes[picture]!.first, scene.first) <= SCENE_DIFFERENCE;
    });
    const picture = at >= 0 ? pictures.splice(at, 1)[0]! : i;
    pictures.unshift(picture);
    if (pictures.length > MAX_PICTURES) pictures.pop();
    return { ...scene, picture };
  });
}

/** Mean absolute difference between thumbnails `a` and `b` (cut short once it is over SCENE_DIFFERENCE). */
function thumbnailDifference(thumbnails: Uint8Array, pixels: number, a: number, b: number): number {
  const over = SCENE_DIFFERENCE * pixels;
  let sum = 0;
  for (let p = 0, i = a * pixels, j = b * pixels; p < pixels && sum <= over; p++, i++, j++) sum += Math.abs(thumbnails[i]! - thumbnails[j]!);
  return sum / pixels;
}

/**
 * Whether a format's transparent pixels have colours of their own to keep. Not a GIF's: libvips
 * gives every GIF an alpha band, and a transparent GIF pixel is a palette index, not a colour.
 */
function hasStoredColours(format: string | undefined): boolean {
  return format !== 'gif';
}

/**
 * Whether the page is decoded without its embedded ICC profile: its stored values are kept (RGB,
 * grey), or lcms must not be handed the profile (icc-profile.ts). Each page's own: a TIFF's pages
 * have their own spaces and profiles.
 */
function ignoresIcc(page: Metadata): boolean {
  return STORED_VALUE_SPACES.has(page.space) || (page.icc !== undefined && unboundedIccTag(page.icc) !== undefined);
}

/** One page's header (sharp's metadata with `page`). */
function readPage(input: Buffer, page: number, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<Metadata> {
  return turn.run(() => sharp(input, { ...baseInputOptions(limits), page }).metadata());
}

/** The headers of `pages` other than `headerPage` (whose header the decode has), by page number. */
async function readOtherPages(input: Buffer, pages: readonly number[], headerPage: number, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<Map<number, Metadata>> {
  const headers = new Map<number, Metadata>();
  for (const page of pages) if (page !== headerPage) headers.set(page, await readPage(input, page, limits, turn));
  return headers;
}

/**
 * A HEIF's primary page: sharp's `pagePrimary`, the position of the primary item (pitm) among the
 * top-level images (the numbering `page` takes), 0 when sharp reports none or one out of range.
 */
function primaryPage(metadata: Metadata, frameCount: number): number {
  const primary = metadata.pagePrimary;
  return primary !== undefined && Number.isInteger(primary) && primary >= 0 && primary < frameCount ? primary : 0;
}

/**
 * The pages of a HEIF to decode: its primary one (what a viewer shows) always, first, so that
 * frames[0] is the image the file is shown as; then the others sampleFrameIndices picks (evenly
 * spread over the top-level images, all of them when they are no more than maxFrames), to
 * maxFrames in all. Without this the primary image of a file of more than maxFrames images could
 * be one the spread skips, and be never decoded.
 */
export function sampleHeifPages(frameCount: number, primary: number, pixelsPerPage: number, limits: Pick<ResolvedDecodeOptions, 'maxFrames' | 'maxAnimationPixels'>): number[] {
  const sampled = sampleFrameIndices(frameCount, pixelsPerPage, limits);
  if (sampled.includes(primary)) return [primary, ...sampled.filter((page) => page !== primary)];
  if (limits.maxFrames === 1) return [primary];
  // The others spread over the pages but the primary one (positions past it one page on).
  const others = sampleFrameIndices(frameCount - 1, pixelsPerPage, { ...limits, maxFrames: limits.maxFrames - 1 });
  return [primary, ...others.map((position) => (position < primary ? position : position + 1))];
}

interface HeldDecode extends HeldWholeDecode {
  width: number;
  height: number;
  /** For a TIFF, the page (0 = first) whose decode takes the most; for a HEIF, that page when it is not the primary one. */
  page?: number;
  /** Of `bytes`, what decoding a frame with alpha whole again, for its stored RGB, adds (heldStoredRgb). */
  storedRgbBytes?: number;
}

/** `held` of a decode that holds nothing but its rows. */
const STREAMED_ROWS = 'rows';

/**
 * What the decode will hold at once, from the header: the rows it streams through the shrink,
 * plus the whole image for the formats that need it; for a HEIF, the largest over the sampled
 * images (`otherPages` holds the headers of those other than `headerPage`, the primary one); for
 * a TIFF, the largest over the pages to be decoded of their rows and what their strips or tiles
 * take (each page has its own layout, `tiffLayouts`, which sharp's metadata does not report; a
 * page without one is sized by `otherPages`: tiffPageSize). A frame with alpha larger than the working size adds the
 * whole frame's RGB, decoded again for its stored colours (decodeFrame, heldStoredRgb).
 */
function heldDecodeMemory(
  input: Buffer,
  metadata: Metadata,
  headerPage: number,
  pages: readonly number[],
  workingSize: number,
  otherPages: ReadonlyMap<number, Metadata>,
  tiffLayouts: readonly (TiffLayout | undefined)[] | undefined,
): HeldDecode {
  const storedRgb = (hasAlpha: boolean, size: { width: number; height: number }, header: Metadata = metadata): number =>
    hasAlpha && hasStoredColours(metadata.format) && workingResize(size.width, size.height, workingSize) !== undefined ? heldStoredRgb({ ...header, ...size }, input) : 0;
  if (metadata.format !== 'tiff') {
    const heldFor = (header: Metadata, page: number, laterFrame: boolean): HeldDecode => {
      const rows = streamedRowBytes(header.width, header.height, bytesPerPixel(header));
      const whole = heldWholeDecode(header, laterFrame, input);
      const storedRgbBytes = storedRgb(header.hasAlpha, header, header);
      return {
        held: whole?.held ?? STREAMED_ROWS,
        bytes: (whole?.bytes ?? 0) + rows + storedRgbBytes,
        width: header.width,
        height: header.height,
        ...(page !== headerPage ? { page } : {}),
        ...(storedRgbBytes ? { storedRgbBytes } : {}),
      };
    };
    // Frames of an animation share the first one's canvas; a HEIF's other pages were read on their own.
    let largest = heldFor(metadata, headerPage, pages.some((page) => page > 0));
    for (const [page, header] of otherPages) {
      const held = heldFor(header, page, true);
      if (held.bytes > largest.bytes) largest = held;
    }
    return largest;
  }
  // One walk of the directory chain for all the pages, not one per page (decodeImage's).
  const layouts = tiffLayouts ?? readTiffLayouts(input, pages);
  let largest: HeldDecode | undefined;
  for (const [i, page] of pages.entries()) {
    const layout = layouts[i];
    const size = tiffPageSize(metadata, pages, i, layouts, otherPages);
    const pixelBytes = layout ? tiffBytesPerPixel(layout) : bytesPerPixel(metadata);
    const rows = streamedRowBytes(size.width, size.height, pixelBytes);
    const blocks = heldTiffDecode(layout, metadata);
    // The header's hasAlpha is the first page's; a later page's samples tell its own (unread: assume it has).
    const storedRgbBytes = storedRgb(page === 0 ? metadata.hasAlpha : layout === undefined || tiffHasAlpha(layout), size);
    const held: HeldDecode = {
      ...(blocks ?? { held: STREAMED_ROWS }),
      bytes: (blocks?.bytes ?? 0) + rows + storedRgbBytes,
      ...size,
      page,
      ...(storedRgbBytes ? { storedRgbBytes } : {}),
    };
    if (largest === undefined || held.bytes > largest.bytes) largest = held;
  }
  return largest!;
}

/** Highest frame (page) number sharp takes: its constructor throws for a later one. */
export const MAX_FRAME_INDEX = 100_000;

/**
 * A scene of an animation: frames `first` to `last`, a run showing nearly the same picture
 * (scenesFromThumbnails), shown `shownMs` in all (the sum of its frames' shownMs).
 */
export interface Scene {
  first: number;
  last: number;
  shownMs: number;
  /**
   * The picture the scene shows (picturesOfScenes): the number of the first scene showing it.
   * Scenes of one picture share its shown time when the longest shown are picked. Absent: a
   * picture of its own.
   */
  picture?: number;
}

/** How an animation's frames are sampled, besides its frame count and size (sampleFrameIndices). */
export interface FrameSampling {
  /**
   * Each frame's delay as the file declares it, in milliseconds (sharp's `delay` for a GIF or
   * WebP, the fcTL's for an APNG); missing ones count as the shortest.
   */
  delays?: readonly (number | undefined)[];
  /**
   * What decoding the sampled frames renders. 'restart' (libvips's GIF and WebP loaders): each
   * sampled frame is a decode of its own that renders every frame before it, so the budget counts
   * the sum of (index + 1). 'replay' (an APNG, apng.ts): one pass renders the frames in order up
   * to the last one sampled, so it counts (last index + 1).
   */
  cost?: 'restart' | 'replay';
  /**
   * Pixels charged to each sampled frame's decode besides the frames it renders: an animated
   * WebP's, libwebp walking every frame of the file on each read (WEBP_FRAME_WALK_PIXELS times the
   * frame count; webpWalkPixels). 0 when not given.
   */
  decodePixels?: number;
  /**
   * The animation's scenes, in order, covering frames 0 to frameCount - 1 (scenesFromThumbnails):
   * shown time is counted per scene, and a sampled scene is decoded as its last frame (the first
   * scene as frame 0). Without them, each frame is a scene of its own, shown its delay.
   */
  scenes?: readonly Scene[];
}

/**
 * Delays of at most this many milliseconds are shown for SHORT_DELAY_SHOWN_MS: Chrome, Firefox and
 * Safari all show a frame that asks for 0 to 10 ms for 100 ms (a 0-delay frame is not skipped).
 */
const SHORT_DELAY_MS = 10;
const SHORT_DELAY_SHOWN_MS = 100;
/** A scene (or frame) shown this long or longer is sampled before the evenly spaced ones, up to maxLongScenes beyond maxFrames. */
export const LONG_SCENE_MS = 1000;

/** How long a viewer shows a frame of the declared `delay` (ms). */
export function shownMs(delay: number | undefined): number {
  return delay === undefined || !(delay > SHORT_DELAY_MS) ? SHORT_DELAY_SHOWN_MS : delay;
}

type SamplingLimits = Pick<ResolvedDecodeOptions, 'maxFrames' | 'maxAnimationPixels'> & Partial<Pick<ResolvedDecodeOptions, 'maxLongScenes'>>;

/**
 * Frame numbers to decode, ascending. When the animation's last frame is within sharp's reach
 * (MAX_FRAME_INDEX) and it and frame 0 fit the animation budget (maxFrames of 2 or more), both
 * are always decoded: a play-once animation stops on its last frame. Then, by priority, each
 * added only while the budget allows: the scenes (`sampling.scenes`; each frame its own scene
 * without them) shown longest, up to half of `maxFrames` (rounded down), when they are not all
 * shown alike long (as a viewer shows them: shownMs; ties at the cut spread evenly over the tied
 * ones); every other scene shown LONG_SCENE_MS or more, longest first, into the free slots of
 * `maxFrames` and then up to `maxLongScenes` (default 0 here) beyond it; then scenes evenly spread
 * over all of them, as many as make up `maxFrames`, fewer when the budget does not hold them all;
 * then each picture shown in several scenes (Scene.picture) that no sampled scene shows, when it
 * is among the longest shown pictures or shown LONG_SCENE_MS or more in all, as its longest scene,
 * within the same slots (uncoveredPictures); then, when the budget cut the spread, the free slots
 * of `maxFrames` evenly spread over the first scenes, as far as the budget reaches.
 * A scene is decoded as its last frame, or its first when the last does not fit; the first scene
 * as frame 0. All frames are decoded when they are no more than `maxFrames` and fit.
 *
 * When the last frame does not fit (or maxFrames is 1): at most `maxFrames` (fewer when each
 * decode's own charge, decodePixels, leaves room for fewer), within the range (frames 0 to
 * range - 1) the budget allows; all of the range when it holds no more; otherwise the longest
 * shown frames take up to half, the rest evenly spaced from the first frame to the last of the
 * range, which shrinks until the sample fits.
 *
 * The budget counts sampleCost: frames rendered (sampling.cost) times the frame's pixels, plus
 * sampling.decodePixels a decode.
 */
export function sampleFrameIndices(frameCount: number, pixelsPerFrame: number, limits: SamplingLimits, sampling: FrameSampling = {}): number[] {
  const pixels = Math.max(1, pixelsPerFrame);
  const cost = (indices: readonly number[]): number => sampleCost(indices, pixels, sampling);
  const final = frameCount - 1;
  if (frameCount > 1 && limits.maxFrames >= 2 && final <= MAX_FRAME_INDEX && cost([0, final]) <= limits.maxAnimationPixels) {
    const scenes = sampling.scenes ?? Array.from({ length: frameCount }, (_, i) => ({ first: i, last: i, shownMs: shownMs(sampling.delays?.[i]) }));
    return pickScenes(scenes, limits, (indices) => cost(indices) <= limits.maxAnimationPixels);
  }
  let range = Math.max(1, Math.min(frameCount, MAX_FRAME_INDEX + 1, Math.floor(limits.maxAnimationPixels / pixels)));
  // Each decode's own charge (decodePixels) bounds how many decodes there are, whatever the range.
  const decodes = Math.max(1, Math.min(limits.maxFrames, Math.floor(limits.maxAnimationPixels / (pixels + (sampling.decodePixels ?? 0)))));
  for (;;) {
    const indices = pickFrames(range, decodes, sampling.delays);
    if (cost(indices) <= limits.maxAnimationPixels || range === 1) return indices;
    range = Math.max(1, Math.min(range - 1, Math.floor((range * limits.maxAnimationPixels) / cost(indices))));
  }
}

/**
 * What decoding `indices` costs against maxAnimationPixels, in pixels: the frames rendered
 * (FrameSampling.cost) times the frame's pixels, plus each decode's own charge (decodePixels).
 */
export function sampleCost(indices: readonly number[], pixelsPerFrame: number, sampling: Pick<FrameSampling, 'cost' | 'decodePixels'> = {}): number {
  if (indices.length === 0) return 0;
  const rendered = sampling.cost === 'replay' ? Math.max(...indices) + 1 : indices.reduce((sum, index) => sum + index + 1, 0);
  return rendered * Math.max(1, pixelsPerFrame) + indices.length * (sampling.decodePixels ?? 0);
}

/**
 * The frames of sampleFrameIndices when frame 0 and the last frame fit (`fits`, on the whole
 * sample): they first, then the longest shown scenes, the long ones, the spread, each while it
 * fits. A scene is decoded as its last frame, or, when that does not fit, as its first (frames
 * later in the file cost more to reach: a long scene late in a large GIF is still decoded).
 */
function pickScenes(scenes: readonly Scene[], limits: SamplingLimits, fits: (indices: readonly number[]) => boolean): number[] {
  const final = scenes.at(-1)!.last;
  // Scene -> the frame it is decoded as. Frame 0 and the last frame always, whatever scenes they are in (one scene: both).
  const chosen = new Map<number, number>([[0, 0]]);
  if (scenes.length > 1) chosen.set(scenes.length - 1, final);
  const frames = (more: Iterable<number> = []): number[] => [...new Set([0, final, ...chosen.values(), ...more])].sort((a, b) => a - b);
  const candidates = (scene: number): number[] => {
    const { first, last } = scenes[scene]!;
    return first === last ? [last] : [last, first];
  };
  const tryAdd = (scene: number): void => {
    if (chosen.has(scene)) return;
    const frame = candidates(scene).find((candidate) => fits(frames([candidate])));
    if (frame !== undefined) chosen.set(scene, frame);
  };
  if (scenes.length <= limits.maxFrames) {
    for (let scene = 1; scene < scenes.length - 1; scene++) tryAdd(scene);
    return frames();
  }
  const shown = scenes.map((scene) => scene.shownMs);
  for (const scene of longestShown(scenes.length, Math.floor(limits.maxFrames / 2), shown)) tryAdd(scene);
  // Every scene shown LONG_SCENE_MS or more, longest first (earlier first among equals): in the free slots, then beyond.
  const long = [...shown.keys()].filter((scene) => shown[scene]! >= LONG_SCENE_MS && !chosen.has(scene)).sort((a, b) => shown[b]! - shown[a]! || a - b);
  let beyond = 0;
  const addBeyond = (scene: number): boolean => {
    if (chosen.size >= limits.maxFrames && beyond >= (limits.maxLongScenes ?? 0)) return false;
    const over = chosen.size >= limits.maxFrames;
    const before = chosen.size;
    tryAdd(scene);
    if (over && chosen.size > before) beyond++;
    return true;
  };
  for (const scene of long) if (!addBeyond(scene)) break;
  // The spread over all the scenes, to maxFrames: as many of its points as fit (each new one as
  // its scene's last frame, or else all of them as their first).
  for (let count = limits.maxFrames; count > chosen.size; count--) {
    const added = pickFrames(scenes.length, count, undefined, [...chosen.keys()]).filter((scene) => !chosen.has(scene));
    const at = [(scene: number): number => scenes[scene]!.last, (scene: number): number => scenes[scene]!.first].find((frameOf) => fits(frames(added.map(frameOf))));
    if (at) {
      for (const scene of added) chosen.set(scene, at(scene));
      break;
    }
  }
  // A picture shown in several scenes (Scene.picture), their times summed, that none of the
  // sampled scenes shows: when it is one of the longest shown pictures or shown LONG_SCENE_MS or
  // more in all, its longest scene (the earliest among equals) is added, longest shown first, into
  // the free slots and then within maxLongScenes (two pictures in alternation every 100 ms: the
  // spread can land on one of them only).
  for (const scene of uncoveredPictures(scenes, [...chosen.keys()], Math.floor(limits.maxFrames / 2))) if (!addBeyond(scene)) break;
  // When the budget cut that spread short, the free slots are spread over the first scenes, as far
  // as the budget reaches (as the frame-by-frame sample did before the last frame was kept): never
  // fewer frames than maxFrames while they fit.
  for (let range = scenes.length - 1; range > 1 && chosen.size < limits.maxFrames; range = Math.min(range - 1, Math.floor(range * 0.9))) {
    const free = limits.maxFrames - chosen.size;
    const added = spreadIndices(range, free + 1).filter((scene) => !chosen.has(scene)).slice(0, free);
    if (added.length > 0 && fits(frames(added.map((scene) => scenes[scene]!.first)))) {
      for (const scene of added) chosen.set(scene, scenes[scene]!.first);
    }
  }
  return frames();
}

/**
 * The pictures of several scenes each (Scene.picture) that no scene of `chosen` shows, and that
 * are among the `count` longest shown pictures (longestShown) or shown LONG_SCENE_MS or more in
 * all: each as its longest shown scene (the earliest among equals), the longest shown picture first.
 */
function uncoveredPictures(scenes: readonly Scene[], chosen: readonly number[], count: number): number[] {
  const pictures = new Map<number, { scene: number; scenes: number; shownMs: number }>();
  for (const [i, scene] of scenes.entries()) {
    const id = scene.picture ?? i;
    const picture = pictures.get(id);
    if (picture === undefined) pictures.set(id, { scene: i, scenes: 1, shownMs: scene.shownMs });
    else {
      picture.scenes++;
      picture.shownMs += scene.shownMs;
      if (scene.shownMs > scenes[picture.scene]!.shownMs) picture.scene = i;
    }
  }
  const units = [...pictures.values()];
  if (units.length === scenes.length) return [];
  const shown = units.map((unit) => unit.shownMs);
  const longest = new Set(longestShown(units.length, Math.min(units.length, count), shown));
  const covered = new Set(chosen.map((scene) => scenes[scene]!.picture ?? scene));
  return [...units.keys()]
    .filter((unit) => units[unit]!.scenes > 1 && !covered.has(scenes[units[unit]!.scene]!.picture ?? units[unit]!.scene) && (longest.has(unit) || shown[unit]! >= LONG_SCENE_MS))
    .sort((a, b) => shown[b]! - shown[a]! || a - b)
    .map((unit) => units[unit]!.scene);
}

/**
 * `count` frames of 0 to range - 1, ascending: `picked` (the longest shown, when not given),
 * then spread evenly (sampleFrameIndices).
 */
function pickFrames(range: number, count: number, delays: FrameSampling['delays'], picked: readonly number[] = longestShown(range, Math.floor(count / 2), delays && Array.from({ length: range }, (_, i) => shownMs(delays[i])))): number[] {
  if (range <= count) return Array.from({ length: range }, (_, i) => i);
  const spread = (n: number): Set<number> => new Set([...picked, ...spreadIndices(range, n)]);
  let n = count - picked.length;
  let chosen = spread(n);
  // A spread frame may be one picked already: spread more, until there are `count` (the first
  // ones, ascending, of a spread that would give more).
  while (chosen.size < count) {
    const more = spread(++n);
    if (more.size > count) {
      for (const index of [...more].sort((a, b) => a - b)) if (chosen.size < count) chosen.add(index);
      break;
    }
    chosen = more;
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * Up to `count` of 0 to range - 1 shown (`shown`, ms) longer than the shortest shown among them:
 * the longest shown; of those tied at the cut, evenly spaced ones. None when all are shown alike long.
 */
function longestShown(range: number, count: number, shownTimes: readonly number[] | undefined): number[] {
  if (count === 0 || shownTimes === undefined) return [];
  const shown = Float64Array.from({ length: range }, (_, i) => shownTimes[i]!);
  const sorted = Float64Array.from(shown).sort();
  const shortest = sorted[0]!;
  const cut = sorted[range - count]!;
  if (cut === shortest) return [...shown.keys()].filter((i) => shown[i]! > shortest);
  const above = [...shown.keys()].filter((i) => shown[i]! > cut);
  const tied = [...shown.keys()].filter((i) => shown[i] === cut);
  return [...above, ...spreadIndices(tied.length, count - above.length).map((i) => tied[i]!)];
}

/** `count` indices from 0 to range - 1, evenly spaced, both ends included. */
function spreadIndices(range: number, count: number): number[] {
  if (count <= 0) return [];
  if (count === 1) return [0];
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

/**
 * Most frames of an APNG decoded: as for an animated WebP (MAX_WEBP_FRAMES); more is
 * image_too_complex. Each rendered frame is a sharp call of its own.
 */
export const MAX_APNG_FRAMES = 10_000;
/**
 * What a sharp call costs besides its pixels, in pixels of an APNG frame's decode (measured: about
 * 0.9 ms for a 1x1 frame, 6.3 ms for a 640x480 one), counted for each frame an APNG's decode
 * replays: 200 million pixels of budget replay about 3,000 frames of 1x1, 540 of 640x480.
 */
export const APNG_FRAME_CALL_PIXELS = 65_536;

/**
 * What an APNG's decode holds, at most, when `indices` are its sampled frames (decodeApngFrames):
 *   - the rows of a frame's decode (and the whole frame, when interlaced), the canvas (4 bytes a
 *     pixel), the region a dispose_op of APNG_DISPOSE_OP_PREVIOUS keeps (one buffer the canvas's
 *     size, reused), and, for a canvas that must shrink, the rows of its resize and the canvas's
 *     RGB the second resize takes (one buffer, reused; heldStoredRgb);
 *   - for EVERY frame replayed (framesToRender), its region's RGBA and its PNG (framePngBytes):
 *     each is a new buffer, sharp's output freed only once the garbage collector has run and its
 *     finalizer after it, which a decode that allocates little on the JS heap does not wait for
 *     (60 replayed 2000x2000 frames grew the process by 818 MiB). None of them is counted freed;
 *   - each sampled frame's working copy (WORKING_FRAME_BYTES a working pixel);
 *   - when the default image is not a frame (apng.defaultImageIsFrame false), its own decode
 *     (a still PNG's, before the replay: rows, and its whole RGB again when it shrinks with alpha)
 *     and its working copy; it counts as one more sampled frame.
 * `storedRgbBytes`: of `bytes`, what the stored colours of frames with alpha add (left out when
 * they do not fit: DecodedImage.transparentColoursLost).
 */
export function heldApngDecode(metadata: DecodeHeader, apng: Apng, workingSize: number, indices: readonly number[]): HeldDecode {
  const { width, height } = apng;
  const pixels = width * height;
  const rows = streamedRowBytes(width, height, bytesPerPixel(metadata));
  const whole = heldWholeDecode(metadata)?.bytes ?? 0;
  const rendered = framesToRender(apng, indices);
  const kept = rendered.some((index) => apng.frames[index]!.dispose === DISPOSE.previous) ? pixels * 4 : 0;
  const replayed = rendered.reduce((sum, index) => {
    const frame = apng.frames[index]!;
    return sum + frame.width * frame.height * 4 + framePngBytes(apng, frame);
  }, 0);
  const defaultImage = apng.defaultImageIsFrame ? 0 : 1;
  const shrinks = workingResize(width, height, workingSize) !== undefined;
  const resizeRows = shrinks ? width * Math.min(height, APNG_RESIZE_ROWS) * 4 : 0;
  const storedRgbBytes = shrinks ? heldStoredRgb({ format: 'png', width, height }) * (1 + defaultImage) : 0;
  const working = Math.min(pixels, workingSize * workingSize) * WORKING_FRAME_BYTES * (indices.length + defaultImage);
  const bytes = rows + whole + pixels * 4 + kept + resizeRows + replayed + working + storedRgbBytes;
  return { held: 'APNG frame', bytes, width, height, ...(storedRgbBytes ? { storedRgbBytes } : {}) };
}

/**
 * Bytes a working pixel of a sampled APNG frame takes: the resized RGBA (4), the RGB and alpha
 * split from it (3 + 1), the stored RGB resized (3).
 */
const WORKING_FRAME_BYTES = 11;

/**
 * The frames of an APNG to decode: sampleFrameIndices (the longest shown, and evenly spread
 * ones; each rendered frame counted as the canvas's pixels plus APNG_FRAME_CALL_PIXELS against
 * maxAnimationPixels), over the longest range of frames from frame 0 whose decode fits the
 * memory budget, `heldBytes` (heldApngDecode) within limits.maxDecodeBytes: every frame replayed
 * costs its RGBA until the garbage collector runs, so a long animation of large frames is
 * sampled over its first frames only, as maxAnimationPixels does. Frame 0 alone fits (the decode
 * checked it). When the default image is not a frame, it is one more frame decoded: the
 * animation gets maxFrames - 1 (at least 1) and the animation budget less its pixels.
 */
export function sampleApngFrames(
  apng: Apng,
  canvasPixels: number,
  limits: Pick<ResolvedDecodeOptions, 'maxFrames' | 'maxAnimationPixels' | 'maxDecodeBytes'>,
  heldBytes: (indices: readonly number[]) => number,
): number[] {
  const pixelsPerFrame = canvasPixels + APNG_FRAME_CALL_PIXELS;
  const animation = apng.defaultImageIsFrame
    ? limits
    : { maxFrames: Math.max(1, limits.maxFrames - 1), maxAnimationPixels: Math.max(1, limits.maxAnimationPixels - pixelsPerFrame) };
  const delays = apng.frames.map((frame) => frame.delayMs);
  const sample = (range: number): number[] => sampleFrameIndices(range, pixelsPerFrame, animation, { delays, cost: 'replay' });
  const fits = (indices: readonly number[]): boolean => heldBytes(indices) <= limits.maxDecodeBytes;
  const widest = sample(apng.frames.length);
  if (fits(widest)) return widest;
  // The longest range that fits, by bisection: [0] fits, `widest`'s range does not.
  let fitting = 1;
  let over = widest.at(-1)! + 1;
  while (over - fitting > 1) {
    const range = Math.floor((fitting + over) / 2);
    if (fits(sample(range))) fitting = range;
    else over = range;
  }
  return sample(fitting);
}

/** Rows libvips's resize of an image in memory keeps at most (decode-memory.ts measured 150 to 310). */
const APNG_RESIZE_ROWS = 320;

interface CanvasChoice {
  /** The file's EXIF orientation (1 to 8), which the composited frames are turned upright by. */
  orientation: number;
  /** From workingResize on the upright canvas: undefined when it fits. */
  resize: ResizeOptions | undefined;
  storedColours: boolean;
}

/**
 * The sampled frames of an APNG, as a viewer shows them: every frame from the last one the canvas
 * before it cannot change (framesToRender) to each sampled one is decoded, a PNG of its own
 * (buildFramePng), and rendered on the canvas in order (ApngCanvas); the canvas, once a sampled
 * frame is on it, is that frame, shrunk and turned upright like any other (frameFromCanvas).
 */
async function decodeApngFrames(input: Buffer, apng: Apng, indices: readonly number[], choice: CanvasChoice, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<DecodedFrame[]> {
  const wanted = new Set(indices);
  const canvas = new ApngCanvas(apng.width, apng.height);
  const scratch: CanvasScratch = {};
  const frames: DecodedFrame[] = [];
  let last = -1;
  for (const index of framesToRender(apng, indices)) {
    const frame = apng.frames[index]!;
    if (index !== last + 1) canvas.clear();
    last = index;
    canvas.render(frame, await decodeApngFrame(buildFramePng(input, apng, frame), frame, limits, turn));
    if (wanted.has(index)) frames.push(await frameFromCanvas(canvas, index, choice, limits, turn, scratch));
    canvas.dispose(frame);
  }
  return frames;
}

/** The canvas's stored RGB, split off for its second resize: one buffer for all the sampled frames (heldApngDecode). */
interface CanvasScratch {
  rgb?: Buffer;
}

/** One APNG frame's PNG decoded whole: RGBA, 8 bits a sample, the frame's own size. */
async function decodeApngFrame(png: Buffer, frame: ApngFrame, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<Buffer> {
  const { data, info } = await turn.run(() =>
    sharp(png, { ...baseInputOptions(limits), autoOrient: false })
      .timeout({ seconds: timeoutSeconds(turn, frame.index) })
      .ensureAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
  if (info.width !== frame.width || info.height !== frame.height || info.channels !== 4) {
    throw new ScanError('image_corrupt', `APNG frame ${frame.index} decoded to ${info.width}x${info.height}x${info.channels}, expected ${frame.width}x${frame.height}x4`, { format: 'png', frame: frame.index });
  }
  return data;
}

/**
 * The canvas as a decoded frame: shrunk to the working size and turned upright like decodeFrame's
 * frames (alpha split off; a shrunk frame with alpha keeps its stored RGB, resized on its own,
 * and its alpha-weighted RGB). The canvas is not changed; what is returned is a copy.
 */
async function frameFromCanvas(canvas: ApngCanvas, index: number, choice: CanvasChoice, limits: ResolvedDecodeOptions, turn: DecodeTurn, scratch: CanvasScratch): Promise<DecodedFrame> {
  const { width, height, pixels } = canvas;
  const { angle, flop } = EXIF_TURNS[choice.orientation] ?? { angle: 0, flop: false };
  const turned = isTurned(choice.orientation) ? { orientation: choice.orientation } : {};
  // `resize` sizes the upright frame; the stored one is a quarter turn from it for 90 and 270.
  const resize = choice.resize && angle % 180 !== 0 ? { ...choice.resize, width: choice.resize.height, height: choice.resize.width } : choice.resize;
  if (resize === undefined && angle === 0 && !flop) return { ...splitAlpha(pixels, width * height), width, height, index };
  const shaped = (data: Buffer, channels: 3 | 4): Promise<{ data: Buffer; info: OutputInfo }> =>
    turn.run(() => {
      // Called after resize(), so applied after it: flop first, then the turn (EXIF_TURNS).
      let pipeline = sharp(data, { raw: { width, height, channels }, limitInputPixels: limits.maxPixels }).timeout({ seconds: timeoutSeconds(turn, index) });
      if (resize) pipeline = pipeline.resize(resize);
      if (flop) pipeline = pipeline.flop();
      if (angle !== 0) pipeline = pipeline.rotate(angle);
      return pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    });
  const { data, info } = await shaped(pixels, 4);
  const frame = { width: info.width, height: info.height, index, ...turned };
  const split = splitAlpha(data, info.width * info.height);
  if (resize === undefined || split.alpha === undefined) return { ...split, ...frame };
  if (!choice.storedColours) return { ...split, alphaWeighted: split.data, ...frame };
  // libvips resized the RGBA with premultiplied alpha: the stored RGB is resized on its own.
  scratch.rgb ??= Buffer.allocUnsafe(width * height * 3);
  const rgb = await shaped(rgbOf(pixels, scratch.rgb), 3);
  return { data: rgb.data, alpha: split.alpha, alphaWeighted: split.data, ...frame };
}

interface FrameChoice {
  index: number;
  multiFrame: boolean;
  /** Decode the stored values, not their conversion through the embedded ICC profile. */
  ignoreIcc: boolean;
  /** The frame's EXIF orientation (1 to 8; 1 when it has none), as sharp's autoOrient reads it. */
  orientation: number;
  /** From workingResize: undefined when the frame is decoded at its own size. */
  resize: ResizeOptions | undefined;
  /** Whether a shrunk frame with alpha gets its stored colours (a second decode) or only the alpha-weighted ones. */
  storedColours: boolean;
}

async function decodeFrame(input: Buffer, choice: FrameChoice, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<DecodedFrame> {
  const { index, resize } = choice;
  const { data, info } = await turn.run(() => {
    let pipeline = frameInput(input, choice, limits, turn, { autoOrient: true });
    if (resize) pipeline = pipeline.resize(resize);
    // Alpha, when there is one, comes out as a 4th channel, split off below: no compositing.
    return pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  });
  const frame = { width: info.width, height: info.height, index, ...(isTurned(choice.orientation) && { orientation: choice.orientation }) };
  if (info.channels === 3) return { data, ...frame };
  if (info.channels !== 4) throw new ScanError('image_corrupt', `decoded to ${info.channels} channels, expected 3 or 4`);
  const split = splitAlpha(data, info.width * info.height);
  if (resize === undefined || split.alpha === undefined) return { ...split, ...frame };
  if (!choice.storedColours) return { ...split, alphaWeighted: split.data, ...frame };
  // The frame was shrunk, and libvips shrank it with premultiplied alpha: split.data is the
  // alpha-weighted colour (black wherever all the sources are fully transparent). Its alpha
  // plane is kept; the RGB is made again from the stored values.
  const rgb = await storedRgbAtWorkingSize(input, choice, resize, limits, turn);
  if (rgb.width !== info.width || rgb.height !== info.height) {
    throw new Error(`frame ${index}: the stored RGB shrank to ${rgb.width}x${rgb.height}, the alpha plane to ${info.width}x${info.height}`);
  }
  return { data: rgb.data, alpha: split.alpha, alphaWeighted: split.data, ...frame };
}

/**
 * The frame's stored RGB, upright, shrunk by `resize` without regard to alpha. sharp premultiplies
 * alpha whenever it resizes an image that has one, and takes alpha off (removeAlpha,
 * extractChannel) only after the resize, so no option of one pipeline gives this. Two calls do:
 * the frame is decoded whole, alpha removed and unresized (so nothing is premultiplied), then that
 * RGB, an image without alpha, is resized and turned upright. decode-memory.ts counts the whole
 * frame's RGB in the budget.
 *
 * The turn is made on the raw RGB, not with autoOrient on the decode: libvips turns a decode it
 * streams by first copying the whole frame, RGBA, into memory (sharp's StaySequential; a 7000x7000
 * PNG of orientation 6 peaked at 366 MB, not 184), while the raw RGB is in memory already. It comes
 * after the resize, as autoOrient's does in decodeFrame's pipeline, so that the RGB is sampled on
 * the very grid its alpha plane was.
 */
async function storedRgbAtWorkingSize(input: Buffer, choice: FrameChoice, resize: ResizeOptions, limits: ResolvedDecodeOptions, turn: DecodeTurn): Promise<{ data: Buffer; width: number; height: number }> {
  const whole = await turn.run(() =>
    frameInput(input, choice, limits, turn, { autoOrient: false }).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
  );
  const { width, height, channels } = whole.info;
  if (channels !== 3) throw new ScanError('image_corrupt', `decoded to ${channels} channels without alpha, expected 3`);
  const { angle, flop } = EXIF_TURNS[choice.orientation] ?? { angle: 0, flop: false };
  // `resize` sizes the upright frame; the stored one is a quarter turn from it for 90 and 270.
  const stored = angle % 180 === 0 ? resize : { ...resize, width: resize.height, height: resize.width };
  const { data, info } = await turn.run(() => {
    // Called after resize(), so applied after it: flop first, then the turn.
    let pipeline = sharp(whole.data, { raw: { width, height, channels }, limitInputPixels: limits.maxPixels })
      .timeout({ seconds: timeoutSeconds(turn, choice.index) })
      .resize(stored);
    if (flop) pipeline = pipeline.flop();
    if (angle !== 0) pipeline = pipeline.rotate(angle);
    return pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  });
  return { data, width: info.width, height: info.height };
}

/**
 * What sharp's autoOrient does for each EXIF orientation, in sharp's explicit operations, which
 * flop first and then turn clockwise by `angle`: autoOrient turns first, then flops, and a turn by
 * a then a flop is a flop then a turn by -a.
 */
const EXIF_TURNS: Readonly<Record<number, { angle: number; flop: boolean }>> = {
  2: { angle: 0, flop: true },
  3: { angle: 180, flop: false },
  4: { angle: 180, flop: true },
  5: { angle: 270, flop: true },
  6: { angle: 90, flop: false },
  7: { angle: 90, flop: true },
  8: { angle: 270, flop: false },
};

/** sharp on the frame, with the decode's input options and what is left of its time budget. */
function frameInput(input: Buffer, { index, multiFrame, ignoreIcc }: FrameChoice, limits: ResolvedDecodeOptions, turn: DecodeTurn, { autoOrient }: { autoOrient: boolean }): Sharp {
  return sharp(input, { ...baseInputOptions(limits), autoOrient, ignoreIcc, ...(multiFrame ? { page: index, pages: 1 } : {}) }).timeout({
    seconds: timeoutSeconds(turn, index),
  });
}

/**
 * sharp's timeout for a call starting now: what is left of the decode's budget, in whole seconds
 * (sharp counts whole seconds; DecodeTurn.run enforces the exact budget). Throws once none is left.
 */
function timeoutSeconds(turn: DecodeTurn, frame: number): number {
  const remainingMs = turn.deadline - Date.now();
  if (remainingMs <= 0) throw new ScanError('image_timeout', undefined, { frame });
  return Math.min(3600, Math.ceil(remainingMs / 1000));
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

/** The RGB of `rgba`, written into `rgb` (3 bytes for each of its 4), which is returned. */
function rgbOf(rgba: Buffer, rgb: Buffer): Buffer {
  for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
    rgb[o] = rgba[i]!;
    rgb[o + 1] = rgba[i + 1]!;
    rgb[o + 2] = rgba[i + 2]!;
  }
  return rgb;
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
