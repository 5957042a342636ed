import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { countWebpFrames, isWebp, MAX_WEBP_FRAMES } from './webp-frames.js';

/** A RIFF chunk: fourcc, little-endian size, data padded to an even length. */
function chunk(type: string, data: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.write(type, 0, 'latin1');
  header.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, data, Buffer.alloc(data.length & 1)]);
}

function webp(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WEBP'), ...chunks]);
  const header = Buffer.alloc(8);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe('countWebpFrames', () => {
  it('counts the frames of an animation sharp writes, and 0 for a still WebP', async () => {
    const frames = await Promise.all(['#f00', '#0f0', '#00f'].map((background) => sharp({ create: { width: 4, height: 4, channels: 3, background } }).png().toBuffer()));
    const animated = await sharp(frames, { join: { animated: true } }).webp({ loop: 0 }).toBuffer();
    expect(countWebpFrames(animated)).toBe(3);
    const still = await sharp(frames[0]).webp().toBuffer();
    expect(countWebpFrames(still)).toBe(0);
  });

  it('counts ANMF chunks at the top level, padded sizes included, and stops past stopAfter', () => {
    const frame = chunk('ANMF', Buffer.alloc(17)); // odd: padded
    const file = webp(chunk('VP8X', Buffer.alloc(10)), chunk('ANIM', Buffer.alloc(6)), frame, frame, frame, chunk('EXIF', Buffer.alloc(3)));
    expect(countWebpFrames(file)).toBe(3);
    expect(countWebpFrames(file, 1)).toBe(2);
    const many = webp(chunk('VP8X', Buffer.alloc(10)), ...Array.from({ length: MAX_WEBP_FRAMES + 5 }, () => frame));
    expect(countWebpFrames(many, MAX_WEBP_FRAMES)).toBe(MAX_WEBP_FRAMES + 1);
  });

  it('walks a cut or lying file only as far as its bytes go, and never throws', () => {
    const frame = chunk('ANMF', Buffer.alloc(4));
    const file = webp(frame, frame);
    expect(countWebpFrames(file.subarray(0, file.length - 6))).toBe(1); // the second frame's header cut
    expect(countWebpFrames(file.subarray(0, file.length - 3))).toBe(2); // a frame whose header is there counts (over, never under)
    const lying = Buffer.from(file);
    lying.writeUInt32LE(0xffffffff, 4); // RIFF size past the end
    expect(countWebpFrames(lying)).toBe(2);
    const hugeChunk = Buffer.from(file);
    hugeChunk.writeUInt32LE(0xfffffff0, 16); // first chunk's size past the end
    expect(countWebpFrames(hugeChunk)).toBe(1);
    for (let n = 0; n < 200; n++) {
      const noise = Buffer.concat([Buffer.from('RIFF\x10\x00\x00\x00WEBP', 'latin1'), Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff))]);
      expect(() => countWebpFrames(noise)).not.toThrow();
    }
  });

  it('is undefined for bytes that are not a WebP', () => {
    expect(isWebp(Buffer.from('RIFF\x00\x00\x00\x00WAVE', 'latin1'))).toBe(false);
    expect(countWebpFrames(Buffer.from('GIF89a'))).toBeUndefined();
    expect(countWebpFrames(Buffer.alloc(0))).toBeUndefined();
  });
});
