/**
 * An animated PNG (APNG), read as the browsers that play it (Chrome, Firefox, Safari, Edge) show
 * it. libpng, and so libvips and sharp, read only the default image (the IDAT) and report one page;
 * the animation's frames are in fcTL (frame control) and fdAT (frame data) chunks it skips. An
 * APNG's default image need not be part of the animation at all (no fcTL before the IDAT): an APNG
 * viewer then never shows it, but every decoder that does not know APNG (libpng, libvips and the
 * thumbnailers on it, many server-side pipelines, older apps) shows nothing else, so decode.ts
 * decodes it too, as a still PNG, besides the animation's frames. decode.ts decodes an APNG's
 * frames here: each frame made a
 * PNG of its own (buildFramePng: the IHDR with the frame's size, the PLTE and tRNS, and the
 * frame's data as IDAT), decoded by sharp like any PNG, and composited onto the canvas in order
 * (ApngCanvas), by the frame's blend_op and its predecessor's dispose_op, as the APNG
 * specification (https://wiki.mozilla.org/APNG_Specification) says.
 *
 * Malformed animation chunks: the specification asks a decoder that finds an error before the
 * animation starts to show the default image, and one that finds it later to stop the animation
 * and revert to the default image. Every chunk is in the file before any pixel is decoded, so
 * readApng checks them all first, and a file that breaks any rule below is read as the still
 * image of its IDAT, as such a decoder shows it (and as libpng reads it):
 *   - one acTL, of 8 bytes, before the first IDAT, num_frames from 1 to 2^31 - 1, equal to the
 *     number of fcTL chunks;
 *   - fcTL of 26 bytes, fdAT of more than 4; CRCs right; sequence numbers 0, 1, 2, ... over the
 *     fcTL and fdAT chunks in file order;
 *   - each frame's region non-empty and inside the canvas, dispose_op 0 to 2, blend_op 0 or 1;
 *   - at most one fcTL before the IDAT, whose frame is then the default image (offsets 0, the
 *     IHDR's size); no fdAT before the IDAT or between its chunks; every frame after the IDAT
 *     has at least one fdAT; an IEND at the end of the chunk records.
 * A frame whose data does not decode makes the image image_corrupt, as a still PNG's IDAT would.
 *
 * Pure: no sharp here. readApng is one walk of the chunk records, bounded by the bytes; it never
 * throws.
 */
import { crc32 } from 'node:zlib';

/** dispose_op: what happens to the frame's region before the next frame is rendered. */
export const DISPOSE = { none: 0, background: 1, previous: 2 } as const;
/** blend_op: how the frame's pixels meet the canvas. */
export const BLEND = { source: 0, over: 1 } as const;

export interface ApngFrame {
  /** The frame's number in the animation (0 = the first frame shown). */
  index: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** The delay the fcTL declares, in milliseconds (delay_num / delay_den s; a delay_den of 0 is 100). */
  delayMs: number;
  dispose: number;
  blend: number;
  /** Where its compressed image data lies in the file: [start, end) of each IDAT's or fdAT's data (past an fdAT's sequence number). */
  data: Array<readonly [number, number]>;
}

export interface Apng {
  /** The canvas: the IHDR's size. */
  width: number;
  height: number;
  /** Whether the IHDR declares Adam7 interlacing (every frame's data is then interlaced). */
  interlaced: boolean;
  /** Whether the IDAT (the default image) is the animation's frame 0 (an fcTL before it). */
  defaultImageIsFrame: boolean;
  frames: ApngFrame[];
  /** The IHDR's data (13 bytes), and the records of PLTE and tRNS, which each frame's PNG takes. */
  ihdr: Buffer;
  copied: Buffer[];
}

