/**
 * A PNG's metadata chunks, taken out before libpng sees the file. libpng reads every ancillary
 * chunk it knows into memory on each read (sharp's metadata, then each frame's decode), inflating
 * the compressed ones up to 50 MiB apiece, and libvips copies them again; the decode memory budget
 * counts pixels only. Measured on 1x1 images, peak RSS of a decode:
 *   50 zTXt chunks of 7 MB of text (342 KB file)   2.7 GB (100 iTXt: 3.8 GB)
 *   one iCCP inflating to 50 MB (50 KB file)        +230 MB
 *   40 MB of tEXt, sPLT, pCAL, sCAL or eXIf          +150 to +230 MB each (unknown chunks: none)
 * None of them changes a pixel the decode returns: text, suggested palettes (sPLT) and
 * calibration (pCAL, sCAL) are never read, and every PNG decodes to a stored-value space, whose
 * ICC profile decode.ts ignores. eXIf is kept, for its orientation, unless larger than
 * MAX_EXIF_BYTES (a JPEG's EXIF cannot pass 64 KiB).
 *
 * Pure and bounded: one walk of the chunk records (length, type, data, CRC) after the signature;
 * never throws. Everything else stays byte for byte and in order (IHDR, PLTE, IDAT, an APNG's
 * acTL, fcTL and fdAT, which apng.ts reads, ...), and the bytes are copied only when there is a chunk to drop. Where
 * the records stop making sense (a length past the end or over 2^31 - 1, a type that is not four
 * letters), and after IEND, the rest is kept as it is, for libpng to judge as it did before.
 */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** Length, type and CRC of a chunk record. */
const RECORD_BYTES = 12;
/** libpng refuses a chunk length over 2^31 - 1. */
const MAX_LENGTH = 0x7fffffff;
/** Largest eXIf chunk kept: 16 times what a JPEG's EXIF can be, so every real one fits. */
export const MAX_EXIF_BYTES = 1024 * 1024;

const typeCode = (type: string): number => Buffer.from(type, 'latin1').readUInt32BE(0);
/** Chunks dropped whatever their size. */
export const DROPPED_PNG_CHUNKS: readonly string[] = ['tEXt', 'zTXt', 'iTXt', 'iCCP', 'sPLT', 'pCAL', 'sCAL'];
const DROPPED = new Set(DROPPED_PNG_CHUNKS.map(typeCode));
const EXIF = typeCode('eXIf');
const IEND = typeCode('IEND');

/**
 * The PNG without its metadata chunks (see above), or `bytes` itself when it is not a PNG or has
 * none to drop.
 */
export function stripPngMetadata(bytes: Buffer): Buffer {
  if (!isPng(bytes)) return bytes;
  const dropped = walk(bytes);
  if (dropped.bytes === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length - dropped.bytes);
  let written = 0;
  let keptFrom = 0;
  walk(bytes, (start, end) => {
    written += bytes.copy(out, written, keptFrom, start);
    keptFrom = end;
  });
  bytes.copy(out, written, keptFrom);
  return out;
}

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE.length && SIGNATURE.every((byte, i) => bytes[i] === byte);
}

/**
 * Walks the chunk records, calling `drop` for each chunk to drop (its record's start and end), in
 * order; returns the bytes they take. Stops at IEND or at the first record that does not make sense.
 */
function walk(bytes: Buffer, drop?: (start: number, end: number) => void): { bytes: number } {
  let total = 0;
  for (let at: number = SIGNATURE.length; at + RECORD_BYTES <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.readUInt32BE(at + 4);
    const end = at + RECORD_BYTES + length;
    if (length > MAX_LENGTH || !isChunkType(type) || end > bytes.length) break;
    if (DROPPED.has(type) || (type === EXIF && length > MAX_EXIF_BYTES)) {
      drop?.(at, end);
      total += end - at;
    }
    if (type === IEND) break;
    at = end;
  }
  return { bytes: total };
}

/** Four ASCII letters, as libpng requires of a chunk type. */
function isChunkType(type: number): boolean {
  for (let shift = 0; shift < 32; shift += 8) {
    const c = (type >>> shift) & 0xff;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return false;
  }
  return true;
}
