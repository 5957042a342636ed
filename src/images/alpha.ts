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
  const view = composite(frame, alpha, 255);
  flattened.set(frame, { data: colours, alpha, view });
  return view;
}

/**
 * What a viewer sees on a black background (a phone's gallery, a dark theme): the frame
 * composited onto black by its alpha, as flattenOntoWhite composites onto white. Not cached (only
 * the hashes read it, once per frame); an opaque frame is returned as it is.
 */
export function flattenOntoBlack(frame: FrameWithAlpha): RgbFrame {
  return frame.alpha ? composite(frame, frame.alpha, 0) : frame;
}

/** The frame's colours (alpha-weighted when shrunk) over a grey level `background`, by its alpha. */
function composite(frame: FrameWithAlpha, alpha: Uint8Array, background: 0 | 255): RgbFrame {
  const { width, height } = frame;
  const colours = frame.alphaWeighted ?? frame.data;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0, c = 0; p < width * height; p++) {
    const a = alpha[p]!;
    // Plus 128 for the rounding of divideBy255.
    const under = background * (255 - a) + 128;
    data[c] = divideBy255(colours[c++]! * a + under);
    data[c] = divideBy255(colours[c++]! * a + under);
    data[c] = divideBy255(colours[c++]! * a + under);
  }
  return { data, width, height };
}

/** floor(x / 255) for 0 <= x < 65536 + 128, in shifts: with x = v + 128, Math.round(v / 255) exactly. */
function divideBy255(x: number): number {
  return (x + (x >> 8)) >> 8;
}

/**
 * How transparent a frame must be, on average (sum of 255 - alpha over 255 x pixels), for its
 * views on white and on black (index.ts IMAGE_VIEWS: an image can be carried in its alpha alone,
 * stored RGB flat, which then hashes as a blank) to be hashed: 1%. Below it, no view differs from
 * the stored RGB by more than 1% of the frame's full contrast in all (a pixel's view moves from its stored colour by at most its
 * transparency), too little to carry a picture the stored RGB does not show (a photo's
 * anti-aliased rounded corners are about 0.1%); the hashes then cost what an opaque frame's do.
 */
export const MIN_VIEW_TRANSPARENCY = 0.01;

/** Whether the frame's alpha is transparent enough for its views to differ from the stored RGB (MIN_VIEW_TRANSPARENCY). */
export function hasMeaningfulAlpha(frame: FrameWithAlpha): boolean {
  const { alpha } = frame;
  if (!alpha) return false;
  const budget = MIN_VIEW_TRANSPARENCY * 255 * alpha.length;
  let transparency = 0;
  for (let p = 0; p < alpha.length; p++) {
    transparency += 255 - alpha[p]!;
    if (transparency >= budget) return true;
  }
  return false;
}
