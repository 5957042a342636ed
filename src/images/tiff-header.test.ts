import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import { readTiffLayouts, type TiffLayout } from './tiff-header.js';

/** [tag, field type, values]; types: 1 BYTE, 3 SHORT, 4 LONG, 8 SSHORT, 16 LONG8, 2 ASCII, 5 RATIONAL (8 bytes a value). */
type Entry = readonly [tag: number, type: number, values: readonly number[]];
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 8: 2, 9: 4, 16: 8, 17: 8 };

/**
 * A TIFF header with the given directories chained in order (no pixel data): classic or BigTIFF,
 * either byte order; values that do not fit in an entry go right after their directory.
 */
function tiff(ifds: readonly (readonly Entry[])[], { little = true, big = false } = {}): Uint8Array {
  const v = big ? { header: 16, count: 8, entry: 20, offset: 8 } : { header: 8, count: 2, entry: 12, offset: 4 };
  let end = v.header;
  const placed = ifds.map((entries) => {
    const at = end;
    end += v.count + entries.length * v.entry + v.offset;
    const overflow = entries.map(([, type, values]) => {
      const bytes = TYPE_SIZES[type]! * values.length;
      if (bytes <= v.offset) return undefined;
      const where = end;
      end += bytes;
      return where;
    });
    return { at, overflow };
  });
  const view = new DataView(new ArrayBuffer(end));
  const put = (at: number, size: number, value: number): void => {
    if (size === 1) view.setUint8(at, value & 0xff);
    else if (size === 2) view.setUint16(at, value & 0xffff, little);
    else if (size === 4) view.setUint32(at, value >>> 0, little);
    else view.setBigUint64(at, BigInt.asUintN(64, BigInt(value)), little);
  };
  put(0, 1, little ? 0x49 : 0x4d);
  put(1, 1, little ? 0x49 : 0x4d);
  put(2, 2, big ? 43 : 42);
  if (big) {
    put(4, 2, 8);
    put(8, 8, placed[0]?.at ?? 0);
  } else {
    put(4, 4, placed[0]?.at ?? 0);
  }
  placed.forEach(({ at, overflow }, i) => {
    const entries = ifds[i]!;
    put(at, v.count, entries.length);
    entries.forEach(([tag, type, values], j) => {
      const entry = at + v.count + j * v.entry;
      put(entry, 2, tag);
      put(entry + 2, 2, type);
      put(entry + 4, v.offset, values.length);
      const where = overflow[j] ?? entry + 4 + v.offset;
      if (overflow[j] !== undefined) put(entry + 4 + v.offset, v.offset, where);
      const size = TYPE_SIZES[type]!;
      values.forEach((value, k) => put(where + k * size, Math.min(size, 8), value));
    });
    put(at + v.count + entries.length * v.entry, v.offset, placed[i + 1]?.at ?? 0);
  });
  return new Uint8Array(view.buffer);
}

/** A 7000x7000 RGB JPEG-compressed (YCbCr) TIFF in one strip: width as SHORT, the rest as LONG. */
const ONE_STRIP: Entry[] = [
  [256, 3, [7000]],
  [257, 4, [7000]],
  [258, 3, [8, 8, 8]],
  [259, 3, [7]],
  [262, 3, [6]],
  [277, 3, [3]],
  [278, 4, [7000]],
];
const ONE_STRIP_LAYOUT: TiffLayout = {
  width: 7000,
  height: 7000,
  samplesPerPixel: 3,
  bitsPerSample: 8,
  compression: 7,
  photometric: 6,
  separatePlanes: false,
  block: { kind: 'strip', width: 7000, height: 7000 },
};
/** One page's layout: readTiffLayouts asked for that page alone. */
const layoutOf = (bytes: Uint8Array, page = 0): TiffLayout | undefined => readTiffLayouts(bytes, [page])[0];
const replacing = (entries: readonly Entry[], tag: number, entry: Entry | undefined): Entry[] =>
  entries.flatMap((e) => (e[0] !== tag ? [e] : entry ? [entry] : []));