/** A PNG that is not an APNG, or an APNG read as its still default image; `invalid` says why, when it had animation chunks. */
export interface NotApng {
  invalid?: string;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_UINT31 = 0x7fffffff;
/** Chunks a frame's PNG takes from the file: what decides its pixels besides IHDR and its data. */
const COPIED = new Set(['PLTE', 'tRNS']);

export function isApng(read: Apng | NotApng): read is Apng {
  return 'frames' in read;
}

/**
 * The APNG's frames, or why it is read as a still image: { } for a PNG without an acTL (or not a
 * PNG), { invalid } for one whose animation chunks break a rule of the specification (see above).
 */
export function readApng(bytes: Buffer): Apng | NotApng {
  if (bytes.length < SIGNATURE.length + 12 || !bytes.subarray(0, SIGNATURE.length).equals(SIGNATURE)) return {};
  if (bytes.toString('latin1', 12, 16) !== 'IHDR' || bytes.readUInt32BE(8) !== 13) return {};
  const ihdr = bytes.subarray(16, 29);
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const invalid = (reason: string): NotApng => ({ invalid: reason });

  let numFrames: number | undefined;
  let sequence = 0;
  let idat: 'before' | 'in' | 'after' = 'before';
  let ended = false;
  let defaultImageIsFrame = false;
  const frames: ApngFrame[] = [];
  const copied: Buffer[] = [];
  const idatData: Array<readonly [number, number]> = [];
  let animationChunks = false;

  for (let at = SIGNATURE.length; at + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const end = at + 12 + length;
    if (length > MAX_UINT31 || end > bytes.length) break;
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === 'IDAT') {
      if (idat === 'after') return animationChunks ? invalid('IDAT chunks apart') : {};
      idat = 'in';
      idatData.push([at + 8, at + 8 + length]);
    } else if (idat === 'in') {
      idat = 'after';
    }
    if (type === 'acTL' || type === 'fcTL' || type === 'fdAT') {
      animationChunks = true;
      if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== bytes.readUInt32BE(at + 8 + length)) return invalid(`a ${type} CRC is wrong`);
    }
    if (COPIED.has(type) && idat === 'before') copied.push(bytes.subarray(at, end));
    if (type === 'acTL') {
      if (numFrames !== undefined) return invalid('a second acTL');
      if (idat !== 'before') return invalid('the acTL after the IDAT');
      if (length !== 8) return invalid('an acTL not 8 bytes long');
      numFrames = data.readUInt32BE(0);
      if (numFrames < 1 || numFrames > MAX_UINT31) return invalid(`num_frames ${numFrames}`);
    } else if (type === 'fcTL') {
      if (length !== 26) return invalid('an fcTL not 26 bytes long');
      if (data.readUInt32BE(0) !== sequence++) return invalid('fcTL sequence numbers out of order');
      const frame: ApngFrame = {
        index: frames.length,
        width: data.readUInt32BE(4),
        height: data.readUInt32BE(8),
        x: data.readUInt32BE(12),
        y: data.readUInt32BE(16),
        delayMs: delayMs(data.readUInt16BE(20), data.readUInt16BE(22)),
        dispose: data[24]!,
        blend: data[25]!,
        data: [],
      };
      if (frame.width === 0 || frame.height === 0 || frame.x + frame.width > width || frame.y + frame.height > height) return invalid(`frame ${frame.index}'s region is outside the canvas`);
      if (frame.dispose > DISPOSE.previous || frame.blend > BLEND.over) return invalid(`frame ${frame.index}'s dispose_op or blend_op is unknown`);
      if (idat === 'before') {
        if (frames.length > 0) return invalid('two fcTL chunks before the IDAT');
        if (frame.x !== 0 || frame.y !== 0 || frame.width !== width || frame.height !== height) return invalid("the default image's fcTL is not the whole canvas");
        defaultImageIsFrame = true;
        frame.data = idatData;
      } else if (frames.length > 0 && frames.at(-1)!.data.length === 0) {
        return invalid(`frame ${frames.length - 1} has no fdAT`);
      }
      frames.push(frame);
    } else if (type === 'fdAT') {
      if (length <= 4) return invalid('an empty fdAT');
      if (data.readUInt32BE(0) !== sequence++) return invalid('fdAT sequence numbers out of order');
      if (idat !== 'after' || frames.length === 0 || (defaultImageIsFrame && frames.length === 1)) return invalid('an fdAT without its fcTL after the IDAT');
      frames.at(-1)!.data.push([at + 12, end - 4]);
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    at = end;
  }
  if (!animationChunks || numFrames === undefined) return animationChunks ? invalid('fcTL or fdAT without an acTL') : {};
  if (!ended) return invalid('the chunk records do not reach an IEND');
  if (idatData.length === 0) return invalid('no IDAT');
  if (frames.length !== numFrames) return invalid(`num_frames ${numFrames} but ${frames.length} fcTL chunks`);
  if (frames.at(-1)!.data.length === 0) return invalid(`frame ${frames.length - 1} has no fdAT`);
  // The specification: a first frame's APNG_DISPOSE_OP_PREVIOUS is treated as APNG_DISPOSE_OP_BACKGROUND.
  if (frames[0]!.dispose === DISPOSE.previous) frames[0]!.dispose = DISPOSE.background;
  return { width, height, interlaced: ihdr[12] === 1, defaultImageIsFrame, frames, ihdr, copied };
}

