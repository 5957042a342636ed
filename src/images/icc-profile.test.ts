import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { unboundedIccTag } from './icc-profile.js';

/** An ICC profile of the given tags (signature, data starting with its 4-letter type), laid out as the spec does. */
function profile(tags: [string, Buffer][]): Buffer {
  const table = 132 + 12 * tags.length;
  const header = Buffer.alloc(table);
  header.write('CMYKLab ', 16, 'latin1');
  header.write('acsp', 36, 'latin1');
  header.writeUInt32BE(tags.length, 128);
  let offset = table;
  tags.forEach(([signature, data], i) => {
    header.write(signature, 132 + 12 * i, 'latin1');
    header.writeUInt32BE(offset, 136 + 12 * i);
    header.writeUInt32BE(data.length, 140 + 12 * i);
    offset += data.length;
  });
  const bytes = Buffer.concat([header, ...tags.map(([, data]) => data)]);
  bytes.writeUInt32BE(bytes.length, 0);
  return bytes;
}
const typed = (type: string, bytes = 32): Buffer => Buffer.concat([Buffer.from(type, 'latin1'), Buffer.alloc(bytes - 4)]);

describe('unboundedIccTag', () => {
  it('none in a lut-based CMYK profile: libvips\'s own, which sharp embeds in a CMYK JPEG', async () => {
    const cmyk = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c86432' } }).toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer();
    const { icc, space } = await sharp(cmyk).metadata();
    expect(space).toBe('cmyk');
    expect(icc!.length).toBeGreaterThan(100_000);
    expect(unboundedIccTag(icc!)).toBeUndefined();
    expect(unboundedIccTag(profile([['desc', typed('desc')], ['A2B0', typed('mft2')], ['A2B1', typed('mAB ')], ['B2A0', typed('mft1')], ['wtpt', typed('XYZ ')]]))).toBeUndefined();
  });

  it('a D2Bx or B2Dx tag, or any tag of type multiProcessElements, whatever its signature', () => {
    expect(unboundedIccTag(profile([['desc', typed('desc')], ['A2B0', typed('mft2')], ['D2B0', typed('mpet')]]))).toBe('D2B0');
    expect(unboundedIccTag(profile([['A2B0', typed('mft2')], ['B2D3', typed('mft2')]]))).toBe('B2D3');
    expect(unboundedIccTag(profile([['A2B0', typed('mpet')]]))).toBe('A2B0');
    expect(unboundedIccTag(profile([['wtpt', typed('XYZ ')], ['priv', typed('mpet')]]))).toBe('priv');
  });

  it('malformed: too short for a table, a count past the end, offsets past the end: only what the bytes hold is read, never a throw', () => {
    expect(unboundedIccTag(Buffer.alloc(0))).toBeUndefined();
    expect(unboundedIccTag(Buffer.alloc(131))).toBeUndefined();
    const hostile = profile([['A2B0', typed('mft2')], ['D2B0', typed('mpet')]]);
    hostile.writeUInt32BE(0xffffffff, 128);
    expect(unboundedIccTag(hostile)).toBe('D2B0');
    // The D2B0 entry cut off: not there to read.
    expect(unboundedIccTag(hostile.subarray(0, 132 + 12 + 6))).toBeUndefined();
    const pastEnd = profile([['priv', typed('mpet')]]);
    pastEnd.writeUInt32BE(0xfffffff0, 136);
    expect(unboundedIccTag(pastEnd)).toBeUndefined();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => void unboundedIccTag(bytes)));
  });
});
