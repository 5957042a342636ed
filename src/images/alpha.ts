/**
 * The views of a decoded frame that take its alpha into account. The decode (decode.ts) keeps the
 * stored RGB, which is what PDQ hashes (Meta's reference reads channels 0-2 and ignores alpha),
 * and the alpha plane apart; the consumers that read alpha derive their view here, from the same
 * pixels, without decoding again. Opaque frames (no `alpha`) are returned as they are.
 */

export interface FrameWithAlpha {
  /** RGB, 3 bytes a pixel: the stored colours (what PDQ hashes). */
  data: Uint8Array;
  /** 1 byte a pixel; undefined when every pixel is opaque. */
  alpha?: Uint8Array | undefined;
  /**
   * On a frame the decode shrank with alpha: its RGB shrunk with each source weighted by its
   * alpha (what a viewer's scaler shows; black where every source is fully transparent). The
   * views below composite from it when present; `data` when absent.
   */
  alphaWeighted?: Uint8Array | undefined;
  width: number;
  height: number;
}

export interface RgbFrame {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Blockhash's view, as the blockhash-core package reads an RGBA image: a fully transparent pixel
 * counts as white (R+G+B = 765), every other pixel as its RGB, whatever its alpha. On a frame the
 * decode shrank, the rule applies to the working pixels, from the alpha-weighted RGB: a working
 * pixel is fully transparent where all its sources are, and otherwise has the alpha-weighted
 * colour of the visible ones, as near as a shrunk frame gets to what the package reads on the
 * file (within a few bits of it).
 */
export function transparentAsWhite(frame: FrameWithAlpha): RgbFrame {
  const { alpha, width, height } = frame;
  if (!alpha) return frame;
  const data = Uint8Array.from(frame.alphaWeighted ?? frame.data);
  for (let p = 0; p < width * height; p++) if (alpha[p] === 0) data.fill(255, p * 3, p * 3 + 3);
  return { data, width, height };
}

/**
 * The last flattening of each frame: every image model reads the same frame, and compositing a
 * 512x512 frame costs milliseconds on the main thread, so it is done once per frame. Keyed on the
 * frame object, and valid while it holds the same planes and size (a decode never changes its
 * pixels in place); dropped with the frame.
 */
const flattened = new WeakMap<FrameWithAlpha, { data: Uint8Array; alpha: Uint8Array; view: RgbFrame }>();

/**
 * What a viewer sees on a white page: the frame composited onto white by its alpha (from the
 * alpha-weighted RGB of a shrunk frame, as a viewer's scaler weights colours). Computed once per
 * frame (the result is shared: read it, never write to it); an opaque frame is returned as it is.
 */
export function flattenOntoWhite(frame: FrameWithAlpha): RgbFrame {
  const { alpha, width, height } = frame;
  if (!alpha) return frame;
  const colours = frame.alphaWeighted ?? frame.data;
  const cached = flattened.get(frame);
  if (cached && cached.data === colours && cached.alpha === alpha && cached.view.width === width && cached.view.height === height) return cached.view;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const a = alpha[p]!;
    const white = 255 * (255 - a);
    for (let c = p * 3; c < p * 3 + 3; c++) data[c] = Math.round((colours[c]! * a + white) / 255);
  }
  const view = { data, width, height };
  flattened.set(frame, { data: colours, alpha, view });
  return view;
}
