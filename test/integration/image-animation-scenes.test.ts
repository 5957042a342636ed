/**
 * An animation's frames are sampled by scene and by how long each picture is shown, not frame by
 * frame, and its last frame is always among them when it fits the budget; a TIFF's pages are all
 * hashed. Each shape below was allowed before:
 *   - a picture shown 2.5 s as a run of 25 frames of 100 ms, each differing from the last in one
 *     corner pixel, among 200 frames of 100 ms: an even spread over the frames missed the run;
 *   - a picture held 5 s as one frame among frames of 20 ms, with longer-held decoys: the slots
 *     for the longest shown went to the decoys;
 *   - a play-once animation ending on the picture, its last frame cut by the animation budget;
 *   - a 20-page TIFF with the picture on page 2: its pages were sampled like frames.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/images/decode.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';
import { demoHashSetScan } from '../harness/demo-hashset-scan.js';

const W = 96;
const H = 72;

/** A fixture as raw RGB, W x H. */
async function picture(name: string, width = W, height = H): Promise<Buffer> {
  return sharp(`${FIXTURE_IMAGES}/${name}.jpg`).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}

/** A copy of `rgb` with its first pixel set from `i`: no two consecutive frames alike (cgif stores a 1x1 difference). */
function tagged(rgb: Buffer, i: number): Buffer {
  const copy = Buffer.from(rgb);
  copy[0] = (i * 37) & 255;
  copy[1] = (i * 91) & 255;
  copy[2] = i & 1 ? 0 : 255;
  return copy;
}

function encode(format: 'gif' | 'webp', frames: Buffer[], delay: number[], loop = 0, width = W, height = H): Promise<Buffer> {
  const strip = sharp(Buffer.concat(frames), { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } });
  // effort 1 / 0: the encoder's default effort takes seconds for a few hundred frames.
  return format === 'gif' ? strip.gif({ delay, loop, effort: 1 }).toBuffer() : strip.webp({ delay, loop, quality: 90, effort: 0 }).toBuffer();
}

type Details = { frameCount: number; framesHashed: number; sampledFrames: number[] };

describe('animation frames sampled by scene', () => {
  const scan = demoHashSetScan();

  it.each(['gif', 'webp'] as const)('a %s showing the picture 2.5 s as a run of 25 frames of 100 ms among 200: the run is hashed, and matched', async (format) => {
    const [bad, fill] = await Promise.all([picture('clouds'), picture('rings')]);
    const frames = Array.from({ length: 200 }, (_, i) => tagged(i >= 1 && i <= 25 ? bad : fill, i));
    const verdict = await scan(`scene-run-${format}`, await encode(format, frames, Array(200).fill(100)));
    const details = verdict.items[0]!.details as Details;
    expect(details.frameCount).toBe(200);
    // Three scenes: frame 0, the run (1 to 25), the rest: each as its last frame.
    expect(details.sampledFrames).toEqual([0, 25, 199]);
    expect(verdict.decision).toBe('block');
    for (const signal of verdict.signals.filter((s) => s.source === 'hashset')) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 25 });
  });

  it('a gif holding the picture 5 s as one frame, the others 20 ms, with decoys held 5.01 s: the picture is hashed, and matched', async () => {
    const [bad, fill, ...others] = await Promise.all(['clouds', 'rings', 'shapes', 'text-lines', 'mosaic', 'shapes--rot90', 'mosaic--mirror', 'text-lines--rot90', 'rings--rot90'].map((name) => picture(name)));
    // Decoys of the fill picture (the reviewer's shape: one scene with the fill), then 7 decoys each a picture of its own.
    const decoys = new Map([50, 80, 110, 140, 170, 200, 230].map((frame, i) => [frame, others[i]!]));
    const frames = Array.from({ length: 260 }, (_, i) => tagged(i === 20 ? bad! : (decoys.get(i) ?? fill!), i));
    const delay = Array.from({ length: 260 }, (_, i) => (i === 20 ? 5000 : decoys.has(i) || i % 60 === 59 ? 5010 : 20));
    const verdict = await scan('scene-decoys', await encode('gif', frames, delay));
    const details = verdict.items[0]!.details as Details;
    expect(details.sampledFrames).toContain(20);
    expect(details.sampledFrames).toEqual(expect.arrayContaining([...decoys.keys()]));
    expect(details.framesHashed).toBeGreaterThan(8);
    expect(verdict.decision).toBe('block');
  });

  it('a play-once gif of 300 512x512 frames ending on the picture: the last frame is hashed though the budget cuts the spread', async () => {
    const bad = await picture('clouds', 512, 512);
    const blank = Buffer.alloc(512 * 512 * 3, 255);
    const frames = Array.from({ length: 300 }, (_, i) => tagged(i === 299 ? bad : blank, i));
    const gif = await encode('gif', frames, Array(300).fill(20), 1, 512, 512);
    const verdict = await scan('scene-last', gif);
    expect((verdict.items[0]!.details as Details).sampledFrames.at(-1)).toBe(299);
    expect(verdict.decision).toBe('block');
  });

  it('without the scene pass (over budget), frame by frame: the last frame is still sampled, the spread cut to fit', async () => {
    const [bad, fill] = await Promise.all([picture('clouds'), picture('rings')]);
    const frames = Array.from({ length: 200 }, (_, i) => tagged(i === 199 ? bad : fill, i));
    const gif = await encode('gif', frames, Array(200).fill(100), 1);
    // 200 frames of 6,912 pixels: frames 0 and 199 take 1.39 MP; the pass would take 1.46 MP more.
    const decoded = await decodeImage(gif, { maxAnimationPixels: 2_000_000 });
    const sampled = decoded.frames.map((frame) => frame.index);
    expect(sampled[0]).toBe(0);
    expect(sampled.at(-1)).toBe(199);
    expect(sampled.reduce((sum, i) => sum + i + 1, 0) * W * H).toBeLessThanOrEqual(2_000_000);
  });
});

