import sharp, { type Metadata } from 'sharp';
import { describe, expect, it } from 'vitest';
import { apng, type ApngFrameSpec } from '../../scripts/make-fixtures.js';
import { pngChunk as chunk } from '../../test/harness/png.js';
import { type Apng, ApngCanvas, type ApngFrame, BLEND, buildFramePng, DISPOSE, framePngBytes, framesToRender, isApng, readApng } from './apng.js';
import { decodeImage, heldApngDecode, MAX_APNG_FRAMES, sampleApngFrames } from './decode.js';
import { DEFAULT_DECODE_OPTIONS } from './decode-options.js';

/** A width x height PNG of one colour, RGBA. */
const solid = (width: number, height: number, r: number, g: number, b: number, alpha = 1): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } }).png().toBuffer();

const red = await solid(4, 4, 255, 0, 0);
const blue = await solid(4, 4, 0, 0, 255);
const green2 = await solid(2, 2, 0, 255, 0);

/** The chunk records of a PNG: [type, data] in order. */
function records(png: Buffer): Array<{ type: string; at: number; length: number }> {
  const out: Array<{ type: string; at: number; length: number }> = [];
  for (let at = 8; at + 12 <= png.length; at += 12 + png.readUInt32BE(at)) out.push({ type: png.toString('latin1', at + 4, at + 8), at, length: png.readUInt32BE(at) });
  return out;
}

/** `png` with the data of its `n`th chunk of `type` passed through `edit` (CRC made right again unless `keepCrc`). */
function editChunk(png: Buffer, type: string, n: number, edit: (data: Buffer) => void, keepCrc = false): Buffer {
  const copy = Buffer.from(png);
  const record = records(copy).filter((r) => r.type === type)[n]!;
  const data = copy.subarray(record.at + 8, record.at + 8 + record.length);
  edit(data);
  if (!keepCrc) copy.set(chunk(type, Buffer.from(data)).subarray(8 + record.length), record.at + 8 + record.length);
  return copy;
}

/** The RGBA of a decoded PNG. */
async function rgba(png: Buffer): Promise<number[]> {
  return [...(await sharp(png).ensureAlpha().raw().toBuffer())];
}

