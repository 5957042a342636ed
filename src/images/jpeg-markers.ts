/**
 * How many scans a JPEG holds, counted from its markers before libjpeg sees the file. libjpeg
 * decodes every scan up to EOI, and each scan walks every block of the components it covers, even
 * one whose data is a single EOB run of a few bytes: a valid 279 KB progressive 7000x7000 JPEG of
 * 2,650 such scans kept a decode thread busy for 14 to 33 s, long after the 10 s image_timeout,
 * since sharp's timeout cannot stop libjpeg within one call. decode.ts refuses a JPEG of more than
 * MAX_JPEG_SCANS scans before any sharp call.
 *
 * Pure and bounded: one pass over the bytes, never throws. The walk never skips a byte libjpeg
 * would read as a marker, so it never counts fewer scans than libjpeg decodes: it skips by their
 * length only the segments libjpeg reads by their length (SOF0-2, SOF9-10, DHT, DAC, DQT, DRI, DNL,
 * APPn, COM and the SOS header), and searches past everything else (entropy-coded data, stuffed
 * bytes, fill, restarts, and the markers libjpeg fails at), as libjpeg's next_marker does. It stops
 * at EOI, at the end of the bytes, or at a segment running past the end (libjpeg stops there too).
 */

/**
 * Most scans decoded. libjpeg's progression writes 10 for a colour image (6 for grey, 18 for
 * CMYK), mozjpeg's optimised ones 5 to 7, and a sequential JPEG has one per component at most;
 * libtiff stops a JPEG inside a TIFF at its 100th scan by default
 * (LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER). At the pixel and memory limits 100 scans took 1.1 s
 * (7000x7000 4:2:0) to 5 s (6300x6300 4:4:4, 100 interleaved DC scans): within the time budget.
 */
export const MAX_JPEG_SCANS = 100;

/** What the walk does at each marker code: search past it (0), skip its length (LENGTH), count it (SOS), stop (EOI). */
const LENGTH = 1;
const SOS = 2;
const EOI = 3;
const ACTION = new Uint8Array(256);
// SOF0-2 and SOF9-10 (the frames libjpeg decodes), DHT, DAC, DQT, DRI, DNL, APP0-15, COM: libjpeg reads them by
// their length. The rest it ignores (RSTn, TEM) or fails at.
for (const code of [0xc0, 0xc1, 0xc2, 0xc9, 0xca, 0xc4, 0xcc, 0xdb, 0xdd, 0xdc, 0xfe]) ACTION[code] = LENGTH;
for (let n = 0; n < 16; n++) ACTION[0xe0 + n] = LENGTH;
ACTION[0xda] = SOS;
ACTION[0xd9] = EOI;

/** Whether libvips takes the bytes for a JPEG (its jpegload sniffs FF D8 FF). */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * The scans (SOS markers) libjpeg would reach in the JPEG, or undefined when the bytes are not a
 * JPEG. Counting stops past `stopAfter` (stopAfter + 1 then means "more").
 */
export function countJpegScans(bytes: Uint8Array, stopAfter = Number.POSITIVE_INFINITY): number | undefined {
  if (!isJpeg(bytes)) return undefined;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let scans = 0;
  for (let at = 2; ; ) {
    const marker = nextMarker(buffer, at);
    if (marker === undefined) return scans;
    const action = ACTION[buffer[marker]!];
    if (action === EOI) return scans;
    if (action === SOS && ++scans > stopAfter) return scans;
    if (marker + 2 >= buffer.length) return scans;
    const length = buffer.readUInt16BE(marker + 1);
    // libjpeg skips nothing of a length under 2; past the end it stops reading.
    if (length < 2) {
      at = marker + 3;
      continue;
    }
    if (marker + 1 + length > buffer.length) return scans;
    at = marker + 1 + length;
  }
}

/**
 * Where the code of the next marker from `at` that the walk acts on is (undefined at the end of
 * the bytes): after an FF, any further FFs (fill), a byte that is not 00 (FF 00 is a stuffed FF of
 * entropy-coded data), and not a marker searched past.
 */
function nextMarker(buffer: Buffer, at: number): number | undefined {
  const last = buffer.length - 1;
  for (let ff = buffer.indexOf(0xff, at); ff >= 0 && ff < last; ) {
    const code = buffer[ff + 1]!;
    if (ACTION[code] !== 0) return ff + 1;
    // Searched past: the next FF is often the very next byte or the one after, cheaper to test than to search for.
    ff = code === 0xff ? ff + 1 : buffer[ff + 2] === 0xff ? ff + 2 : buffer.indexOf(0xff, ff + 2);
  }
  return undefined;
}
