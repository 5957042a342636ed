/**
 * A CMYK image goes to sRGB through its embedded ICC profile, and lcms builds that transform in one
 * native call that sharp's timeout cannot stop. An 81 KB CMYK JPEG whose profile has a D2B0 pipeline
 * of 10,000 stages kept its decode slot until 21 to 52 s, long past its 10 s image_timeout. Such a
 * profile is not handed to lcms: the image decodes as if it had none (libvips's own CMYK profile),
 * while a lut-based profile, what real CMYK images carry, is still used (src/images/icc-profile.ts).
 */
import sharp, { type SharpOptions } from 'sharp';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeImage } from '../../src/images/index.js';
import { sharpCalls } from '../harness/sharp-calls.js';

vi.mock('sharp', async (importOriginal) => (await import('../harness/sharp-calls.js')).recordingSharp(importOriginal));

beforeEach(() => {
  sharpCalls.length = 0;
});

/** The options of every sharp call decode.ts makes on an encoded image (not on raw pixels). */
const sharpOptions = (): SharpOptions[] =>
  sharpCalls.filter((call) => Buffer.isBuffer(call.input) && call.options?.raw === undefined).map((call) => (call.options ?? {}) as SharpOptions);

const s15 = (value: number): number => Math.round(value * 65536);
const text = (signature: string, body: Buffer): Buffer => Buffer.concat([Buffer.from(signature, 'latin1'), Buffer.alloc(4), body]);

/** A 'matf' element: inputs x outputs float matrix (identity where it can be), zero offsets. */
function matrixElement(inputs: number, outputs: number): Buffer {
  const element = Buffer.alloc(12 + 4 * inputs * outputs + 4 * outputs);
  element.write('matf', 0, 'latin1');
  element.writeUInt16BE(inputs, 8);
  element.writeUInt16BE(outputs, 10);
  for (let i = 0; i < Math.min(inputs, outputs); i++) element.writeFloatBE(1, 12 + 4 * (i * inputs + i));
  return element;
}

/** A multiProcessElements pipeline CMYK -> Lab of `stages` 4x4 matrices, all pointing at one element, and a 4x3 one. */
function mpet(stages: number): Buffer {
  const square = matrixElement(4, 4);
  const last = matrixElement(4, 3);
  const table = 16 + (stages + 1) * 8;
  const tag = Buffer.alloc(table + square.length + last.length);
  tag.write('mpet', 0, 'latin1');
  tag.writeUInt16BE(4, 8);
  tag.writeUInt16BE(3, 10);
  tag.writeUInt32BE(stages + 1, 12);
  for (let i = 0; i < stages; i++) {
    tag.writeUInt32BE(table, 16 + i * 8);
    tag.writeUInt32BE(square.length, 20 + i * 8);
  }
  tag.writeUInt32BE(table + square.length, 16 + stages * 8);
  tag.writeUInt32BE(last.length, 20 + stages * 8);
  square.copy(tag, table);
  last.copy(tag, table + square.length);
  return tag;
}

/** A lut16 ('mft2') CMYK -> Lab table of 2 grid points a side, all zero: every colour maps to the zero Lab encoding. */
function lut16(): Buffer {
  const entries = 2;
  const tag = Buffer.alloc(52 + 4 * entries * 2 + 2 ** 4 * 3 * 2 + 3 * entries * 2);
  tag.write('mft2', 0, 'latin1');
  tag[8] = 4;
  tag[9] = 3;
  tag[10] = 2;
  for (const d of [0, 4, 8]) tag.writeInt32BE(65536, 12 + 4 * d);
  tag.writeUInt16BE(entries, 48);
  tag.writeUInt16BE(entries, 50);
  for (let c = 0, at = 52; c < 4; c++, at += 4) tag.writeUInt16BE(65535, at + 2);
  return tag;
}

