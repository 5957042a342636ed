/**
 * How many frames an animated WebP holds, counted from its RIFF chunks before libwebp sees the file.
 * libwebp's demuxer walks every frame on each read of the file, and sharp reads it once for its
 * header and again for each frame decoded: the header read alone took 0.4 s at 20,000 frames, 42 s
 * at 200,000 and 230 s at 400,000 (a 19 MiB file of 1x1 frames), one native call that no timeout
 * stops, holding a decode slot all along. decode.ts refuses a WebP of more than MAX_WEBP_FRAMES
 * frames before any sharp call.
 *
 * Pure and bounded: one pass over the chunk headers, never throws. It stops at the end of the RIFF
 * payload or of the bytes, or at a chunk running past them (libwebp stops there too).
 */

/** Most frames decoded: a minute of 30 fps animation is 1,800; the header read stays near 0.1 s here. */
export const MAX_WEBP_FRAMES = 10_000;

const ascii = (bytes: Uint8Array, at: number, text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
};

/** Whether libvips takes the bytes for a WebP (RIFF....WEBP). */
export function isWebp(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP');
}

/**
 * The ANMF (animation frame) chunks at the top level of the WebP, 0 for a still image, undefined
 * when the bytes are not a WebP. Counting stops past `stopAfter` (stopAfter + 1 then means "more").
 */
export function countWebpFrames(bytes: Uint8Array, stopAfter = Number.POSITIVE_INFINITY): number | undefined {
  if (!isWebp(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The RIFF size counts from byte 8; a file cut short is walked as far as it goes.
  const end = Math.min(bytes.length, 8 + view.getUint32(4, true));
  let frames = 0;
  for (let at = 12; at + 8 <= end; ) {
    const size = view.getUint32(at + 4, true);
    if (ascii(bytes, at, 'ANMF') && ++frames > stopAfter) return frames;
    // Chunks are padded to an even size.
    at += 8 + size + (size & 1);
  }
  return frames;
}