describe('readApng', () => {
  it('a plain PNG, or not a PNG: not an APNG, nothing invalid', () => {
    expect(readApng(red)).toEqual({});
    expect(readApng(Buffer.from('GIF89a'))).toEqual({});
  });

  it('reads each frame: region, delay, dispose and blend ops, and whether the IDAT is frame 0', () => {
    const file = apng([{ png: red, delayMs: 250 }, { png: green2, x: 1, y: 2, delayMs: 40, dispose: DISPOSE.previous, blend: BLEND.over }]);
    const read = readApng(file);
    expect(isApng(read)).toBe(true);
    if (!isApng(read)) return;
    expect(read).toMatchObject({ width: 4, height: 4, defaultImageIsFrame: true, interlaced: false });
    expect(read.frames.map(({ data, ...frame }) => ({ ...frame, chunks: data.length }))).toEqual([
      { index: 0, x: 0, y: 0, width: 4, height: 4, delayMs: 250, dispose: 0, blend: 0, chunks: 1 },
      { index: 1, x: 1, y: 2, width: 2, height: 2, delayMs: 40, dispose: 2, blend: 1, chunks: 1 },
    ]);
  });

  it('an IDAT with no fcTL before it is not a frame: the animation is the fdAT frames alone', () => {
    const read = readApng(apng([{ png: blue }], { defaultImage: red }));
    expect(read).toMatchObject({ defaultImageIsFrame: false, frames: [{ index: 0, width: 4, height: 4 }] });
  });

  it("the first frame's dispose_op previous is background, as the specification says", () => {
    const read = readApng(apng([{ png: red, dispose: DISPOSE.previous }, { png: blue }]));
    expect(isApng(read) && read.frames[0]!.dispose).toBe(DISPOSE.background);
  });

  it('a delay_den of 0 means hundredths of a second', () => {
    const file = editChunk(apng([{ png: red }, { png: blue }]), 'fcTL', 1, (data) => {
      data.writeUInt16BE(7, 20);
      data.writeUInt16BE(0, 22);
    });
    const read = readApng(file);
    expect(isApng(read) && read.frames[1]!.delayMs).toBe(70);
  });

  const valid = apng([{ png: red }, { png: blue }, { png: green2, x: 2, y: 2 }]);
  const fdat = records(valid).find((r) => r.type === 'fdAT')!;
  const broken: Array<[string, Buffer, RegExp]> = [
    ['num_frames not the number of fcTL chunks', editChunk(valid, 'acTL', 0, (d) => d.writeUInt32BE(2, 0)), /num_frames 2 but 3/],
    ['num_frames 0', editChunk(valid, 'acTL', 0, (d) => d.writeUInt32BE(0, 0)), /num_frames 0/],
    ['a sequence number out of order', editChunk(valid, 'fdAT', 1, (d) => d.writeUInt32BE(9, 0)), /sequence/],
    ['a region past the canvas', editChunk(valid, 'fcTL', 2, (d) => d.writeUInt32BE(3, 12)), /outside the canvas/],
    ['an empty region', editChunk(valid, 'fcTL', 1, (d) => d.writeUInt32BE(0, 4)), /outside the canvas/],
    ['an unknown blend_op', editChunk(valid, 'fcTL', 1, (d) => (d[25] = 2)), /blend_op/],
    ['a wrong CRC', editChunk(valid, 'fcTL', 1, (d) => (d[25] = 1), true), /CRC/],
    ['a default-image fcTL smaller than the canvas', editChunk(valid, 'fcTL', 0, (d) => d.writeUInt32BE(3, 4)), /whole canvas/],
    ['a frame without fdAT', Buffer.concat([valid.subarray(0, fdat.at), valid.subarray(fdat.at + 12 + fdat.length)]), /no fdAT|sequence/],
    ['no IEND', valid.subarray(0, valid.length - 12), /IEND/],
  ];
  it.each(broken)('malformed: %s -> read as the still default image, with the reason', (_, file, reason) => {
    const read = readApng(file);
    expect(isApng(read)).toBe(false);
    expect((read as { invalid?: string }).invalid).toMatch(reason);
  });
});

describe('buildFramePng', () => {
  it("makes a frame a PNG of its own that decodes to the frame's pixels, palette and transparency included", async () => {
    const palette = await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png({ palette: true }).toBuffer();
    const paletteFrame = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png({ palette: true }).toBuffer();
    for (const [frames, expected] of [
      [[{ png: red }, { png: green2, x: 1, y: 1 }], green2],
      [[{ png: palette }, { png: paletteFrame }], paletteFrame],
    ] as Array<[ApngFrameSpec[], Buffer]>) {
      const file = apng(frames);
      const read = readApng(file);
      if (!isApng(read)) throw new Error('not read as an APNG');
      expect(await rgba(buildFramePng(file, read, read.frames[1]!))).toEqual(await rgba(expected));
    }
  });
});

describe('framePngBytes', () => {
  it("is the length of buildFramePng's PNG, the default image's and an fdAT frame's, of one fdAT or several", () => {
    const file = apng([{ png: red }, { png: green2, x: 1, y: 1 }]);
    const read = readApng(file) as Apng;
    for (const frame of read.frames) expect(framePngBytes(read, frame)).toBe(buildFramePng(file, read, frame).length);
    // Split frame 1's data over two fdAT chunks (as encoders do for large frames): same PNG, same length.
    const split = { ...read.frames[1]!, data: [[read.frames[1]!.data[0]![0], read.frames[1]!.data[0]![0] + 3] as const, [read.frames[1]!.data[0]![0] + 3, read.frames[1]!.data[0]![1]] as const] };
    expect(buildFramePng(file, read, split)).toEqual(buildFramePng(file, read, read.frames[1]!));
    expect(framePngBytes(read, split)).toBe(buildFramePng(file, read, split).length);
  });
});