describe('animation scenes: review regressions', () => {
  const scan = demoHashSetScan();

  /** A fixture as raw grey, side x side. */
  function grey(name: string, side: number): Promise<Buffer> {
    return sharp(`${FIXTURE_IMAGES}/${name}.jpg`).resize(side, side, { fit: 'fill' }).greyscale().raw().toBuffer();
  }

  /** A GIF of grey frames, each frame's last pixel set from its number (no two consecutive frames alike, or the encoder merges them). */
  function greyGif(frames: Buffer[], delay: number[], side: number): Promise<Buffer> {
    const tagged = frames.map((frame, i) => {
      const copy = Buffer.from(frame);
      copy[copy.length - 1] = i & 1 ? 0 : 255;
      return copy;
    });
    return sharp(Buffer.concat(tagged), { raw: { width: side, height: side * frames.length, channels: 1, pageHeight: side } }).gif({ delay, effort: 1, dither: 0 }).toBuffer();
  }

  it("a picture carrying the other's values at the pixels a 'nearest' 32x32 thumbnail reads is a scene of its own, and matched", async () => {
    const S = 512;
    const [fill, bad] = await Promise.all([grey('rings', S), grey('clouds', S)]);
    const forged = Buffer.from(bad);
    // The 1,024 pixels (8 + 16i, 8 + 16j) that kernel 'nearest' read of a 512x512 frame.
    for (let j = 0; j < 32; j++) for (let i = 0; i < 32; i++) forged[(8 + 16 * j) * S + 8 + 16 * i] = fill[(8 + 16 * j) * S + 8 + 16 * i]!;
    const frames = Array.from({ length: 40 }, (_, i) => (i >= 10 && i < 30 ? forged : fill));
    const verdict = await scan('scene-forged-nearest', await greyGif(frames, Array(40).fill(100), S));
    expect((verdict.items[0]!.details as Details).sampledFrames).toEqual([0, 29, 39]);
    expect(verdict.decision).toBe('block');
  });

  it('a GIF of 300 large frames showing the picture 10 s at frames 100 to 199: hashed, and no fewer frames than the 8 frame by frame', async () => {
    // The reviewer's 300 512x512 frames under the 200 MP budget, at a 16th of the scale (128x128, 12.5 MP):
    // the scene pass took the budget, and only frames 0 and 299 were decoded.
    const S = 128;
    const [before, bad, after] = await Promise.all([grey('rings', S), grey('clouds', S), grey('shapes', S)]);
    const frames = Array.from({ length: 300 }, (_, i) => (i < 100 ? before : i < 200 ? bad : after));
    const decoded = await decodeImage(await greyGif(frames, Array(300).fill(100), S), { maxAnimationPixels: 12_500_000 });
    const sampled = decoded.frames.map((frame) => frame.index);
    expect(decoded.frameCount).toBe(300);
    expect(sampled.some((frame) => frame >= 100 && frame < 200)).toBe(true);
    expect(sampled).toHaveLength(8);
    expect(sampled.at(-1)).toBe(299);
  });

  it('two pictures in alternation every 100 ms over 197 frames (the first and last frames the fill): the picture is hashed, and matched', async () => {
    const S = 128;
    const [fill, bad] = await Promise.all([grey('rings', S), grey('clouds', S)]);
    const frames = Array.from({ length: 197 }, (_, i) => (i % 2 ? bad : fill));
    const verdict = await scan('scene-flicker', await greyGif(frames, Array(197).fill(100), S));
    // The even spread over 197 scenes of one frame lands on even frames only; the picture, shown 9.8 s in all, is one of the longest shown.
    expect((verdict.items[0]!.details as Details).sampledFrames.some((frame) => frame % 2 === 1)).toBe(true);
    expect(verdict.decision).toBe('block');
  });

  it("an animated WebP's reads are charged the frames libwebp walks: a long one is sampled within the budget, not timed out", async () => {
    const side = 16;
    const frameCount = 1000;
    const frames = Array.from({ length: frameCount }, (_, i) => {
      const frame = Buffer.alloc(side * side * 3, i >= frameCount - 24 ? (i % 2 ? 255 : 0) : 128);
      // No two consecutive frames alike (the encoder would merge them).
      if (i < frameCount - 24) [frame[0], frame[1]] = [i & 255, i >> 8];
      return frame;
    });
    const delay = Array.from({ length: frameCount }, (_, i) => (i >= frameCount - 24 ? 1500 : 20));
    const webp = await sharp(Buffer.concat(frames), { raw: { width: side, height: side * frameCount, channels: 3, pageHeight: side } })
      .webp({ delay, lossless: true, effort: 0, minSize: false })
      .toBuffer();
    // 1,000 frames walked on each read: 3 MP a read, so 20 MP holds the scene pass and 5 decodes.
    const maxAnimationPixels = 20_000_000;
    const decoded = await decodeImage(webp, { maxAnimationPixels });
    expect(decoded.frameCount).toBe(frameCount);
    expect(decoded.frames.length).toBeGreaterThanOrEqual(2);
    expect(decoded.frames.length).toBeLessThanOrEqual(6);
    expect(decoded.frames.at(-1)!.index).toBe(frameCount - 1);
  });
});