describe('readTiffLayouts: strips and tiles, both byte orders, classic and BigTIFF', () => {
  it('reads a one-strip header little- and big-endian, values inline and at an offset', () => {
    expect(layoutOf(tiff([ONE_STRIP]))).toEqual(ONE_STRIP_LAYOUT);
    expect(layoutOf(tiff([ONE_STRIP], { little: false }))).toEqual(ONE_STRIP_LAYOUT);
  });

  it('BigTIFF, LONG8 values included, both byte orders', () => {
    const entries = replacing(replacing(ONE_STRIP, 257, [257, 16, [7000]]), 278, [278, 16, [7000]]);
    expect(layoutOf(tiff([entries], { big: true }))).toEqual(ONE_STRIP_LAYOUT);
    expect(layoutOf(tiff([entries], { big: true, little: false }))).toEqual(ONE_STRIP_LAYOUT);
  });

  it('rows per strip: clipped to the height; missing, 2^32 - 1 or 0 is one strip of the whole image', () => {
    const rows = (entry: Entry | undefined) => layoutOf(tiff([replacing(ONE_STRIP, 278, entry)]))?.block;
    expect(rows([278, 3, [256]])).toEqual({ kind: 'strip', width: 7000, height: 256 });
    expect(rows([278, 4, [2 ** 32 - 1]])).toEqual({ kind: 'strip', width: 7000, height: 7000 });
    expect(rows([278, 4, [0]])).toEqual({ kind: 'strip', width: 7000, height: 7000 });
    expect(rows(undefined)).toEqual({ kind: 'strip', width: 7000, height: 7000 });
  });

  it('tiles, separate planes, the largest bits per sample, defaults for what is left out', () => {
    const entries: Entry[] = [
      [256, 4, [5000]],
      [257, 4, [4000]],
      [258, 3, [16, 8, 8, 8]],
      [277, 3, [4]],
      [284, 3, [2]],
      [322, 3, [4096]],
      [323, 3, [2048]],
    ];
    expect(layoutOf(tiff([entries]))).toEqual({
      width: 5000,
      height: 4000,
      samplesPerPixel: 4,
      bitsPerSample: 16,
      compression: 1,
      photometric: undefined,
      separatePlanes: true,
      block: { kind: 'tile', width: 4096, height: 2048 },
    });
    const bare = layoutOf(tiff([[[256, 3, [10]], [257, 3, [20]]]]));
    expect(bare).toMatchObject({ samplesPerPixel: 1, bitsPerSample: 1, compression: 1, separatePlanes: false, block: { kind: 'strip', width: 10, height: 20 } });
  });

  it('page N: the N-th directory of the chain; past the last one, undefined', () => {
    const page = (rows: number): Entry[] => replacing(ONE_STRIP, 278, [278, 4, [rows]]);
    const file = tiff([page(16), page(7000), page(256)]);
    expect([0, 1, 2].map((n) => layoutOf(file, n)?.block.height)).toEqual([16, 7000, 256]);
    expect(layoutOf(file, 3)).toBeUndefined();
    expect(layoutOf(file, -1)).toBeUndefined();
    expect(layoutOf(file, 1.5)).toBeUndefined();
  });

  it('reads a view into a larger buffer from its own start', () => {
    const file = tiff([ONE_STRIP]);
    const padded = new Uint8Array(file.length + 13);
    padded.set(file, 7);
    expect(layoutOf(padded.subarray(7, 7 + file.length))).toEqual(ONE_STRIP_LAYOUT);
  });
});

describe('readTiffLayouts on the TIFFs sharp writes', () => {
  const image = (width: number, height: number, channels: 3 | 4 = 3) => sharp({ create: { width, height, channels, background: { r: 10, g: 200, b: 30, alpha: 1 } } });

  it('by default: 256-row strips of JPEG-compressed YCbCr', async () => {
    const layout = layoutOf(await image(600, 700).tiff().toBuffer());
    expect(layout).toEqual({ ...ONE_STRIP_LAYOUT, width: 600, height: 700, block: { kind: 'strip', width: 600, height: 256 } });
  });

  it('tileHeight sets the rows per strip of an untiled TIFF: one strip when it covers the height', async () => {
    const layout = layoutOf(await image(600, 700).tiff({ compression: 'deflate', tileHeight: 704 }).toBuffer());
    expect(layout).toMatchObject({ compression: 8, photometric: 2, block: { kind: 'strip', width: 600, height: 700 } });
  });

  it('tiled, 16-bit RGBA, BigTIFF', async () => {
    expect(layoutOf(await image(600, 700).tiff({ compression: 'lzw', tile: true, tileWidth: 512, tileHeight: 128 }).toBuffer())?.block).toEqual({
      kind: 'tile',
      width: 512,
      height: 128,
    });
    const rgba16 = await image(300, 200, 4).toColourspace('rgb16').tiff({ compression: 'deflate', bigtiff: true }).toBuffer();
    expect(rgba16.readUInt16LE(2)).toBe(43);
    expect(layoutOf(rgba16)).toMatchObject({ width: 300, height: 200, samplesPerPixel: 4, bitsPerSample: 16, block: { kind: 'strip', height: 200 } });
  });

  it('not a TIFF: undefined', async () => {
    expect(layoutOf(await image(8, 8).png().toBuffer())).toBeUndefined();
  });
});

