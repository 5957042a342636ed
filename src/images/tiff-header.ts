/**
 * The few TIFF tags that decide how much a TIFF decode holds at once, read from the bytes: sharp's
 * metadata() does not say how the pixels are cut into strips or tiles, or whether the planes are
 * separate (see decode-memory.ts for what libvips then holds).
 *
 * Pure and bounded: classic TIFF and BigTIFF, both byte orders; every read is bounds-checked, the
 * next-IFD chain is followed once per call, page N being reached after exactly N links and no link
 * followed past the furthest page asked for (so a looping chain cannot spin, and asking for many
 * pages costs one walk, not one per page), at most MAX_VALUES values are read per tag, and anything
 * malformed gives undefined, never an exception.
 * A tag that is present but unreadable, or present twice with different values, also gives
 * undefined: libtiff may read it otherwise, so the caller must assume the worst.
 */

/** How one page (IFD) stores its pixels, with libtiff's defaults for the tags it leaves out. */
export interface TiffLayout {
  width: number;
  height: number;
  samplesPerPixel: number;
  /** The largest of the per-sample values. */
  bitsPerSample: number;
  /** 1 none, 5 LZW, 7 JPEG, 8 deflate, 32773 PackBits, ... */
  compression: number;
  /** 0/1 grey, 2 RGB, 3 palette, 5 CMYK, 6 YCbCr, ...; undefined when the tag is missing. */
  photometric: number | undefined;
  /** Planes stored one after the other (PlanarConfiguration 2), not interleaved. */
  separatePlanes: boolean;
  /** The unit libtiff decodes at once, in pixels; a strip is at most the image height. */
  block: { kind: 'strip' | 'tile'; width: number; height: number };
}

const TAG = {
  imageWidth: 256,
  imageLength: 257,
  bitsPerSample: 258,
  compression: 259,
  photometric: 262,
  samplesPerPixel: 277,
  rowsPerStrip: 278,
  planarConfiguration: 284,
  tileWidth: 322,
  tileLength: 323,
} as const;
const WANTED: ReadonlySet<number> = new Set(Object.values(TAG));

/** Integer field types libtiff accepts for these tags: size in bytes, and whether signed. */
const INTEGER_TYPES: Record<number, { size: 1 | 2 | 4 | 8; signed: boolean }> = {
  1: { size: 1, signed: false }, // BYTE
  3: { size: 2, signed: false }, // SHORT
  4: { size: 4, signed: false }, // LONG
  6: { size: 1, signed: true }, // SBYTE
  8: { size: 2, signed: true }, // SSHORT
  9: { size: 4, signed: true }, // SLONG
  16: { size: 8, signed: false }, // LONG8 (BigTIFF)
  17: { size: 8, signed: true }, // SLONG8 (BigTIFF)
};
/** BitsPerSample has one value per sample; reading more than this many tells nothing more. */
const MAX_VALUES = 64;
/** libtiff's own cap on the number of directories; no page beyond it is looked for. */
const MAX_PAGE = 1 << 20;
/** Entries in one directory: a classic TIFF cannot have more, and libtiff refuses BigTIFF ones far smaller. */
const MAX_ENTRIES = 0xffff;

/** Sizes of the two variants: classic (32-bit offsets) and BigTIFF (64-bit). */
interface Variant {
  countSize: 2 | 8;
  entrySize: 12 | 20;
  offsetSize: 4 | 8;
}
const CLASSIC: Variant = { countSize: 2, entrySize: 12, offsetSize: 4 };
const BIG: Variant = { countSize: 8, entrySize: 20, offsetSize: 8 };

class Reader {
  private readonly view: DataView;

