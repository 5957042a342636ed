import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DROPPED_PNG_CHUNKS, MAX_EXIF_BYTES, stripPngMetadata } from './png-chunks.js';
import { pngChunk as chunk } from '../../test/harness/png.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const u32 = (...values: number[]): Buffer => {
  const bytes = Buffer.alloc(4 * values.length);
  values.forEach((value, i) => bytes.writeUInt32BE(value, 4 * i));
  return bytes;
};

/** A 2x2 8-bit RGB image's IHDR and IDAT. */
const IHDR = chunk('IHDR', Buffer.concat([u32(2, 2), Buffer.from([8, 2, 0, 0, 0])]));
const IDAT = chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 255, 255])));
const IEND = chunk('IEND');
const png = (...chunks: Buffer[]): Buffer => Buffer.concat([SIGNATURE, ...chunks]);

const zTXt = chunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), deflateSync(Buffer.alloc(100_000, 0x41))]));
const iTXt = chunk('iTXt', Buffer.concat([Buffer.from('XML:com.adobe.xmp\0\x01\0\0\0', 'latin1'), deflateSync(Buffer.from('<x/>'))]));
const tEXt = chunk('tEXt', Buffer.from('Title\0hello', 'latin1'));
const iCCP = chunk('iCCP', Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(Buffer.alloc(1000))]));
const sPLT = chunk('sPLT', Buffer.concat([Buffer.from('pal\0\x08', 'latin1'), Buffer.alloc(12, 1)]));
const pCAL = chunk('pCAL', Buffer.concat([Buffer.from('cal\0', 'latin1'), u32(0, 1), Buffer.from([0, 0]), Buffer.from('u', 'latin1')]));
const sCAL = chunk('sCAL', Buffer.from('\x011\x001', 'latin1'));
const DROPPED = [zTXt, iTXt, tEXt, iCCP, sPLT, pCAL, sCAL];
/** Kept chunks: what decides the pixels, and others libpng reads cheaply or skips. */
const gAMA = chunk('gAMA', u32(45455));
const pHYs = chunk('pHYs', Buffer.concat([u32(2835, 2835), Buffer.from([1])]));
const tIME = chunk('tIME', Buffer.from([7, 0xe8, 1, 2, 3, 4, 5]));
const eXIf = chunk('eXIf', Buffer.from('MM\0\x2a\0\0\0\x08\0\0', 'latin1'));
const private_ = chunk('prVt', Buffer.alloc(64, 7));

