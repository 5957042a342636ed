/**
 * An animated WebP of a great many tiny frames makes libwebp's demuxer walk every frame on each
 * read of the file, in one native call no timeout stops: sharp's header read alone took 42 s at
 * 200,000 frames and 230 s at 400,000 (a 19 MiB file, under the byte cap), holding a decode slot
 * all along. Such a file is refused from its chunks (src/images/webp-frames.ts), before any sharp
 * call and before it takes a slot; an ordinary animation still decodes.
 */
import sharp from 'sharp';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { decodeImage, DecodeLimiter } from '../../src/images/index.js';
import { MAX_WEBP_FRAMES } from '../../src/images/webp-frames.js';
import { sharpCalls } from '../harness/sharp-calls.js';

vi.mock('sharp', async (importOriginal) => (await import('../harness/sharp-calls.js')).recordingSharp(importOriginal));

beforeEach(() => {
  sharpCalls.length = 0;
});

/** An animated WebP as sharp writes it, of `count` frames of 4x4. */
async function animation(count: number): Promise<Buffer> {
  const frames = await Promise.all(Array.from({ length: count }, (_, i) => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: i * 40, g: 0, b: 0 } } }).png().toBuffer()));
  return sharp(frames, { join: { animated: true } }).webp({ loop: 0, lossless: true }).toBuffer();
}

/** `webp` with its last ANMF chunk repeated until it has `frames` frames (RIFF size fixed). */
function withFrames(webp: Buffer, frames: number): Buffer {
  const chunks: Buffer[] = [];
  for (let at = 12; at + 8 <= webp.length; ) {
    const size = webp.readUInt32LE(at + 4);
    chunks.push(webp.subarray(at, at + 8 + size + (size & 1)));
    at += 8 + size + (size & 1);
  }
  const animationFrames = chunks.filter((chunk) => chunk.toString('latin1', 0, 4) === 'ANMF');
  const others = chunks.filter((chunk) => chunk.toString('latin1', 0, 4) !== 'ANMF');
  const last = animationFrames.at(-1)!;
  const body = Buffer.concat([Buffer.from('WEBP'), ...others, ...animationFrames, ...Array.from({ length: frames - animationFrames.length }, () => last)]);
  const header = Buffer.alloc(8);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe('an animated WebP of more frames than the header read can bear', () => {
  it(`more than ${MAX_WEBP_FRAMES} frames: image_too_complex, before any sharp call and without a decode slot`, async () => {
    const bomb = withFrames(await animation(2), MAX_WEBP_FRAMES + 1);
    sharpCalls.length = 0;
    const limiter = new DecodeLimiter(1);
    const release = await limiter.acquire(); // the only slot is held: the refusal does not wait for it
    try {
      const error = await decodeImage(bomb, { limiter }).then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(ScanError);
      expect(error).toMatchObject({ code: 'image_too_complex', permanent: true, detail: { format: 'webp', limitFrames: MAX_WEBP_FRAMES } });
      expect(limiter.waiting).toBe(0);
    } finally {
      release();
    }
    expect(sharpCalls).toEqual([]);
  });

  it('an ordinary animation still decodes, and so does one at the limit', async () => {
    const ordinary = await decodeImage(await animation(3));
    expect(ordinary.frameCount).toBe(3);
    // Each frame read of a 10,000-frame WebP walks every frame: the default 8 sampled frames, read
    // one after another, took 3.7 s of the 10 s decode deadline unloaded. One shows the count let it through.
    const atLimit = await decodeImage(withFrames(await animation(2), MAX_WEBP_FRAMES), { maxFrames: 1 });
    expect(atLimit.frameCount).toBe(MAX_WEBP_FRAMES);
  }, 30_000);
});