  constructor(
    bytes: Uint8Array,
    private readonly little: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The integer of `size` bytes at `at`, or undefined out of bounds (or beyond 2^53 in magnitude). */
  int(at: number, size: number, signed = false): number | undefined {
    if (!Number.isSafeInteger(at) || at < 0 || at + size > this.view.byteLength) return undefined;
    const { view, little } = this;
    switch (size) {
      case 1:
        return signed ? view.getInt8(at) : view.getUint8(at);
      case 2:
        return signed ? view.getInt16(at, little) : view.getUint16(at, little);
      case 4:
        return signed ? view.getInt32(at, little) : view.getUint32(at, little);
      case 8: {
        const value = signed ? view.getBigInt64(at, little) : view.getBigUint64(at, little);
        const max = BigInt(Number.MAX_SAFE_INTEGER);
        return value <= max && value >= -max ? Number(value) : undefined;
      }
      default:
        return undefined;
    }
  }
}

/**
 * The layouts of the given pages (0 = the first IFD), in the same order, each undefined when the
 * bytes do not say (or the page is not an integer from 0 to MAX_PAGE). The directory chain is
 * walked once, up to the furthest page asked for; a page asked for twice shares its layout.
 */
export function readTiffLayouts(bytes: Uint8Array, pages: readonly number[]): (TiffLayout | undefined)[] {
  const layouts: (TiffLayout | undefined)[] = pages.map(() => undefined);
  /** Page number -> its positions in `pages`. */
  const wanted = new Map<number, number[]>();
  let last = -1;
  pages.forEach((page, i) => {
    if (!Number.isInteger(page) || page < 0 || page > MAX_PAGE) return;
    const at = wanted.get(page);
    if (at) at.push(i);
    else wanted.set(page, [i]);
    last = Math.max(last, page);
  });
  if (last < 0) return layouts;
  const start = openTiff(bytes);
  if (start === undefined) return layouts;
  const { reader, variant } = start;
  let ifd = start.ifd;

  for (let page = 0; ifd; page++) {
    const at = wanted.get(page);
    if (at) {
      const layout = readIfd(reader, variant, ifd);
      for (const i of at) layouts[i] = layout;
    }
    if (page === last) break;
    const count = reader.int(ifd, variant.countSize);
    if (count === undefined) break;
    ifd = reader.int(ifd + variant.countSize + count * variant.entrySize, variant.offsetSize);
  }
  return layouts;
}

/** The byte order, the variant and the first directory's offset from the header, or undefined if not a TIFF. */
function openTiff(bytes: Uint8Array): { reader: Reader; variant: Variant; ifd: number | undefined } | undefined {
  if (bytes.length < 8) return undefined;
  let little: boolean;
  if (bytes[0] === 0x49 && bytes[1] === 0x49) little = true;
  else if (bytes[0] === 0x4d && bytes[1] === 0x4d) little = false;
  else return undefined;
  const reader = new Reader(bytes, little);
  const magic = reader.int(2, 2);
  if (magic === 42) return { reader, variant: CLASSIC, ifd: reader.int(4, 4) };
  if (magic === 43 && reader.int(4, 2) === 8 && reader.int(6, 2) === 0) return { reader, variant: BIG, ifd: reader.int(8, 8) };
  return undefined;
}

function readIfd(reader: Reader, variant: Variant, ifd: number): TiffLayout | undefined {
  const count = reader.int(ifd, variant.countSize);
  if (!count || count > MAX_ENTRIES) return undefined;
  const entries = ifd + variant.countSize;
  // The whole directory must be in the bytes, as libtiff requires.
  if (reader.int(entries + count * variant.entrySize - 1, 1) === undefined) return undefined;

  const values = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const entry = entries + i * variant.entrySize;
    const tag = reader.int(entry, 2)!;
    if (!WANTED.has(tag)) continue;
    const read = readValues(reader, variant, entry);
    if (read === undefined) return undefined;
    const earlier = values.get(tag);
    if (earlier !== undefined && (earlier.length !== read.length || earlier.some((value, j) => value !== read[j]))) return undefined;
    values.set(tag, read);
  }

  const first = (tag: number): number | undefined => values.get(tag)?.[0];
  const width = first(TAG.imageWidth);
  const height = first(TAG.imageLength);
  if (!width || !height) return undefined;
  const samplesPerPixel = first(TAG.samplesPerPixel) || 1;
  const bitsPerSample = Math.max(1, ...(values.get(TAG.bitsPerSample) ?? [1]));
  const compression = first(TAG.compression) ?? 1;
  // libvips takes the separate-planes path even for one sample.
  const separatePlanes = first(TAG.planarConfiguration) === 2;

  const tileWidth = first(TAG.tileWidth);
  const tileLength = first(TAG.tileLength);
  let block: TiffLayout['block'];
  if (tileWidth !== undefined || tileLength !== undefined) {
    // A tiled image needs both; with one of them the layout is unknown.
    if (!tileWidth || !tileLength) return undefined;
    block = { kind: 'tile', width: tileWidth, height: tileLength };
  } else {
    // No RowsPerStrip (or 2^32 - 1, or a nonsensical 0) is one strip for the whole image.
    const rows = first(TAG.rowsPerStrip);
    block = { kind: 'strip', width, height: rows ? Math.min(rows, height) : height };
  }
  return { width, height, samplesPerPixel, bitsPerSample, compression, photometric: first(TAG.photometric), separatePlanes, block };
}

/** The entry's values (the first MAX_VALUES), inline or at their offset; undefined if unreadable or negative. */
function readValues(reader: Reader, variant: Variant, entry: number): number[] | undefined {
  const type = INTEGER_TYPES[reader.int(entry + 2, 2)!];
  const count = reader.int(entry + 4, variant.offsetSize);
  if (type === undefined || !count) return undefined;
  if (type.size === 8 && variant !== BIG) return undefined;
  const field = entry + 4 + variant.offsetSize;
  const at = type.size * count <= variant.offsetSize ? field : reader.int(field, variant.offsetSize);
  if (at === undefined) return undefined;
  const values: number[] = [];
  for (let i = 0; i < Math.min(count, MAX_VALUES); i++) {
    const value = reader.int(at + i * type.size, type.size, type.signed);
    if (value === undefined || value < 0) return undefined;
    values.push(value);
  }
  return values;
}