describe('stripPngMetadata', () => {
  it('drops every text, ICC, sPLT, pCAL and sCAL chunk, before and after IDAT, and keeps the rest byte for byte, in order', () => {
    const input = png(IHDR, zTXt, gAMA, iCCP, tEXt, pHYs, sPLT, pCAL, sCAL, eXIf, IDAT, iTXt, tIME, zTXt, private_, IEND);
    expect(stripPngMetadata(input)).toEqual(png(IHDR, gAMA, pHYs, eXIf, IDAT, tIME, private_, IEND));
    expect(DROPPED.map((record) => record.toString('latin1', 4, 8)).sort()).toEqual([...DROPPED_PNG_CHUNKS].sort());
  });

  it('returns the very same buffer when there is nothing to drop, or the bytes are not a PNG', () => {
    const plain = png(IHDR, gAMA, eXIf, pHYs, private_, IDAT, tIME, IEND);
    expect(stripPngMetadata(plain)).toBe(plain);
    for (const other of [Buffer.alloc(0), SIGNATURE.subarray(0, 7), SIGNATURE, Buffer.from('GIF89a'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), zTXt])]) {
      expect(stripPngMetadata(other)).toBe(other);
    }
  });

  it('keeps an APNG whole but for its text: acTL, fcTL and fdAT stay as they are, in order', () => {
    const acTL = chunk('acTL', u32(2, 0));
    const fcTL = (sequence: number): Buffer => chunk('fcTL', Buffer.concat([u32(sequence, 2, 2, 0, 0), Buffer.from([0, 1, 0, 1, 0, 0])]));
    const fdAT = chunk('fdAT', Buffer.concat([u32(2), IDAT.subarray(8, -4)]));
    const input = png(IHDR, acTL, tEXt, fcTL(0), IDAT, zTXt, fcTL(1), iTXt, fdAT, tEXt, IEND);
    expect(stripPngMetadata(input)).toEqual(png(IHDR, acTL, fcTL(0), IDAT, fcTL(1), fdAT, IEND));
  });

  it('drops an eXIf chunk larger than MAX_EXIF_BYTES, keeps one of that size', () => {
    const exif = (bytes: number): Buffer => chunk('eXIf', Buffer.concat([Buffer.from('MM\0\x2a\0\0\0\x08', 'latin1'), Buffer.alloc(bytes - 8)]));
    const atLimit = png(IHDR, exif(MAX_EXIF_BYTES), IDAT, IEND);
    expect(stripPngMetadata(atLimit)).toBe(atLimit);
    expect(stripPngMetadata(png(IHDR, exif(MAX_EXIF_BYTES + 1), IDAT, IEND))).toEqual(png(IHDR, IDAT, IEND));
  });

  it('keeps whatever follows IEND as it is, chunk-like or not', () => {
    const trailing = Buffer.concat([tEXt, Buffer.from('garbage')]);
    expect(stripPngMetadata(png(IHDR, zTXt, IDAT, IEND, trailing))).toEqual(png(IHDR, IDAT, IEND, trailing));
    const nothingBefore = png(IHDR, IDAT, IEND, trailing);
    expect(stripPngMetadata(nothingBefore)).toBe(nothingBefore);
  });

  it('keeps chunks with a bad CRC as they are: libpng judges them', () => {
    const badCrc = Buffer.from(gAMA);
    badCrc.writeUInt32BE(0, badCrc.length - 4);
    expect(stripPngMetadata(png(IHDR, badCrc, tEXt, IDAT, IEND))).toEqual(png(IHDR, badCrc, IDAT, IEND));
  });

  it('stops at the first record that makes no sense and keeps the rest as it is, after dropping what came before', () => {
    const rest = (record: Buffer): Buffer => Buffer.concat([record, zTXt, IDAT, IEND]);
    const tooLong = Buffer.from(gAMA);
    tooLong.writeUInt32BE(0x80000000, 0);
    const pastTheEnd = Buffer.from(gAMA);
    pastTheEnd.writeUInt32BE(1_000_000, 0);
    const badType = Buffer.from(gAMA);
    badType.write('gA1A', 4, 'latin1');
    for (const broken of [tooLong, pastTheEnd, badType]) {
      expect(stripPngMetadata(png(IHDR, tEXt, rest(broken)))).toEqual(png(IHDR, rest(broken)));
    }
    // Cut short inside a chunk to drop, and inside a record's header.
    const whole = png(IHDR, tEXt, pHYs, zTXt, IDAT, IEND);
    const inZtxt = whole.length - IEND.length - IDAT.length - 100;
    expect(stripPngMetadata(whole.subarray(0, inZtxt))).toEqual(Buffer.concat([SIGNATURE, IHDR, pHYs, whole.subarray(inZtxt - zTXt.length + 100, inZtxt)]));
    const inHeader = SIGNATURE.length + IHDR.length + tEXt.length + 5;
    expect(stripPngMetadata(whole.subarray(0, inHeader))).toEqual(Buffer.concat([SIGNATURE, IHDR, whole.subarray(inHeader - 5, inHeader)]));
  });

  it('never throws, never grows, and a second pass changes nothing, whatever follows the signature', () => {
    const records = fc.constantFrom(IHDR, IDAT, IEND, gAMA, eXIf, private_, ...DROPPED);
    const anyBytes = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
    const body = fc.array(fc.oneof(records, anyBytes), { maxLength: 12 });
    fc.assert(
      fc.property(body, fc.nat(), (parts, cut) => {
        const whole = png(...parts);
        const input = whole.subarray(0, SIGNATURE.length + (cut % (whole.length - SIGNATURE.length + 1)));
        const once = stripPngMetadata(input);
        expect(once.length).toBeLessThanOrEqual(input.length);
        expect(once.subarray(0, SIGNATURE.length)).toEqual(SIGNATURE);
        expect(stripPngMetadata(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  it('drops each of many tiny text chunks between kept ones', () => {
    const tiny = chunk('tEXt', Buffer.from('a\0', 'latin1'));
    const many = png(IHDR, Buffer.concat(Array.from({ length: 200_000 }, (_, i) => (i % 2 ? tIME : tiny))), IDAT, IEND);
    // Buffer.equals: toEqual compares 2 MB byte by byte, slowly.
    expect(stripPngMetadata(many).equals(png(IHDR, Buffer.concat(Array.from({ length: 100_000 }, () => tIME)), IDAT, IEND))).toBe(true);
  });

  it('sharp decodes the stripped file to the same pixels as the original', async () => {
    const input = png(IHDR, zTXt, iCCP, gAMA, tEXt, IDAT, iTXt, IEND);
    const raw = (bytes: Buffer): Promise<Buffer> => sharp(bytes, { ignoreIcc: true, failOn: 'error' }).raw().toBuffer();
    expect(await raw(stripPngMetadata(input))).toEqual(await raw(input));
  });
});
