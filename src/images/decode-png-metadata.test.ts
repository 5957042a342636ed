import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ScanError } from '../errors.js';
import { decodeImage } from './decode.js';
import { hashImage } from './index.js';
import { DROPPED_PNG_CHUNKS } from './png-chunks.js';
import { pngChunk as chunk } from '../../test/harness/png.js';
import { sharpCalls } from '../../test/harness/sharp-calls.js';

vi.mock('sharp', async (importOriginal) => (await import('../../test/harness/sharp-calls.js')).recordingSharp(importOriginal));

beforeEach(() => {
  sharpCalls.length = 0;
});

/** Every buffer decode.ts hands to sharp. */
const handed = (): Buffer[] => sharpCalls.map((call) => call.input).filter((input): input is Buffer => Buffer.isBuffer(input));


/** The chunk types of a PNG, in order (the walk stops at a record past the end). */
function chunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let at = 8; at + 12 <= png.length; at += 12 + png.readUInt32BE(at)) types.push(png.toString('latin1', at + 4, at + 8));
  return types;
}

/** `png` with `extra` inserted after its IHDR (8-byte signature, 25-byte IHDR record). */
const withChunks = (png: Buffer, ...extra: Buffer[]): Buffer => Buffer.concat([png.subarray(0, 33), ...extra, png.subarray(33)]);

/** A 64x64 gradient with something to hash. */
const image = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 251)), { raw: { width: 64, height: 64, channels: 3 } })
  .png()
  .toBuffer();

/** A compressed text chunk that inflates to `bytes`: what libpng inflated, and libvips copied, on every read. */
const textBomb = (type: 'zTXt' | 'iTXt', i: number): Buffer => {
  const head = type === 'zTXt' ? `Comment${i}\0\0` : `XML:com.adobe.xmp${i}\0\x01\0\0\0`;
  return chunk(type, Buffer.concat([Buffer.from(head, 'latin1'), SEVEN_MB_OF_TEXT]));
};
const SEVEN_MB_OF_TEXT = deflateSync(Buffer.alloc(7_000_000, 0x41), { level: 9 });

describe('decodeImage of a PNG with metadata chunks', () => {
  it('a text-chunk bomb (zTXt and iTXt inflating to 7 MB each, 240 KB of file) decodes as the image without them, and no sharp call sees them', async () => {
    const bombs = Array.from({ length: 36 }, (_, i) => textBomb(i % 2 ? 'iTXt' : 'zTXt', i));
    const bomb = withChunks(image, ...bombs);
    expect(bomb.length).toBeLessThan(image.length + 250_000);

    const decoded = await decodeImage(bomb);
    expect(handed().length).toBeGreaterThan(0);
    for (const input of handed()) expect(chunkTypes(input)).toEqual(chunkTypes(image));
    expect(decoded).toEqual(await decodeImage(image));
    expect(hashImage(decoded)).toEqual(hashImage(await decodeImage(image)));
  });

  it('an ICC profile inflating to 50 MB, with sPLT, pCAL and sCAL, never reaches sharp either', async () => {
    // A header libpng accepts (length, 'acsp', RGB, XYZ), so that it would inflate the whole profile.
    const icc = Buffer.alloc(50_000_000);
    icc.writeUInt32BE(icc.length, 0);
    icc.write('mntrRGB XYZ ', 12, 'latin1');
    icc.write('acsp', 36, 'latin1');
    const others = [
      chunk('iCCP', Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(icc, { level: 9 })])),
      chunk('sPLT', Buffer.concat([Buffer.from('pal\0\x08', 'latin1'), Buffer.alloc(6_000, 1)])),
      chunk('pCAL', Buffer.concat([Buffer.from('cal\0\0\0\0\0\0\0\0\x01\0\x01u\x000', 'latin1')])),
      chunk('sCAL', Buffer.from('\x011\x001', 'latin1')),
    ];
    expect(others.map((record) => record.toString('latin1', 4, 8)).every((type) => DROPPED_PNG_CHUNKS.includes(type))).toBe(true);

    const decoded = await decodeImage(withChunks(image, ...others));
    for (const input of handed()) expect(chunkTypes(input)).toEqual(chunkTypes(image));
    expect(decoded).toEqual(await decodeImage(image));
  });

  it('a PNG with nothing to drop reaches sharp as the caller\'s own bytes, not a copy', async () => {
    await decodeImage(image);
    expect(handed().length).toBeGreaterThan(0);
    for (const input of handed()) expect(input.buffer).toBe(image.buffer);
  });

  it("the ICC profile dropped was never used: a Display P3 PNG decodes to its stored values, as it did with the profile", async () => {
    const p3 = await sharp(image).withIccProfile('p3').png().toBuffer();
    expect(chunkTypes(p3)).toContain('iCCP');
    const stored = await sharp(p3, { ignoreIcc: true }).raw().toBuffer();
    const managed = await sharp(p3).toColourspace('srgb').raw().toBuffer();
    expect(managed.equals(stored)).toBe(false);
    expect((await decodeImage(p3)).frames[0]!.data.equals(stored)).toBe(true);
  });

  it('a broken chunk list still fails with the decode\'s own error code, text chunks before it dropped', async () => {
    const bomb = withChunks(image, textBomb('zTXt', 0));
    const cut = bomb.subarray(0, bomb.length - 40);
    const error = await decodeImage(cut).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ScanError);
    expect((error as ScanError).code).toBe('image_corrupt');
    for (const input of handed()) expect(chunkTypes(input)).not.toContain('zTXt');
  });
});