function delayMs(numerator: number, denominator: number): number {
  return (1000 * numerator) / (denominator === 0 ? 100 : denominator);
}

/**
 * The frame as a PNG of its own: the signature, the IHDR with the frame's size, the file's PLTE and
 * tRNS, the frame's data as one IDAT (an fdAT's data is an IDAT's, after its sequence number), IEND.
 */
export function buildFramePng(bytes: Buffer, apng: Apng, frame: ApngFrame): Buffer {
  const ihdr = Buffer.from(apng.ihdr);
  ihdr.writeUInt32BE(frame.width, 0);
  ihdr.writeUInt32BE(frame.height, 4);
  // The frame's data is copied once, into the PNG (framePngBytes: what the decode's estimate counts).
  const data = frame.data.map(([start, end]) => bytes.subarray(start, end));
  return Buffer.concat([SIGNATURE, ...chunk('IHDR', [ihdr]), ...apng.copied, ...chunk('IDAT', data), ...chunk('IEND', [])]);
}

/** The length of buildFramePng's PNG of the frame, without building it. */
export function framePngBytes(apng: Apng, frame: ApngFrame): number {
  const copied = apng.copied.reduce((sum, record) => sum + record.length, 0);
  const data = frame.data.reduce((sum, [start, end]) => sum + end - start, 0);
  return SIGNATURE.length + 3 * 12 + apng.ihdr.length + copied + data;
}

/** A chunk record of `data` (its pieces in order): length and type, the pieces, the CRC. */
function chunk(type: string, data: readonly Buffer[]): Buffer[] {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.reduce((sum, piece) => sum + piece.length, 0), 0);
  head.write(type, 4, 'latin1');
  let crc = crc32(head.subarray(4));
  for (const piece of data) crc = crc32(piece, crc);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc, 0);
  return [head, ...data, tail];
}

/**
 * The frames whose rendering must be replayed to show each of `wanted` (ascending frame numbers):
 * from the last frame at or before it that the canvas before it cannot change, to it. Such a frame
 * is frame 0 (the canvas starts fully transparent), a frame right after one that covers the whole
 * canvas and is disposed to the background, or a frame that covers the whole canvas with
 * blend_op source and is not disposed to the previous canvas. Ascending.
 */
export function framesToRender(apng: Apng, wanted: readonly number[]): number[] {
  const { frames } = apng;
  const whole = (frame: ApngFrame): boolean => frame.x === 0 && frame.y === 0 && frame.width === apng.width && frame.height === apng.height;
  const startsClean = (i: number): boolean =>
    i === 0 ||
    (whole(frames[i - 1]!) && frames[i - 1]!.dispose === DISPOSE.background) ||
    (whole(frames[i]!) && frames[i]!.blend === BLEND.source && frames[i]!.dispose !== DISPOSE.previous);
  const render = new Set<number>();
  for (const target of wanted) {
    let start = target;
    while (!startsClean(start) && !render.has(start - 1)) start--;
    for (let i = start; i <= target; i++) render.add(i);
  }
  return [...render].sort((a, b) => a - b);
}

