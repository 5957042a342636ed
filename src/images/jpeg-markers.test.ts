import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { countJpegScans, isJpeg, MAX_JPEG_SCANS } from './jpeg-markers.js';

/** A marker segment: FF, code, 2-byte length (counting itself), body. */
const segment = (code: number, body: Uint8Array = Buffer.alloc(0)): Buffer =>
  Buffer.concat([Buffer.from([0xff, code, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
const SOI = Buffer.from([0xff, 0xd8]);
const EOI = Buffer.from([0xff, 0xd9]);
const APP0 = segment(0xe0, Buffer.from('JFIF\0\x01\x02\0\0\x01\0\x01\0\0', 'latin1'));
const SOF2 = segment(0xc2, Buffer.from([8, 0, 16, 0, 16, 1, 1, 0x11, 0]));
const SOS_HEADER = segment(0xda, Buffer.from([1, 1, 0, 1, 63, 0]));
/** Entropy-coded data with what a scan's data holds: stuffed FFs (FF 00), restarts, fill before a marker. */
const DATA = Buffer.from([0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0x00, 0xff, 0xd1, 0x78, 0xff, 0xff]);
const scan = Buffer.concat([SOS_HEADER, DATA]);
const jpeg = (...parts: Buffer[]): Buffer => Buffer.concat([SOI, ...parts]);

const image = sharp({ create: { width: 96, height: 64, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } });

describe('countJpegScans', () => {
  it('counts the scans encoders write: 1 baseline, 10 for libjpeg\'s progression, fewer for mozjpeg\'s, 18 for a progressive CMYK JPEG', async () => {
    expect(countJpegScans(await image.clone().jpeg().toBuffer())).toBe(1);
    expect(countJpegScans(await image.clone().jpeg({ progressive: true }).toBuffer())).toBe(10);
    const mozjpeg = countJpegScans(await image.clone().jpeg({ mozjpeg: true }).toBuffer());
    expect(mozjpeg).toBeGreaterThan(1);
    expect(mozjpeg).toBeLessThanOrEqual(10);
    expect(countJpegScans(await image.clone().toColourspace('cmyk').jpeg({ progressive: true }).toBuffer())).toBe(18);
  });

  it('counts every SOS up to EOI through stuffed bytes, restarts and fill, and none after EOI', () => {
    const scans = Array.from({ length: 250 }, () => scan);
    expect(countJpegScans(jpeg(APP0, SOF2, ...scans, EOI))).toBe(250);
    expect(countJpegScans(jpeg(APP0, SOF2, scan, scan, EOI, scan, scan))).toBe(2);
    // Without EOI, up to the end, as libjpeg reads it.
    expect(countJpegScans(jpeg(SOF2, scan, scan, scan))).toBe(3);
    // Fill bytes before a marker.
    expect(countJpegScans(jpeg(SOF2, Buffer.from([0xff, 0xff, 0xff]), scan, EOI))).toBe(1);
  });

  it('skips by its length a segment libjpeg skips by its length: an SOS inside an APP or COM body is not a scan', () => {
    const hidden = Buffer.concat(Array.from({ length: 20 }, () => scan));
    expect(countJpegScans(jpeg(segment(0xe1, hidden), segment(0xfe, hidden), SOF2, scan, EOI))).toBe(1);
  });

  it('searches past a marker libjpeg ignores or fails at, never skipping a byte it may read as an SOS', () => {
    // A restart, TEM or reserved marker has no length libjpeg reads: what follows is searched.
    for (const code of [0xd0, 0x01, 0xf0, 0xc3, 0xd8]) {
      expect(countJpegScans(jpeg(SOF2, Buffer.from([0xff, code, 0x00, 0x40]), scan, scan, EOI)), `FF ${code.toString(16)}`).toBe(2);
    }
    // A length under 2 skips nothing.
    expect(countJpegScans(jpeg(SOF2, Buffer.from([0xff, 0xfe, 0x00, 0x01]), scan, EOI))).toBe(1);
  });

  it('stops counting past stopAfter', () => {
    const many = jpeg(SOF2, ...Array.from({ length: 3 * MAX_JPEG_SCANS }, () => scan), EOI);
    expect(countJpegScans(many)).toBe(3 * MAX_JPEG_SCANS);
    expect(countJpegScans(many, MAX_JPEG_SCANS)).toBe(MAX_JPEG_SCANS + 1);
    expect(countJpegScans(jpeg(SOF2, scan, EOI), MAX_JPEG_SCANS)).toBe(1);
  });

  it('malformed input: a segment running past the end, a cut-off marker, no marker at all: the scans before it, never a throw', async () => {
    expect(countJpegScans(jpeg(SOF2, scan, Buffer.from([0xff, 0xe1, 0xff, 0xff, 1, 2, 3]), scan))).toBe(1);
    expect(countJpegScans(jpeg(SOF2, scan, Buffer.from([0xff, 0xda, 0x00])))).toBe(2);
    expect(countJpegScans(jpeg(SOF2, scan, Buffer.from([0xff])))).toBe(1);
    expect(countJpegScans(Buffer.from([0xff, 0xd8, 0xff]))).toBe(0);
    expect(countJpegScans(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(1000, 0x5a)]))).toBe(0);
    // Every cut of a real progressive JPEG: no throw, and no more scans than the whole file.
    const whole = await image.clone().jpeg({ progressive: true }).toBuffer();
    for (let end = 3; end <= whole.length; end += 7) expect(countJpegScans(whole.subarray(0, end))).toBeLessThanOrEqual(10);
  });

  it('never throws on arbitrary bytes after a JPEG signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(), (tail, limit) => {
        const count = countJpegScans(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), tail]), limit);
        expect(count).toBeGreaterThanOrEqual(0);
        expect(count).toBeLessThanOrEqual(limit + 1);
      }),
    );
  });

  it('not a JPEG: undefined, as libvips would not take it for one', async () => {
    expect(countJpegScans(Buffer.alloc(0))).toBeUndefined();
    expect(countJpegScans(Buffer.from([0xff, 0xd8]))).toBeUndefined();
    expect(countJpegScans(Buffer.from([0xff, 0xd8, 0x00, 0xff, 0xda]))).toBeUndefined();
    expect(countJpegScans(await image.clone().png().toBuffer())).toBeUndefined();
    expect(isJpeg(await image.clone().webp().toBuffer())).toBe(false);
    expect(isJpeg(await image.clone().jpeg().toBuffer())).toBe(true);
  });

  it('reads a view at an offset within a larger buffer', () => {
    const bytes = jpeg(SOF2, scan, scan, EOI);
    const padded = Buffer.concat([Buffer.alloc(13, 0xff), bytes, Buffer.from([0xff, 0xda])]);
    expect(countJpegScans(new Uint8Array(padded.buffer, padded.byteOffset + 13, bytes.length))).toBe(2);
  });
});