describe('ApngCanvas', () => {
  const frame = (over: Partial<ApngFrame>): ApngFrame => ({ index: 0, x: 0, y: 0, width: 2, height: 1, delayMs: 100, dispose: 0, blend: 0, data: [], ...over });
  const pixel = (canvas: ApngCanvas, x: number): number[] => [...canvas.pixels.subarray(x * 4, x * 4 + 4)];

  it('source replaces, over composites by alpha; dispose background clears the region, previous restores it', () => {
    const canvas = new ApngCanvas(3, 1);
    canvas.render(frame({ width: 3 }), Buffer.from([200, 0, 0, 255, 0, 0, 200, 255, 9, 9, 9, 0]));
    canvas.dispose(frame({ width: 3 }));
    expect(pixel(canvas, 2)).toEqual([9, 9, 9, 0]); // source keeps a transparent pixel's stored colour
    const over = frame({ blend: BLEND.over, dispose: DISPOSE.previous });
    canvas.render(over, Buffer.from([0, 200, 0, 128, 50, 50, 50, 0]));
    expect(pixel(canvas, 0)).toEqual([100, 100, 0, 255]);
    expect(pixel(canvas, 1)).toEqual([0, 0, 200, 255]); // fully transparent over: unchanged
    canvas.dispose(over);
    expect(pixel(canvas, 0)).toEqual([200, 0, 0, 255]);
    const cleared = frame({ x: 1, dispose: DISPOSE.background });
    canvas.render(cleared, Buffer.from([1, 2, 3, 255, 4, 5, 6, 255]));
    canvas.dispose(cleared);
    expect([...canvas.pixels]).toEqual([200, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('over onto a transparent pixel keeps the colour and its alpha', () => {
    const canvas = new ApngCanvas(1, 1);
    canvas.render(frame({ width: 1, blend: BLEND.over }), Buffer.from([10, 20, 30, 77]));
    expect(pixel(canvas, 0)).toEqual([10, 20, 30, 77]);
  });
});

describe('framesToRender', () => {
  const read = (frames: ApngFrameSpec[]) => {
    const result = readApng(apng(frames));
    if (!isApng(result)) throw new Error('not read as an APNG');
    return result;
  };

  it('replays from the last frame the canvas before it cannot change', () => {
    // Frames 0-3 whole with source: each starts clean, nothing is replayed.
    expect(framesToRender(read([{ png: red }, { png: blue }, { png: red }, { png: blue }]), [0, 3])).toEqual([0, 3]);
    // Partial frames build on what came before: everything from frame 0.
    expect(framesToRender(read([{ png: red }, { png: green2 }, { png: green2, x: 2 }, { png: green2, y: 2 }]), [3])).toEqual([0, 1, 2, 3]);
    // Over blends on the canvas, so does a frame after one kept with dispose previous.
    expect(framesToRender(read([{ png: red }, { png: blue, blend: BLEND.over }, { png: red }]), [1, 2])).toEqual([0, 1, 2]);
    expect(framesToRender(read([{ png: red }, { png: blue, dispose: DISPOSE.previous }, { png: green2 }]), [2])).toEqual([0, 1, 2]);
    // A whole frame disposed to the background leaves the next one a clear canvas.
    expect(framesToRender(read([{ png: red }, { png: blue, dispose: DISPOSE.background }, { png: green2 }]), [2])).toEqual([2]);
  });
});

describe('decodeImage of an APNG', () => {
  it('composites each sampled frame as a viewer shows it, and counts the frames', async () => {
    const file = apng([
      { png: red, dispose: DISPOSE.none },
      { png: green2, x: 2, y: 2, blend: BLEND.over, dispose: DISPOSE.previous },
      { png: green2, x: 0, y: 0 },
    ]);
    const decoded = await decodeImage(file);
    expect(decoded).toMatchObject({ format: 'png', width: 4, height: 4, frameCount: 3 });
    expect(decoded.frames.map((frame) => frame.index)).toEqual([0, 1, 2]);
    const at = (frame: number, x: number, y: number): number[] => [...decoded.frames[frame]!.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)];
    expect([at(0, 3, 3), at(1, 3, 3), at(1, 0, 0), at(2, 3, 3), at(2, 0, 0)]).toEqual([
      [255, 0, 0],
      [0, 255, 0],
      [255, 0, 0],
      [255, 0, 0], // frame 1 was disposed to the canvas before it
      [0, 255, 0],
    ]);
  });

  it('an APNG whose animation chunks are malformed decodes as its default image, one frame', async () => {
    const file = editChunk(apng([{ png: blue }], { defaultImage: red }), 'acTL', 0, (d) => d.writeUInt32BE(2, 0));
    const decoded = await decodeImage(file);
    expect(decoded.frameCount).toBe(1);
    expect([...decoded.frames[0]!.data.subarray(0, 3)]).toEqual([255, 0, 0]);
  });

  it(`more than ${MAX_APNG_FRAMES} frames: image_too_complex`, async () => {
    const pixel = await solid(1, 1, 1, 2, 3);
    const frames = Array.from({ length: MAX_APNG_FRAMES + 1 }, () => ({ png: pixel }));
    await expect(decodeImage(apng(frames))).rejects.toMatchObject({ code: 'image_too_complex', detail: { limitFrames: MAX_APNG_FRAMES } });
    expect((await decodeImage(apng(frames.slice(0, 3)))).frameCount).toBe(3);
  });

  it('a frame whose data does not decode: image_corrupt', async () => {
    const file = editChunk(apng([{ png: red }, { png: blue }]), 'fdAT', 0, (d) => d.fill(0x55, 4));
    await expect(decodeImage(file)).rejects.toMatchObject({ code: 'image_corrupt' });
  });

  it('the canvas transparent where no frame painted: alpha, and stored colours kept on a shrunk frame', async () => {
    const big = await solid(600, 600, 0, 0, 255, 1);
    const corner = await solid(300, 300, 255, 0, 0, 1);
    const decoded = await decodeImage(apng([{ png: big, dispose: DISPOSE.background }, { png: corner, x: 300, y: 300 }]));
    const second = decoded.frames[1]!;
    expect(decoded.hasAlpha).toBe(true);
    expect([second.width, second.height]).toEqual([512, 512]);
    expect(second.alpha?.[0]).toBe(0);
    expect(second.alpha?.at(-1)).toBe(255);
    expect(second.alphaWeighted).toBeDefined();
  });
});

describe('APNG decode memory: every replayed frame counts (its RGBA is garbage sharp frees only after a GC)', () => {
  /** The review's repro: `count` whole frames of side x side, blended over (each built on all before it). */
  const overFrames = async (side: number, count: number): Promise<{ file: Buffer; read: Apng; header: Metadata }> => {
    const png = await solid(side, side, 200, 10, 10, 0.5);
    const file = apng(Array.from({ length: count }, () => ({ png, blend: BLEND.over })));
    return { file, read: readApng(file) as Apng, header: await sharp(file).metadata() };
  };

  it("the estimate grows by each replayed frame's RGBA and PNG, not by two frames' whatever the replay", async () => {
    const { read, header } = await overFrames(100, 6);
    const bytes = (indices: number[]): number => heldApngDecode(header, read, 512, indices).bytes;
    const frame = 100 * 100 * 4 + framePngBytes(read, read.frames[5]!);
    // Sampling frame 5 replays 0 to 5; one more sampled frame adds its working copy (100x100, 11 bytes a pixel).
    expect(bytes([0, 5]) - bytes([0])).toBe(5 * frame + 100 * 100 * 11);
    expect(bytes([5]) - bytes([0])).toBe(5 * frame);
  });

  it('2000x2000, 60 frames: sampled over the first frames whose replay fits 256 MiB (it was 0-48, about 880 MiB)', async () => {
    const { read, header } = await overFrames(2000, 60);
    const held = (indices: readonly number[]): number => heldApngDecode(header, read, 512, indices).bytes;
    const indices = sampleApngFrames(read, 2000 * 2000, DEFAULT_DECODE_OPTIONS, held);
    const last = indices.at(-1)!;
    expect(indices).toHaveLength(8);
    expect(held(indices)).toBeLessThanOrEqual(DEFAULT_DECODE_OPTIONS.maxDecodeBytes);
    // The longest range that fits: one frame more does not.
    expect(held([...indices, last + 1])).toBeGreaterThan(DEFAULT_DECODE_OPTIONS.maxDecodeBytes);
    expect(last).toBeLessThan(48);
    expect(held(Array.from({ length: 49 }, (_, i) => i))).toBeGreaterThan(3 * DEFAULT_DECODE_OPTIONS.maxDecodeBytes);
  });

  it('decodeImage samples within the budget; a canvas whose frame 0 alone does not fit: image_too_many_pixels', async () => {
    const { file, read, header } = await overFrames(300, 40);
    const maxDecodeBytes = 12 * 1024 * 1024;
    const decoded = await decodeImage(file, { maxDecodeBytes });
    const indices = decoded.frames.map((frame) => frame.index);
    expect(decoded.frameCount).toBe(40);
    expect(indices[0]).toBe(0);
    expect(indices.at(-1)).toBeLessThan(39);
    expect(heldApngDecode(header, read, 512, indices).bytes).toBeLessThanOrEqual(maxDecodeBytes);
    expect(heldApngDecode(header, read, 512, [...indices, indices.at(-1)! + 1]).bytes).toBeGreaterThan(maxDecodeBytes);
    // Within the default budget, the whole animation.
    expect((await decodeImage(file)).frames.at(-1)!.index).toBe(39);
    const tooSmall = heldApngDecode(header, read, 512, [0]).bytes - 1;
    await expect(decodeImage(file, { maxDecodeBytes: tooSmall })).rejects.toMatchObject({ code: 'image_too_many_pixels', detail: { held: 'APNG frame' } });
  });
});

describe('an APNG default image that is not a frame (no fcTL before the IDAT)', () => {
  it('is decoded too, as APNG-unaware decoders show it: listed last, numbered frameCount, marked', async () => {
    const decoded = await decodeImage(apng([{ png: blue }], { defaultImage: red }));
    expect(decoded.frameCount).toBe(1);
    expect(decoded.frames.map((frame) => [frame.index, frame.apngDefaultImage, [...frame.data.subarray(0, 3)]])).toEqual([
      [0, undefined, [0, 0, 255]],
      [1, true, [255, 0, 0]],
    ]);
  });

  it('not when the IDAT is frame 0 (the animation shows it)', async () => {
    const decoded = await decodeImage(apng([{ png: red }, { png: blue }]));
    expect(decoded.frames.map((frame) => [frame.index, frame.apngDefaultImage])).toEqual([
      [0, undefined],
      [1, undefined],
    ]);
  });

  it('counts as one of maxFrames (the animation gets the others, at least one) and in the estimate', async () => {
    const frames = Array.from({ length: 10 }, (_, i) => ({ png: i % 2 ? blue : red }));
    const file = apng(frames, { defaultImage: red });
    expect((await decodeImage(file, { maxFrames: 4 })).frames.map((frame) => frame.index)).toEqual([0, 5, 9, 10]);
    expect((await decodeImage(file, { maxFrames: 1 })).frames.map((frame) => frame.index)).toEqual([0, 10]);
    const read = readApng(file) as Apng;
    const header = await sharp(file).metadata();
    const asFrame = readApng(apng(frames)) as Apng;
    expect(heldApngDecode(header, read, 512, [0]).bytes - heldApngDecode(header, asFrame, 512, [0]).bytes).toBeGreaterThan(0);
  });
});