/**
 * The output buffer frames are rendered on: RGBA, 8 bits a sample, not premultiplied, starting
 * fully transparent black. render() puts a frame on it; what it holds then is what a viewer shows
 * for that frame; dispose() then applies the frame's dispose_op.
 */
export class ApngCanvas {
  readonly pixels: Buffer;
  private saved: Buffer | undefined;
  /** Where the region a dispose_op of previous restores is kept: one buffer, the canvas's size, made at first need and reused. */
  private keep: Buffer | undefined;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = Buffer.alloc(width * height * 4);
  }

  /** Clears the canvas (rendering restarts from a frame the canvas before it cannot change). */
  clear(): void {
    this.pixels.fill(0);
    this.saved = undefined;
  }

  /** Puts the frame's pixels (`rgba`, its width x height) on the canvas by its blend_op. */
  render(frame: ApngFrame, rgba: Buffer): void {
    if (rgba.length !== frame.width * frame.height * 4) throw new RangeError(`frame ${frame.index}: ${rgba.length} bytes for ${frame.width}x${frame.height} RGBA`);
    this.saved = frame.dispose === DISPOSE.previous ? this.region(frame) : undefined;
    const { pixels } = this;
    const rowBytes = frame.width * 4;
    for (let row = 0; row < frame.height; row++) {
      const source = row * rowBytes;
      const target = ((frame.y + row) * this.width + frame.x) * 4;
      if (frame.blend === BLEND.source) {
        rgba.copy(pixels, target, source, source + rowBytes);
        continue;
      }
      for (let s = source, t = target; s < source + rowBytes; s += 4, t += 4) {
        const a = rgba[s + 3]!;
        if (a === 0) continue;
        if (a === 255) {
          pixels[t] = rgba[s]!;
          pixels[t + 1] = rgba[s + 1]!;
          pixels[t + 2] = rgba[s + 2]!;
          pixels[t + 3] = 255;
          continue;
        }
        // The specification's over: colours weighted by their alpha, the result not premultiplied.
        const under = (pixels[t + 3]! * (255 - a)) / 255;
        const out = a + under;
        pixels[t] = Math.round((rgba[s]! * a + pixels[t]! * under) / out);
        pixels[t + 1] = Math.round((rgba[s + 1]! * a + pixels[t + 1]! * under) / out);
        pixels[t + 2] = Math.round((rgba[s + 2]! * a + pixels[t + 2]! * under) / out);
        pixels[t + 3] = Math.round(out);
      }
    }
  }

  /** Applies the rendered frame's dispose_op, before the next frame. */
  dispose(frame: ApngFrame): void {
    if (frame.dispose === DISPOSE.background) this.fillRegion(frame, undefined);
    else if (frame.dispose === DISPOSE.previous && this.saved) this.fillRegion(frame, this.saved);
    this.saved = undefined;
  }

  private region(frame: ApngFrame): Buffer {
    const rowBytes = frame.width * 4;
    this.keep ??= Buffer.allocUnsafe(this.pixels.length);
    const copy = this.keep.subarray(0, rowBytes * frame.height);
    for (let row = 0; row < frame.height; row++) {
      const at = ((frame.y + row) * this.width + frame.x) * 4;
      this.pixels.copy(copy, row * rowBytes, at, at + rowBytes);
    }
    return copy;
  }

  private fillRegion(frame: ApngFrame, from: Buffer | undefined): void {
    const rowBytes = frame.width * 4;
    for (let row = 0; row < frame.height; row++) {
      const at = ((frame.y + row) * this.width + frame.x) * 4;
      if (from) from.copy(this.pixels, at, row * rowBytes, (row + 1) * rowBytes);
      else this.pixels.fill(0, at, at + rowBytes);
    }
  }
}