describe('readTiffLayouts on malformed headers: undefined, never a throw, never a spin', () => {
  it('bad or short magic, directory offsets out of the bytes', () => {
    const good = tiff([ONE_STRIP]);
    expect(layoutOf(new Uint8Array())).toBeUndefined();
    expect(layoutOf(good.subarray(0, 7))).toBeUndefined();
    const patched = (at: number, value: number, size: 1 | 2 | 4 = 4): Uint8Array => {
      const copy = good.slice();
      const view = new DataView(copy.buffer);
      if (size === 1) view.setUint8(at, value);
      else if (size === 2) view.setUint16(at, value, true);
      else view.setUint32(at, value, true);
      return copy;
    };
    expect(layoutOf(patched(0, 0x4d, 1))).toBeUndefined(); // 'MI'
    expect(layoutOf(patched(2, 41, 2))).toBeUndefined();
    expect(layoutOf(patched(4, 0))).toBeUndefined();
    expect(layoutOf(patched(4, good.length))).toBeUndefined();
    expect(layoutOf(patched(4, 0xffffffff))).toBeUndefined();
    // An entry count running past the end of the bytes.
    expect(layoutOf(patched(8, 0xffff, 2))).toBeUndefined();
    // BigTIFF with another offset size.
    const big = tiff([ONE_STRIP], { big: true });
    big[4] = 4;
    expect(layoutOf(big)).toBeUndefined();
  });

  it('every truncation of a header: a layout only once the whole directory and its values are there', () => {
    const file = tiff([ONE_STRIP]);
    for (let length = 0; length <= file.length; length++) {
      const layout = layoutOf(file.subarray(0, length));
      expect(layout === undefined || length === file.length).toBe(true);
    }
    expect(layoutOf(file)).toEqual(ONE_STRIP_LAYOUT);
  });

  it('tags it cannot trust: unreadable types, out-of-bounds or negative values, one tile dimension, duplicates that disagree', () => {
    const without = (tag: number) => replacing(ONE_STRIP, tag, undefined);
    const cases: Entry[][] = [
      replacing(ONE_STRIP, 277, [277, 2, [3]]), // ASCII
      replacing(ONE_STRIP, 278, [278, 5, [7000]]), // RATIONAL
      replacing(ONE_STRIP, 278, [278, 16, [7000]]), // LONG8 outside BigTIFF
      replacing(ONE_STRIP, 277, [277, 8, [-3]]), // negative SSHORT
      replacing(ONE_STRIP, 258, [258, 3, []]), // no values
      without(256),
      replacing(ONE_STRIP, 257, [257, 4, [0]]),
      [...ONE_STRIP, [322, 3, [512]]], // TileWidth without TileLength
      [...ONE_STRIP, [278, 4, [16]]], // a second RowsPerStrip that disagrees
    ];
    for (const entries of cases) expect(layoutOf(tiff([entries]))).toBeUndefined();
    // The same tag twice with the same value, and signed or byte-sized types with sane values, are fine.
    expect(layoutOf(tiff([[...ONE_STRIP, [278, 4, [7000]]]]))).toEqual(ONE_STRIP_LAYOUT);
    expect(layoutOf(tiff([replacing(replacing(ONE_STRIP, 277, [277, 1, [3]]), 278, [278, 9, [7000]])]))).toEqual(ONE_STRIP_LAYOUT);
  });

  it('a value offset past the end of the bytes', () => {
    const file = tiff([ONE_STRIP]);
    const view = new DataView(file.buffer);
    // BitsPerSample is the third entry; its three SHORTs live at an offset.
    view.setUint32(8 + 2 + 2 * 12 + 8, file.length - 2, true);
    expect(layoutOf(file)).toBeUndefined();
    view.setUint32(8 + 2 + 2 * 12 + 8, 0xfffffff0, true);
    expect(layoutOf(file)).toBeUndefined();
  });

  it('a directory chain that loops: page N is reached in N hops, at most 2^20', () => {
    const file = tiff([ONE_STRIP, ONE_STRIP]);
    const view = new DataView(file.buffer);
    // The second directory's next pointer sends the chain back to the first.
    const second = 8 + 2 + ONE_STRIP.length * 12 + 4 + 6;
    view.setUint32(second + 2 + ONE_STRIP.length * 12, 8, true);
    expect(layoutOf(file, 1)).toEqual(ONE_STRIP_LAYOUT);
    const started = performance.now();
    expect(layoutOf(file, 2 ** 20)).toEqual(ONE_STRIP_LAYOUT);
    expect(layoutOf(file, 2 ** 20 + 1)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('random damage to a header never throws, and any layout it gives is made of positive integers', () => {
    const files = [tiff([ONE_STRIP, ONE_STRIP]), tiff([ONE_STRIP], { little: false }), tiff([ONE_STRIP], { big: true })];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: files.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat({ max: 200 }),
        fc.integer({ min: 0, max: 3 }),
        (which, damage, cut, page) => {
          const file = files[which]!.slice();
          for (const [at, value] of damage) file[at % file.length] = value;
          const layout = layoutOf(file.subarray(0, file.length - (cut % file.length)), page);
          if (layout === undefined) return;
          for (const value of [layout.width, layout.height, layout.samplesPerPixel, layout.bitsPerSample, layout.block.width, layout.block.height]) {
            expect(Number.isSafeInteger(value) && value > 0).toBe(true);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('readTiffLayouts for several pages: one walk of the directory chain', () => {
  const page = (rows: number): Entry[] => replacing(ONE_STRIP, 278, [278, 4, [rows]]);

  it('gives, in the order asked, what asking for each page alone gives: repeats, unknown and invalid pages included', () => {
    const file = tiff([page(16), page(7000), page(256), replacing(ONE_STRIP, 256, undefined)]);
    const pages = [2, 0, 1, 3, 1, 4, -1, 1.5, 2 ** 20 + 1, 0];
    const layouts = readTiffLayouts(file, pages);
    expect(layouts).toEqual(pages.map((n) => layoutOf(file, n)));
    expect(layouts.map((layout) => layout?.block.height)).toEqual([256, 16, 7000, undefined, 7000, undefined, undefined, undefined, undefined, 16]);
    expect(readTiffLayouts(file, [])).toEqual([]);
    expect(readTiffLayouts(new Uint8Array(), [0, 1])).toEqual([undefined, undefined]);
  });

  it('on the multi-page TIFFs sharp writes, and on damaged headers, the same as page by page', async () => {
    const pages = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } })
      .tiff({ compression: 'deflate', pyramid: true, tile: true, tileWidth: 16, tileHeight: 16 })
      .toBuffer();
    const sharpFile = new Uint8Array(pages);
    expect(readTiffLayouts(sharpFile, [0, 1, 2])).toEqual([0, 1, 2].map((n) => layoutOf(sharpFile, n)));

    const files = [tiff([page(16), page(7000), page(256)]), tiff([page(16), page(7000)], { little: false, big: true })];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: files.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat({ max: 300 }),
        fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 6 }),
        (which, damage, cut, wanted) => {
          const file = files[which]!.slice();
          for (const [at, value] of damage) file[at % file.length] = value;
          const bytes = file.subarray(0, file.length - (cut % file.length));
          expect(readTiffLayouts(bytes, wanted)).toEqual(wanted.map((n) => layoutOf(bytes, n)));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('100,000 tiny directories: several pages cost the reads of one walk to the furthest, not one walk each', () => {
    const count = 100_000;
    const wanted = [0, 25_000, 50_000, 75_000, count - 1];
    const ifds: Entry[][] = Array.from({ length: count }, () => []);
    for (const n of wanted) ifds[n] = replacing(ONE_STRIP, 256, [256, 4, [n + 1]]);
    const file = tiff(ifds);
    // Every read goes through a DataView getter: count the calls, whatever the getter.
    const getters = ['getUint8', 'getInt8', 'getUint16', 'getInt16', 'getUint32', 'getInt32', 'getBigUint64', 'getBigInt64'] as const;
    const reads = (pages: readonly number[]): { layouts: (TiffLayout | undefined)[]; reads: number } => {
      const spies = getters.map((name) => vi.spyOn(DataView.prototype, name));
      try {
        const layouts = readTiffLayouts(file, pages);
        return { layouts, reads: spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0) };
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    };
    // A hop is two reads (the entry count, the next offset); reading one directory's tags is a few dozen.
    const oneDirectory = reads([0]).reads;
    expect(oneDirectory).toBeLessThan(100);
    const furthest = reads([count - 1]);
    expect(furthest.layouts[0]?.width).toBe(count);
    expect(furthest.reads).toBe(2 * (count - 1) + oneDirectory);

    const all = reads(wanted);
    expect(all.layouts.map((layout) => layout?.width)).toEqual(wanted.map((n) => n + 1));
    // The furthest walk, plus the other directories' own reads: linear in the chain, not pages x chain.
    expect(all.reads).toBe(furthest.reads + (wanted.length - 1) * (oneDirectory - 2));
    const walkedPerPage = wanted.reduce((sum, n) => sum + 2 * n, 0);
    expect(all.reads).toBeLessThan(walkedPerPage / 2);
  });
});
