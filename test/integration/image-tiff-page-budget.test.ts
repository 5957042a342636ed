/**
 * A TIFF's pages are held to the animation pixel budget before any is decoded, each page sized as
 * libvips reads it. A page whose directory repeats ImageWidth with another value is one the header
 * reader leaves unread (libtiff keeps the first value): it was priced as page 0 (64x64), so 31
 * pages of 7000x7000 behind it were decoded, to the 10 s deadline, instead of being refused. The
 * files are headers with one strip of data (nothing is decoded when the budget refuses them).
 */
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/images/decode.js';
/** [tag, type (3 SHORT, 4 LONG), values]; -1 stands for the offset of the file's one strip of data. */
type Entry = readonly [number, number, readonly number[]];
/** A little-endian classic TIFF of these directories, chained in order, then `dataBytes` of zeros. */
function tiffFile(ifds: readonly (readonly Entry[])[], dataBytes: number): Uint8Array {
  const sizes: Record<number, number> = { 3: 2, 4: 4 };
  let end = 8;
  // Each directory, then the values of its entries that do not fit in the entry.
  const placed = ifds.map((entries) => {
    const at = end;
    end += 2 + entries.length * 12 + 4;
    const overflow = entries.map(([, type, values]) => {
      const bytes = sizes[type]! * values.length;
      if (bytes <= 4) return undefined;
      const where = end;
      end += bytes;
      return where;
    });
    return { at, overflow };
  });
  const data = end;
  end += dataBytes;
  const view = new DataView(new ArrayBuffer(end));
  view.setUint16(0, 0x4949); // II: little-endian
  view.setUint16(2, 42, true);
  view.setUint32(4, placed[0]!.at, true);
  placed.forEach(({ at, overflow }, i) => {
    const entries = ifds[i]!;
    view.setUint16(at, entries.length, true);
    entries.forEach(([tag, type, values], j) => {
      const entry = at + 2 + j * 12;
      view.setUint16(entry, tag, true);
      view.setUint16(entry + 2, type, true);
      view.setUint32(entry + 4, values.length, true);
      const where = overflow[j] ?? entry + 8;
      if (overflow[j] !== undefined) view.setUint32(entry + 8, where, true);
      values.forEach((value, k) => {
        const resolved = value === -1 ? data : value;
        if (sizes[type] === 2) view.setUint16(where + k * 2, resolved, true);
        else view.setUint32(where + k * 4, resolved, true);
      });
    });
    view.setUint32(at + 2 + entries.length * 12, placed[i + 1]?.at ?? 0, true);
  });
  return new Uint8Array(view.buffer);
}
/** An 8-bit grey page in one strip; `duplicateWidth`, a second ImageWidth entry right after the first. */
const page = (width: number, height: number, duplicateWidth?: number): Entry[] => [
  [256, 4, [width]],
  ...(duplicateWidth === undefined ? [] : [[256, 4, [duplicateWidth]] as const]),
  [257, 4, [height]],
  [258, 3, [8]],
  [259, 3, [1]],
  [262, 3, [1]],
  [273, 4, [-1]],
  [277, 3, [1]],
  [278, 4, [height]],
  [279, 4, [64 * 64]],
];
describe('a multi-page TIFF over the pixel budget', () => {
  it('is refused before any decode, a page with a disagreeing duplicate ImageWidth sized as libvips reads it', async () => {
    const file = Buffer.from(tiffFile([page(64, 64), ...Array.from({ length: 5 }, () => page(7000, 7000, 64))], 64 * 64));
    await expect(decodeImage(file)).rejects.toMatchObject({ code: 'image_too_complex', detail: { format: 'tiff', pages: 6, pixels: 64 * 64 + 5 * 7000 * 7000 } });
  });
});