describe('TIFF pages', () => {
  const scan = demoHashSetScan();

  async function tiff(pages: number, badPage: number): Promise<Buffer> {
    const [bad, fill] = await Promise.all([picture('clouds'), picture('rings')]);
    const frames = Array.from({ length: pages }, (_, i) => (i === badPage ? bad : tagged(fill, i)));
    return sharp(Buffer.concat(frames), { raw: { width: W, height: H * pages, channels: 3, pageHeight: H } }).tiff({ compression: 'lzw' }).toBuffer();
  }

  it('a 20-page TIFF with the picture on page 2: every page is hashed, and page 2 matched', async () => {
    const verdict = await scan('tiff-pages', await tiff(20, 2));
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 20, framesHashed: 20 });
    expect(verdict.decision).toBe('block');
    for (const signal of verdict.signals.filter((s) => s.source === 'hashset')) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 2 });
  });

  it('a TIFF of more than 32 pages is image_too_complex (review), not a sample of its pages', async () => {
    const file = await tiff(33, 30);
    await expect(decodeImage(file)).rejects.toMatchObject({ code: 'image_too_complex', detail: { format: 'tiff', pages: 33, limitPages: 32 } });
    const verdict = await scan('tiff-too-many-pages', file);
    expect(verdict.decision).toBe('review');
    expect((await decodeImage(file, { maxTiffPages: 33 })).frames.map((frame) => frame.index)).toHaveLength(33);
  });

  it("a TIFF whose pages hold more pixels in all than maxAnimationPixels is image_too_complex, naming the pixels", async () => {
    const file = await tiff(20, 2);
    const pixels = 20 * W * H;
    await expect(decodeImage(file, { maxAnimationPixels: pixels - 1 })).rejects.toMatchObject({
      code: 'image_too_complex',
      detail: { format: 'tiff', pages: 20, pixels, limitPixels: pixels - 1 },
    });
    expect((await decodeImage(file, { maxAnimationPixels: pixels })).frames).toHaveLength(20);
  });
});