/** An ICC v4 CMYK -> Lab input profile with a lut16 A2B0, and a D2B0 pipeline of `stages` stages when given. */
function cmykProfile(stages?: number): Buffer {
  const xyz = Buffer.alloc(20);
  xyz.write('XYZ ', 0, 'latin1');
  [0.9642, 1, 0.8249].forEach((value, i) => xyz.writeInt32BE(s15(value), 8 + 4 * i));
  const tags: [string, Buffer][] = [
    ['cprt', text('text', Buffer.from('test\0', 'latin1'))],
    ['wtpt', xyz],
    ['A2B0', lut16()],
    ...(stages === undefined ? [] : [['D2B0', mpet(stages)] as [string, Buffer]]),
  ];
  let offset = 132 + 12 * tags.length;
  const entries = tags.map(([signature, data]) => {
    offset = (offset + 3) & ~3;
    const entry = { signature, offset, data };
    offset += data.length;
    return entry;
  });
  const profile = Buffer.alloc((offset + 3) & ~3);
  profile.writeUInt32BE(profile.length, 0);
  profile.writeUInt32BE(0x04300000, 8);
  profile.write('scnrCMYKLab ', 12, 'latin1');
  profile.write('acsp', 36, 'latin1');
  [0.9642, 1, 0.8249].forEach((value, i) => profile.writeInt32BE(s15(value), 68 + 4 * i));
  profile.writeUInt32BE(tags.length, 128);
  entries.forEach(({ signature, offset: at, data }, i) => {
    profile.write(signature, 132 + 12 * i, 'latin1');
    profile.writeUInt32BE(at, 136 + 12 * i);
    profile.writeUInt32BE(data.length, 140 + 12 * i);
    data.copy(profile, at);
  });
  return profile;
}

/** The JPEG with `profile` in APP2 ICC_PROFILE segments right after SOI. */
function withIcc(jpeg: Buffer, profile: Buffer): Buffer {
  const chunk = 65519;
  const count = Math.ceil(profile.length / chunk);
  const segments = Array.from({ length: count }, (_, i) => {
    const part = profile.subarray(i * chunk, (i + 1) * chunk);
    const head = Buffer.alloc(18);
    head.writeUInt16BE(0xffe2, 0);
    head.writeUInt16BE(16 + part.length, 2);
    head.write('ICC_PROFILE\0', 4, 'latin1');
    head[16] = i + 1;
    head[17] = count;
    return Buffer.concat([head, part]);
  });
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** An uncompressed little-endian TIFF of 8-bit CMYK pages, each `width` x `height` of one colour, with its own ICC profile. */
function cmykTiff(width: number, height: number, pages: { cmyk: number[]; icc: Buffer }[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x49, 0x49, 42, 0, 8, 0, 0, 0])];
  let at = 8;
  pages.forEach(({ cmyk: colour, icc }, page) => {
    const entries = 11;
    const ifdBytes = 2 + entries * 12 + 4;
    const bitsAt = at + ifdBytes;
    const pixelsAt = bitsAt + 8;
    const pixelBytes = width * height * 4;
    const iccAt = pixelsAt + pixelBytes + (pixelBytes % 2);
    const next = iccAt + icc.length + (icc.length % 2);
    const ifd = Buffer.alloc(ifdBytes);
    ifd.writeUInt16LE(entries, 0);
    const fields: [number, number, number, number][] = [
      [256, 3, 1, width],
      [257, 3, 1, height],
      [258, 3, 4, bitsAt],
      [259, 3, 1, 1],
      [262, 3, 1, 5],
      [273, 4, 1, pixelsAt],
      [277, 3, 1, 4],
      [278, 3, 1, height],
      [279, 4, 1, pixelBytes],
      [284, 3, 1, 1],
      [34675, 7, icc.length, iccAt],
    ];
    fields.forEach(([tag, type, count, value], i) => {
      ifd.writeUInt16LE(tag, 2 + 12 * i);
      ifd.writeUInt16LE(type, 4 + 12 * i);
      ifd.writeUInt32LE(count, 6 + 12 * i);
      if (type === 3 && count === 1) ifd.writeUInt16LE(value, 10 + 12 * i);
      else ifd.writeUInt32LE(value, 10 + 12 * i);
    });
    ifd.writeUInt32LE(page + 1 < pages.length ? next : 0, ifdBytes - 4);
    const bits = Buffer.alloc(8);
    for (let c = 0; c < 4; c++) bits.writeUInt16LE(8, 2 * c);
    const pixels = Buffer.alloc(pixelBytes + (pixelBytes % 2));
    for (let p = 0; p < width * height; p++) pixels.set(colour, 4 * p);
    parts.push(ifd, bits, pixels, icc, Buffer.alloc(icc.length % 2));
    at = next;
  });
  return Buffer.concat(parts);
}

