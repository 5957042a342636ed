import { describe, expect, it } from 'vitest';
import { isIsobmff, MAX_TOP_LEVEL_BOXES, readTopLevelBoxes } from './isobmff-boxes.js';

function box(type: string, body: Buffer | number = 0): Buffer {
  const content = typeof body === 'number' ? Buffer.alloc(body) : body;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(content.length + 8);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, content]);
}

const ftyp = box('ftyp', Buffer.from('mif1\0\0\0\0avifavismiaf', 'latin1'));
const types = (bytes: Buffer) => readTopLevelBoxes(bytes)?.boxes.map((found) => found.type);

describe('readTopLevelBoxes', () => {
  it('lists the top-level boxes in order, with their offsets and sizes; not ISOBMFF: undefined', () => {
    const file = Buffer.concat([ftyp, box('meta', 20), box('mdat', 5), box('moov', 12)]);
    expect(readTopLevelBoxes(file)).toEqual({
      boxes: [
        { type: 'ftyp', offset: 0, size: ftyp.length },
        { type: 'meta', offset: ftyp.length, size: 28 },
        { type: 'mdat', offset: ftyp.length + 28, size: 13 },
        { type: 'moov', offset: ftyp.length + 41, size: 20 },
      ],
    });
    expect(isIsobmff(file)).toBe(true);
    expect(readTopLevelBoxes(Buffer.from('\xff\xd8\xff\xe0 not a HEIF at all', 'latin1'))).toBeUndefined();
    expect(readTopLevelBoxes(Buffer.concat([box('meta', 4), ftyp]))).toBeUndefined();
  });

  it('a 64-bit size (size field 1) is read from the 8 bytes after the type', () => {
    const large = Buffer.alloc(16 + 100);
    large.writeUInt32BE(1);
    large.write('mdat', 4, 'latin1');
    large.writeUInt32BE(0, 8);
    large.writeUInt32BE(116, 12);
    expect(types(Buffer.concat([ftyp, large, box('moov', 4)]))).toEqual(['ftyp', 'mdat', 'moov']);
    // A 64-bit size beyond any file: the box runs past the end, the walk stops there.
    large.writeUInt32BE(0x7fffffff, 8);
    expect(readTopLevelBoxes(Buffer.concat([ftyp, large, box('moov', 4)]))).toMatchObject({ boxes: [{ type: 'ftyp' }, { type: 'mdat' }], cutShort: true });
    // A 64-bit size smaller than its 16-byte header: invalid.
    large.writeUInt32BE(0, 8);
    large.writeUInt32BE(12, 12);
    expect(readTopLevelBoxes(Buffer.concat([ftyp, large]))).toEqual({ boxes: [{ type: 'ftyp', offset: 0, size: ftyp.length }], invalidAt: ftyp.length });
  });

  it('size 0 runs to the end of the file', () => {
    const last = box('moov', 30);
    last.writeUInt32BE(0);
    const file = Buffer.concat([ftyp, box('meta', 4), last]);
    expect(readTopLevelBoxes(file)?.boxes.at(-1)).toEqual({ type: 'moov', offset: ftyp.length + 12, size: 38 });
  });

  it('stops at a size below the header, at a box running past the end (listed), and after the most boxes it walks', () => {
    const bad = box('free', 4);
    bad.writeUInt32BE(4);
    expect(readTopLevelBoxes(Buffer.concat([ftyp, bad, box('moov')]))).toMatchObject({ boxes: [{ type: 'ftyp' }], invalidAt: ftyp.length });
    const cut = box('moov', 100).subarray(0, 40);
    expect(readTopLevelBoxes(Buffer.concat([ftyp, cut]))).toMatchObject({ boxes: [{ type: 'ftyp' }, { type: 'moov', size: 108 }], cutShort: true });
    const many = Buffer.concat([ftyp, ...Array.from({ length: MAX_TOP_LEVEL_BOXES }, () => box('free')), box('moov')]);
    const walked = readTopLevelBoxes(many)!;
    expect(walked.tooMany).toBe(true);
    expect(walked.boxes).toHaveLength(MAX_TOP_LEVEL_BOXES);
    // Up to the limit, the walk ends at the end of the bytes; a few bytes short of a header are no box.
    expect(readTopLevelBoxes(Buffer.concat([ftyp, box('meta'), Buffer.alloc(5)]))).toEqual({ boxes: [{ type: 'ftyp', offset: 0, size: ftyp.length }, { type: 'meta', offset: ftyp.length, size: 8 }] });
  });
});
