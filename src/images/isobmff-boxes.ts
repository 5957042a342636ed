/**
 * The top-level boxes of an ISOBMFF file (HEIF, AVIF), read from their headers before any decoder
 * sees the file. An AVIF may hold, besides its still items (the `meta` box, what libheif and so
 * libvips decode), an image sequence: a track in a `moov` box. Which one a viewer shows is the
 * decoder's choice: libavif (Chrome's AVIF decoder) shows the sequence whenever the file has one
 * and its major brand is not 'avif' (e.g. 'mif1' or 'msf1' with 'avis' among the compatible
 * brands), while libheif decodes the still primary item alone. A benign still item in front of a
 * sequence holding something else would be hashed on the still alone: decode.ts refuses a file
 * with a top-level `moov` box before any sharp call (as libvips already refuses a file whose major
 * brand is 'avis').
 *
 * Pure and bounded: one pass over at most MAX_TOP_LEVEL_BOXES box headers, never throws. A box's
 * size is its 32-bit size field, or its 64-bit one when that is 1, or the rest of the file when it
 * is 0 (ISO/IEC 14496-12 4.2). The walk stops at a size smaller than the box's own header (no
 * decoder reads past one: libavif and libheif fail there), at a box running past the end of the
 * bytes (the box is still listed: its type was read), or after MAX_TOP_LEVEL_BOXES boxes.
 */

/** Most top-level boxes walked: a HEIF or AVIF has 3 to 6 (ftyp, meta, mdat, perhaps free, moov, idat). */
export const MAX_TOP_LEVEL_BOXES = 64;

export interface TopLevelBox {
  /** The four-character type, as latin1 ('ftyp', 'meta', 'moov', ...). */
  type: string;
  /** Where the box starts (its size field), from the start of the bytes. */
  offset: number;
  /** The box's size in bytes, header included (to the end of the file for a size field of 0). */
  size: number;
}

export interface TopLevelBoxes {
  boxes: TopLevelBox[];
  /** More than `maxBoxes` boxes: the walk stopped, and what follows is unknown. */
  tooMany?: true;
  /** The walk stopped at a box whose size is smaller than its header (at this offset). */
  invalidAt?: number;
  /** The last box listed runs past the end of the bytes. */
  cutShort?: true;
}

const fourCc = (bytes: Uint8Array, at: number): string => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);

/** Whether the bytes start as an ISOBMFF file does: a first box of type 'ftyp' (what libvips's heifload sniffs). */
export function isIsobmff(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourCc(bytes, 4) === 'ftyp';
}

/** The top-level boxes of an ISOBMFF file, in file order; undefined when the bytes do not start with an 'ftyp' box. */
export function readTopLevelBoxes(bytes: Uint8Array, maxBoxes = MAX_TOP_LEVEL_BOXES): TopLevelBoxes | undefined {
  if (!isIsobmff(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: TopLevelBox[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    if (boxes.length === maxBoxes) return { boxes, tooMany: true };
    const size32 = view.getUint32(at);
    const type = fourCc(bytes, at + 4);
    let size: number;
    let header = 8;
    if (size32 === 1) {
      // A 64-bit size follows the type. One past what a Number holds exactly is past any file's end anyway.
      if (at + 16 > bytes.length) return { boxes: [...boxes, { type, offset: at, size: Number.MAX_SAFE_INTEGER }], cutShort: true };
      header = 16;
      const high = view.getUint32(at + 8);
      const low = view.getUint32(at + 12);
      size = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x1_0000_0000 + low;
    } else if (size32 === 0) {
      size = bytes.length - at;
    } else {
      size = size32;
    }
    if (size < header) return { boxes, invalidAt: at };
    boxes.push({ type, offset: at, size });
    if (size > bytes.length - at) return { boxes, cutShort: true };
    at += size;
  }
  return { boxes };
}