/** A CMYK JPEG with no profile. */
const cmyk = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 100, b: 50 } } }).toColourspace('cmyk').jpeg().toBuffer();
const pixels = async (bytes: Buffer): Promise<Buffer> => (await decodeImage(bytes)).frames[0]!.data;

describe('a CMYK JPEG\'s embedded ICC profile', () => {
  it('one with a D2B0 pipeline of many stages is not handed to lcms: the image decodes as one without a profile', async () => {
    expect((await sharp(cmyk).metadata()).icc).toBeUndefined();
    const hostile = withIcc(cmyk, cmykProfile(10_000));
    expect(hostile.length).toBeLessThan(100_000);
    const { icc, space } = await sharp(hostile).metadata();
    expect(space).toBe('cmyk');
    expect(icc).toEqual(cmykProfile(10_000));
    sharpCalls.length = 0;

    const decoded = await decodeImage(hostile);
    expect(decoded).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    // The header read, then the pixel decode, which leaves the profile out.
    expect(sharpOptions().slice(1).map((options) => options.ignoreIcc)).toEqual([true]);
    expect(decoded.frames[0]!.data).toEqual(await pixels(cmyk));
  });

  it('a lut-based one is still used: its colours, not libvips\'s own profile\'s', async () => {
    const plain = withIcc(cmyk, cmykProfile());
    const data = await pixels(plain);
    expect(sharpOptions().slice(1).map((options) => options.ignoreIcc)).toEqual([false]);
    // Its A2B0 maps every colour to the zero Lab encoding (L 0, a and b -128): a deep blue, where
    // libvips's profile gives back the orange the image was made from.
    const [r, g, b] = data;
    expect(b! - r!).toBeGreaterThan(150);
    expect(g!).toBeLessThan(b!);
    const [r0, g0, b0] = await pixels(cmyk);
    expect(r0! - b0!).toBeGreaterThan(150);
    expect(g0!).toBeGreaterThan(b0!);
  });

  it('libvips\'s own CMYK profile, embedded as sharp writes it, is still used', async () => {
    const embedded = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a7bd5' } }).toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer();
    expect((await sharp(embedded).metadata()).icc?.length).toBeGreaterThan(100_000);
    sharpCalls.length = 0;
    const data = await pixels(embedded);
    expect(sharpOptions().slice(1).map((options) => options.ignoreIcc)).toEqual([false]);
    const reference = await sharp(embedded).toColourspace('srgb').raw().toBuffer();
    expect(data).toEqual(reference);
  });

  it('each page of a TIFF is judged by its own profile: a hostile one on page 2 is left out, page 1\'s plain one is used', async () => {
    const tiff = cmykTiff(32, 24, [
      { cmyk: [0, 128, 200, 0], icc: cmykProfile() },
      { cmyk: [0, 128, 200, 0], icc: cmykProfile(10_000) },
    ]);
    const [first, second] = await Promise.all([0, 1].map((page) => sharp(tiff, { page }).metadata()));
    expect([first!.space, second!.space, first!.pages]).toEqual(['cmyk', 'cmyk', 2]);
    expect([first!.icc, second!.icc]).toEqual([cmykProfile(), cmykProfile(10_000)]);
    sharpCalls.length = 0;

    const decoded = await decodeImage(tiff);
    expect(decoded).toMatchObject({ format: 'tiff', frameCount: 2 });
    const pageDecodes = sharpOptions().filter((options) => options.ignoreIcc !== undefined);
    expect(pageDecodes.map(({ page, ignoreIcc }) => ({ page, ignoreIcc }))).toEqual([
      { page: 0, ignoreIcc: false },
      { page: 1, ignoreIcc: true },
    ]);
    // Page 1 through its lut (the zero Lab encoding: blue), page 2 through libvips's profile (orange).
    const [page1, page2] = decoded.frames.map((frame) => [...frame.data.subarray(0, 3)]);
    expect(page1![2]! - page1![0]!).toBeGreaterThan(150);
    expect(page2![0]! - page2![2]!).toBeGreaterThan(100);
  });
});
