/**
 * A near-uniform border around a decoded picture: a frame of one colour (sharp's extend, a
 * screenshot's margin) or of transparent pixels, added around a known picture. It moves both
 * hashes far from the picture's (a 3% white frame on a 640x480 photo: PDQ 62-86 bits, blockhash
 * 51-150), so the hashes also take the content inside it (index.ts hashFrame, the `trimmed` views).
 *
 * Pure: raw pixels in, a box out, no I/O. Cheap on a picture without a border: the border colour
 * comes from the four corners, and a picture whose corners do not agree (most photos) costs a few
 * dozen pixel reads; one whose corners agree is scanned from each side only until the first line
 * that is not border.
 */

/** A box inside a picture, in its pixels. */
export interface BorderBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * What findBorder reads: RGB, 3 bytes a pixel, and optionally alpha, 1 byte a pixel, and the RGB a
 * viewer's scaler shows on a frame shrunk with alpha (decode.ts DecodedFrame.alphaWeighted), which
 * a picture with alpha is read on when present.
 */
export interface BorderPicture {
  data: Uint8Array;
  width: number;
  height: number;
  alpha?: Uint8Array | undefined;
  alphaWeighted?: Uint8Array | undefined;
}

/**
 * How far (per channel, out of 255) a pixel may be from the border colour and still be border,
 * tried in turn: 20, above a JPEG's noise on a flat area near an edge, below any visible content;
 * then, when that finds no flat border, 6, for a border of exactly one colour around a picture
 * whose own margin is a shade off it (an off-white page in a pure white frame: at 20 the two
 * merge into a border that is not flat). For alpha, how opaque a pixel may be and still count as
 * transparent.
 */
export const BORDER_TOLERANCES = [20, 6] as const;

/**
 * How flat a border must be: the mean, over its pixels, of their largest channel difference from
 * the border colour (for alpha, their mean alpha), at most a quarter of the tolerance it was found
 * at. A uniform border, even through JPEG, is within 1 or 2; a smooth gradient that stays within
 * the tolerance over its first columns (a sky, a vignette) averages about half the tolerance
 * there, and is no border.
 */
export const MAX_MEAN_BORDER_FRACTION = 0.25;

/** The least border worth a view, per side: 2% of that dimension, and at least MIN_BORDER_PIXELS. */
export const MIN_BORDER_FRACTION = 0.02;
export const MIN_BORDER_PIXELS = 2;

/** The smallest content, each side, worth hashing on its own (smaller is a speck, not a picture). */
export const MIN_TRIMMED_SIDE = 32;

/** How many rings findBorder peels at most: a frame of up to three (an outline, a mat, transparent padding). */
export const MAX_RINGS = 3;

/**
 * How many lines between two rings may be neither (the line a resize blends an outline into the mat
 * inside it, JPEG ringing): skipped when each of their pixels lies between the two rings' colours
 * (widened by twice the tolerance: ringing overshoots). Also how many pixels at each end of a line
 * may differ (where it crosses a corner's blend), and how many innermost lines a side of a ring all
 * round may be left out of its flatness (its own blend into what is inside it).
 */
export const MAX_BLEND_LINES = 2;

/**
 * A ring that is not flat around its corners' colour (read on a line of JPEG ringing in a mat) is
 * tried once more around its own median colour, at half the flatness limit, only when on every
 * SAMPLE_STRIDE-th pixel of its lines it is that flat already (so a gradient costs an eighth more
 * reads of it, not a second scan).
 */
const SAMPLE_STRIDE = 8;

/**
 * When a ring tried again around its median colour drifts in depth (a gradient, not a mat): when on a
 * side, in a channel, the means of its lines rise or fall steadily from the outer ones in (Kendall's
 * tau against depth at least MIN_DRIFT_TAU, over at most DRIFT_SAMPLE_LINES of them, on a side of at
 * least MIN_DRIFT_LINES lines) by more than MAX_RING_DRIFT levels (the median of the inner half of them
 * against that of the outer half). A mat read on a ringing line is flat in depth but for a few lines
 * of ringing or blend at its edges (tau at most 0.55 on resized JPEG copies, the half medians within
 * 1.7 levels); a studio backdrop whose 10-18 levels of falloff are flat around their middle colour
 * drifts steadily (tau 0.8-0.97) by 1.1 levels or more.
 */
const MAX_RING_DRIFT = 0.75;
const MIN_DRIFT_TAU = 0.7;
const MIN_DRIFT_LINES = 6;
const DRIFT_SAMPLE_LINES = 64;

/** A ring's kind: transparent pixels, or one colour (RGB). */
type Border = 'transparent' | readonly [number, number, number];

/** One ring peeled: what is inside it, its kind, and the sides it was found on (top, bottom, left, right). */
interface Ring {
  box: BorderBox;
  border: Border;
  sides: readonly [boolean, boolean, boolean, boolean];
}

/**
 * The content inside a near-uniform border: the bounding box of the pixels that are not border,
 * or undefined when the picture has no border worth a view.
 *
 * The border is peeled as up to MAX_RINGS rings, each near-uniform, from the outside in (a dark
 * outline around a white mat around the picture: a stock frame effect), the last box kept; the
 * lines a resize blends between two rings (MAX_BLEND_LINES, each pixel between the two colours)
 * go with the inner ring. A ring inside another must run on every side the outer one does.
 *
 * A ring is transparent when the picture has alpha and at least two corners of what is left are
 * (nearly) fully transparent (alpha within the tolerance, BORDER_TOLERANCES): what is not is
 * inside it. Otherwise (or when no transparent ring is found, as with rounded transparent corners
 * on an opaque mat) its colour is that of at least two corners that agree (each corner read as the
 * median of its 3x3 pixels, so a noisy or specked corner pixel does not decide; with alpha, of the
 * opaque ones, walking in from a transparent corner), and what differs from it by more than the
 * tolerance in a channel is inside it; a transparent pixel is part of any colour ring, whatever
 * its RGB (a partly transparent one counts its difference in proportion to its alpha). Two
 * corners, not four: a border on one side only (content touching the other three) is a border too.
 *
 * Each side is scanned inwards line by line; a line is border when at most one pixel in 256 of it
 * (a speck, JPEG ringing) is not, besides MAX_BLEND_LINES at each end. Each ring must be flat
 * (MAX_MEAN_BORDER_FRACTION: no gradient; a ring all round leaves out of it up to MAX_BLEND_LINES
 * innermost lines a side that are not, and a ring not flat around its corners' colour is tried once
 * more around its own median colour, at half the limit and only when its lines do not drift from the
 * outer ones in, MAX_RING_DRIFT: a gradient is no flatter around its middle, and a mild one drifts),
 * leave content at least MIN_TRIMMED_SIDE each way and not be all of it (a blank is no ring at the
 * first tolerance, for the next to tell apart); the rings together must be, on at least one side,
 * at least MIN_BORDER_FRACTION of the picture and MIN_BORDER_PIXELS deep.
 */
export function findBorder(picture: BorderPicture): BorderBox | undefined {
  return findBorderRings(picture).at(-1);
}

/**
 * The box inside each ring findBorder peels, outermost first (findBorder's is the last); empty when
 * the picture has no border worth a view. A box is listed only when the rings up to it are deep
 * enough (MIN_BORDER_FRACTION, MIN_BORDER_PIXELS).
 */
export function findBorderRings(picture: BorderPicture): BorderBox[] {
  const { width, height } = picture;
  if (width < MIN_TRIMMED_SIDE + MIN_BORDER_PIXELS || height < MIN_TRIMMED_SIDE + MIN_BORDER_PIXELS) return [];
  const deepH = Math.max(MIN_BORDER_PIXELS, Math.ceil(MIN_BORDER_FRACTION * height));
  const deepW = Math.max(MIN_BORDER_PIXELS, Math.ceil(MIN_BORDER_FRACTION * width));
  const boxes: BorderBox[] = [];
  let outer: Ring | undefined;
  for (let rings = 0; rings < MAX_RINGS; rings++) {
    const ring = peelRing(picture, outer);
    if (!ring) break;
    outer = ring;
    const { box } = ring;
    if (box.top >= deepH || height - box.top - box.height >= deepH || box.left >= deepW || width - box.left - box.width >= deepW) boxes.push(box);
  }
  return boxes;
}

/** The next ring inside `outer` (the whole picture when undefined), at the first tolerance that finds one. */
function peelRing(picture: BorderPicture, outer: Ring | undefined): Ring | undefined {
  for (const tolerance of BORDER_TOLERANCES) {
    // Content all within one tolerance of the corners is blank at it, or a low-contrast picture
    // in a frame of its lightest or darkest colour, which the next tolerance tells apart.
    for (const border of bordersOf(picture, outer, tolerance)) {
      const ring = peelWithin(picture, outer, border, tolerance, true);
      if (ring && 'box' in ring) return ring;
      // Not flat around the corners' colour, but around another (the corners read on a line of JPEG ringing): once more around that.
      if (ring) {
        const again = peelWithin(picture, outer, ring.median, tolerance, false);
        if (again && 'box' in again) return again;
      }
    }
  }
  return undefined;
}

/**
 * The ring of `border` inside `outer` at one tolerance, when there is one worth keeping. When
 * `retry` and a ring of a colour is found but is not flat around it, instead the median colour of
 * its pixels, for peelRing to try once more around it (`retry` false: held to half the flatness
 * limit), when a sample of them (SAMPLE_STRIDE) is within that half of it already and does not drift
 * in depth (`drifts`).
 */
function peelWithin(
  picture: BorderPicture,
  outer: Ring | undefined,
  border: Border,
  tolerance: number,
  retry: boolean,
): Ring | { median: [number, number, number] } | undefined {
  const { width, alpha } = picture;
  // With alpha, the colours a viewer's scaler shows: a shrunk edge not darkened by what transparent pixels store.
  const data = (alpha && picture.alphaWeighted) || picture.data;
  const within = outer?.box ?? { left: 0, top: 0, width, height: picture.height };
  // Per line: the pixels that may differ (specks), and the summed difference of the border lines.
  const allowedRow = within.width >> 8;
  const allowedColumn = within.height >> 8;
  // The last line isBorder passed: its summed difference and its pixels counted.
  let sum = 0;
  let pixels = 0;
  // How many pixels at each end of a line may differ besides (where it crosses the blend of the sides next to it: a corner).
  const ends = MAX_BLEND_LINES;
  const opaque = 255 - tolerance;
  /** How far the pixel is from the border (for a colour, alpha-weighted), or -1 for a transparent pixel in a colour ring. */
  const difference = (p: number, colour: readonly [number, number, number]): number => {
    const a = alpha ? alpha[p]! : 255;
    if (a <= tolerance) return -1;
    const dr = data[p * 3]! - colour[0];
    const dg = data[p * 3 + 1]! - colour[1];
    const db = data[p * 3 + 2]! - colour[2];
    const d = Math.max(dr < 0 ? -dr : dr, dg < 0 ? -dg : dg, db < 0 ? -db : db);
    return a === 255 ? d : (d * a) / 255;
  };
  /** Whether the line of `count` pixels from pixel `start`, `step` apart, is border; sets sum and pixels to its own. */
  const isBorder = (start: number, step: number, count: number, allowed: number): boolean => {
    let lineSum = 0;
    let off = 0;
    let atEnds = 0;
    let wild = 0;
    const last = count - ends;
    if (border === 'transparent') {
      for (let i = 0, p = start; i < count; i++, p += step) {
        const d = alpha![p]!;
        if (d <= tolerance) lineSum += d;
        else if (i < ends || i >= last) atEnds++;
        else if (++off > allowed) return false;
      }
    } else if (!alpha) {
      const [r, g, b] = border;
      for (let i = 0, p = start * 3; i < count; i++, p += step * 3) {
        const dr = data[p]! - r;
        const dg = data[p + 1]! - g;
        const db = data[p + 2]! - b;
        const d = Math.max(dr < 0 ? -dr : dr, dg < 0 ? -dg : dg, db < 0 ? -db : db);
        if (d <= tolerance) lineSum += d;
        else if (i < ends || i >= last) atEnds++;
        else if (++off > allowed) return false;
      }
    } else {
      for (let i = 0, p = start; i < count; i++, p += step) {
        const d = difference(p, border);
        if (d < 0) wild++;
        else if (d <= tolerance) lineSum += d;
        else if (i < ends || i >= last) atEnds++;
        else if (++off > allowed) return false;
      }
    }
    sum = lineSum;
    pixels = count - off - atEnds - wild;
    return true;
  };
  /**
   * Over every SAMPLE_STRIDE-th pixel isBorder counted on a border line of a colour (read again
   * only for a ring that is not flat): with `around` undefined, counts their R, G and B values in
   * `histogram` (3 x 256); else returns their summed difference from `around`, and sets `signed` to
   * their summed R, G and B differences from it (signed) and how many they are.
   */
  const sampleLine = (
    start: number,
    step: number,
    count: number,
    colour: readonly [number, number, number],
    around: readonly [number, number, number] | undefined,
    histogram: Uint32Array,
    signed: Float64Array,
  ): number => {
    const stride = step * SAMPLE_STRIDE;
    const [r, g, b] = colour;
    const [r1, g1, b1] = around ?? colour;
    let off = 0;
    let sr = 0;
    let sg = 0;
    let sb = 0;
    let sn = 0;
    for (let i = 0, p = start; i < count; i += SAMPLE_STRIDE, p += stride) {
      const a = alpha ? alpha[p]! : 255;
      if (a <= tolerance) continue;
      const v0 = data[p * 3]!;
      const v1 = data[p * 3 + 1]!;
      const v2 = data[p * 3 + 2]!;
      const dr = v0 - r;
      const dg = v1 - g;
      const db = v2 - b;
      const d = Math.max(dr < 0 ? -dr : dr, dg < 0 ? -dg : dg, db < 0 ? -db : db);
      if ((a === 255 ? d : (d * a) / 255) > tolerance) continue;
      if (around) {
        const er = v0 - r1;
        const eg = v1 - g1;
        const eb = v2 - b1;
        const e = Math.max(er < 0 ? -er : er, eg < 0 ? -eg : eg, eb < 0 ? -eb : eb);
        off += a === 255 ? e : (e * a) / 255;
        sr += er;
        sg += eg;
        sb += eb;
        sn++;
      } else {
        histogram[v0]!++;
        histogram[256 + v1]!++;
        histogram[512 + v2]!++;
      }
    }
    signed.set([sr, sg, sb, sn]);
    return off;
  };
  /**
   * Whether the line lies between the outer ring and this one: a line a resize blends the two into,
   * each channel within the two colours' range widened by twice the tolerance (a resize's or JPEG's
   * ringing overshoots the step by more than the noise: a #333 outline's last line read 30).
   * Its ends may differ besides (where it crosses the blend lines of the sides next to it).
   */
  const isBlend = (start: number, step: number, count: number, allowed: number): boolean => {
    const outerBorder = outer!.border;
    const overshoot = 2 * tolerance;
    let off = -2 * MAX_BLEND_LINES;
    for (let i = 0, p = start; i < count; i++, p += step) {
      const a = alpha ? alpha[p]! : 255;
      if (a <= tolerance) continue;
      let fits: boolean;
      if (border === 'transparent' || outerBorder === 'transparent') {
        const colour = border === 'transparent' ? (outerBorder as readonly [number, number, number]) : border;
        fits = a < opaque || difference(p, colour) <= tolerance;
      } else {
        fits = true;
        for (let c = 0; c < 3 && fits; c++) {
          const v = data[p * 3 + c]!;
          fits = v >= Math.min(border[c]!, outerBorder[c]!) - overshoot && v <= Math.max(border[c]!, outerBorder[c]!) + overshoot;
        }
      }
      if (!fits && ++off > allowed) return false;
    }
    return true;
  };
  /** How many lines in from one side are border: `line(i)` tests the i-th line in, of at most `lines`. */
  const depth = (lines: number, line: (i: number) => boolean): number => {
    let i = 0;
    while (i < lines && line(i)) i++;
    return i;
  };
  /** Each side's border lines, outermost first: their summed difference, pixels counted, and where they are (first pixel, step, count). */
  const found: Array<Array<[number, number, number, number, number]>> = [[], [], [], []];
  /** How many lines in from side `side` (top, bottom, left, right) are border, of at most `lines` of `count` pixels from pixel `start(i)`; kept in found[side]. */
  const borderDepth = (side: number, lines: number, count: number, start: (i: number) => number): number =>
    depth(lines, (i) => {
      const from = start(i);
      const step = side < 2 ? 1 : width;
      if (!isBorder(from, step, count, side < 2 ? allowedRow : allowedColumn)) return false;
      found[side]!.push([sum, pixels, from, step, count]);
      return true;
    });
  /** Whether a line is neither this ring nor content but the blend of the outer ring into it. */
  const blends = (start: number, step: number, count: number, allowed: number): boolean =>
    !isBorder(start, step, count, allowed) && isBlend(start, step, count, allowed);

  // Inside another ring, first the lines blending the two on each side (none when the ring is not found there).
  const { left: x0, top: y0, width: w0, height: h0 } = within;
  const blend = [0, 0, 0, 0];
  if (outer) {
    const most = Math.min(MAX_BLEND_LINES, (w0 - MIN_TRIMMED_SIDE) >> 1, (h0 - MIN_TRIMMED_SIDE) >> 1);
    blend[0] = depth(most, (i) => blends((y0 + i) * width + x0, 1, w0, allowedRow));
    blend[1] = depth(most, (i) => blends((y0 + h0 - 1 - i) * width + x0, 1, w0, allowedRow));
    blend[2] = depth(most, (i) => blends(y0 * width + x0 + i, width, h0, allowedColumn));
    blend[3] = depth(most, (i) => blends(y0 * width + x0 + w0 - 1 - i, width, h0, allowedColumn));
  }
  const x1 = x0 + blend[2]!;
  const y1 = y0 + blend[0]!;
  const w1 = w0 - blend[2]! - blend[3]!;
  const h1 = h0 - blend[0]! - blend[1]!;
  const top = borderDepth(0, h1, w1, (i) => (y1 + i) * width + x1);
  if (top === h1) return undefined; // every line within the tolerance: no content to box
  const bottom = borderDepth(1, h1 - top, w1, (i) => (y1 + h1 - 1 - i) * width + x1);
  const rows = h1 - top - bottom;
  const left = borderDepth(2, w1, rows, (i) => (y1 + top) * width + x1 + i);
  const right = borderDepth(3, w1 - left, rows, (i) => (y1 + top) * width + x1 + w1 - 1 - i);

  const deep = [top, bottom, left, right];
  const sides = [top > 0, bottom > 0, left > 0, right > 0] as const;
  if (!sides.some(Boolean)) return undefined;
  // A ring inside another runs all round it (not a flat strip of the picture's own, a sky).
  if (outer && outer.sides.some((side, s) => side && !sides[s])) return undefined;
  // Each side's edge: past the blend and the ring where the ring is, else where it was.
  const [t, b, l, r] = deep.map((d, s) => (d > 0 ? d + blend[s]! : 0)) as [number, number, number, number];
  const box = { left: x0 + l, top: y0 + t, width: w0 - l - r, height: h0 - t - b };
  if (box.width < MIN_TRIMMED_SIDE || box.height < MIN_TRIMMED_SIDE) return undefined;
  // A ring of at most MAX_BLEND_LINES a side (a thin outline) is a line, not a gradient; any other must be flat,
  // but for up to MAX_BLEND_LINES innermost lines a side that are not (its blend into what is inside it).
  const flat = MAX_MEAN_BORDER_FRACTION * tolerance;
  const thin = deep.every((d) => d <= MAX_BLEND_LINES);
  const all4 = sides.every(Boolean);
  let total = 0;
  let counted = 0;
  // How many of each side's lines (outermost first) the flatness counts.
  const kept = found.map((lines) => {
    let n = lines.length;
    while (all4 && n > 1 && lines.length - n < MAX_BLEND_LINES && lines[n - 1]![0] > flat * lines[n - 1]![1]) n--;
    for (let i = 0; i < n; i++) {
      total += lines[i]![0];
      counted += lines[i]![1];
    }
    return n;
  });
  if (counted === 0) return undefined;
  // Tried again around its own median colour, at half the limit: a ring of one colour whose corners were read on a
  // line of ringing is that flat, but not a gradient (a sky, a vignette), which centred is as flat as half of it read
  // from one end (so none passes that the first try would not take).
  if (!thin && total / counted > (retry ? flat : flat / 2)) {
    if (!retry || border === 'transparent') return undefined;
    // Its median colour and its flatness around that, on a sample of the pixels it counts: no retry that would not be flat.
    const histogram = new Uint32Array(3 * 256);
    const signed = new Float64Array(4);
    let off = 0;
    // Around the median: each side's sampled lines' mean R, G and B difference from it, outermost first.
    const means: number[][][] = [[], [], [], []];
    const sample = (around?: readonly [number, number, number]): void =>
      found.forEach((lines, side) => {
        for (let i = 0; i < kept[side]!; i++) {
          off += sampleLine(lines[i]![2], lines[i]![3], lines[i]![4], border, around, histogram, signed);
          if (around && signed[3]! > 0) means[side]!.push([signed[0]! / signed[3]!, signed[1]! / signed[3]!, signed[2]! / signed[3]!]);
        }
      });
    sample();
    let n = 0;
    for (let v = 0; v < 256; v++) n += histogram[v]!;
    if (n === 0) return undefined;
    const colour = [0, 1, 2].map((c) => {
      let v = 0;
      for (let below = histogram[c * 256]!; 2 * below < n; below += histogram[c * 256 + ++v]!);
      return v;
    }) as [number, number, number];
    // Its corners' colour after all (within a level): the ring is not flat around any.
    if (maxDifference(colour, border) <= 1) return undefined;
    sample(colour);
    if (off > (flat / 2) * n) return undefined;
    // A mat read on a ringing line has all but a few lines (the ringing) at its median, from its outer lines to its inner ones; a
    // gradient around a subject (a studio backdrop's falloff, a vignette) drifts from one to the other, however flat around its middle.
    return drifts(means) ? undefined : { median: colour };
  }
  return { box, border, sides };
}

/**
 * What the next ring may be, from the corners of what `outer` leaves (read MAX_BLEND_LINES in,
 * past any blend): 'transparent' (at least two corners nearly fully transparent), then the colour
 * of at least two corners that agree (their mean), when there is one.
 */
function bordersOf(picture: BorderPicture, outer: Ring | undefined, tolerance: number): Border[] {
  const { alpha, width } = picture;
  const { left, top, width: w, height: h } = outer?.box ?? { left: 0, top: 0, width, height: picture.height };
  const inset = outer ? MAX_BLEND_LINES : 0;
  // Each corner's pixel, and the way into the box from it.
  const corners = [
    [left + inset, top + inset, 1, 1],
    [left + w - 1 - inset, top + inset, -1, 1],
    [left + inset, top + h - 1 - inset, 1, -1],
    [left + w - 1 - inset, top + h - 1 - inset, -1, -1],
  ] as const;
  const borders: Border[] = [];
  if (alpha && corners.filter(([x, y, dx, dy]) => median3x3(alpha, 1, 0, width, dx > 0 ? x : x - 2, dy > 0 ? y : y - 2) <= tolerance).length >= 2) borders.push('transparent');
  // With alpha, a corner's colour is that of its opaque pixels, walking in diagonally past transparent ones (a rounded corner).
  const walk = alpha ? Math.min(w, h) >> 4 : 0;
  const colours: number[][] = [];
  for (const [x, y, dx, dy] of corners) {
    for (let k = 0; k <= walk; k++) {
      const colour = cornerColour(picture, x + k * dx, y + k * dy, dx, dy, 255 - tolerance);
      if (colour) {
        colours.push(colour);
        break;
      }
    }
  }
  for (const colour of colours) {
    const agreeing = colours.filter((other) => maxDifference(colour, other) <= tolerance);
    if (agreeing.length >= 2) {
      borders.push([0, 1, 2].map((c) => Math.round(agreeing.reduce((total, each) => total + each[c]!, 0) / agreeing.length)) as [number, number, number]);
      break;
    }
  }
  return borders;
}

/**
 * Whether a ring drifts in depth, from `means` (each side's lines' mean R, G and B difference from its
 * colour, outermost first): on a side of at least MIN_DRIFT_LINES lines, in a channel, its lines rise
 * or fall steadily from the outer ones in (Kendall's tau of their means against depth, over at most
 * DRIFT_SAMPLE_LINES of them, at least MIN_DRIFT_TAU) and by more than MAX_RING_DRIFT (the median of
 * the inner half of them against that of the outer half).
 */
function drifts(means: readonly (readonly (readonly number[])[])[]): boolean {
  const median = (values: number[]): number => {
    values.sort((a, b) => a - b);
    const mid = values.length >> 1;
    return values.length & 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  };
  for (const lines of means) {
    if (lines.length < MIN_DRIFT_LINES) continue;
    const half = lines.length >> 1;
    const every = Math.ceil(lines.length / DRIFT_SAMPLE_LINES);
    for (let c = 0; c < 3; c++) {
      const values = lines.map((line) => line[c]!);
      const shift = median(values.slice(values.length - half)) - median(values.slice(0, half));
      if (Math.abs(shift) <= MAX_RING_DRIFT) continue;
      const sampled = values.filter((_, i) => i % every === 0);
      let tau = 0;
      for (let i = 0; i < sampled.length; i++) for (let j = i + 1; j < sampled.length; j++) tau += Math.sign(sampled[j]! - sampled[i]!);
      tau /= (sampled.length * (sampled.length - 1)) / 2;
      if (Math.abs(tau) >= MIN_DRIFT_TAU) return true;
    }
  }
  return false;
}

function maxDifference(a: readonly number[], b: readonly number[]): number {
  return Math.max(Math.abs(a[0]! - b[0]!), Math.abs(a[1]! - b[1]!), Math.abs(a[2]! - b[2]!));
}

/** The median of channel `channel` over the 3x3 pixels from (x, y) of a plane of `channels` bytes a pixel. */
function median3x3(plane: Uint8Array, channels: number, channel: number, width: number, x: number, y: number): number {
  const values: number[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) values.push(plane[((y + dy) * width + x + dx) * channels + channel]!);
  return values.sort((a, b) => a - b)[4]!;
}

/**
 * A corner's colour: the per-channel median of the 9 pixels of the two edges meeting at (x, y)
 * (5 along the row, 4 more down the column, towards dx, dy), so a thin outline along the edges is
 * read as its own colour and a speck at the corner does not decide; with alpha, of the opaque ones
 * (alpha at least `opaque`) when most are, else undefined.
 */
function cornerColour(picture: BorderPicture, x: number, y: number, dx: number, dy: number, opaque: number): number[] | undefined {
  const { alpha, width } = picture;
  const data = (alpha && picture.alphaWeighted) || picture.data;
  const kept: number[] = [];
  for (let i = 0; i < 5; i++) kept.push(y * width + x + i * dx);
  for (let i = 1; i < 5; i++) kept.push((y + i * dy) * width + x);
  const opaquePixels = alpha ? kept.filter((p) => alpha[p]! >= opaque) : kept;
  if (opaquePixels.length < 5) return undefined;
  return [0, 1, 2].map((c) => opaquePixels.map((p) => data[p * 3 + c]!).sort((u, v) => u - v)[opaquePixels.length >> 1]!);
}

/** The picture's planes (RGB; alpha and alpha-weighted RGB when present) inside `box`, copied. */
export function cropToBox<F extends BorderPicture & { alphaWeighted?: Uint8Array | undefined }>(
  picture: F,
  box: BorderBox,
): { data: Uint8Array; width: number; height: number; alpha?: Uint8Array; alphaWeighted?: Uint8Array } {
  const crop = (plane: Uint8Array, channels: number): Uint8Array => {
    const out = new Uint8Array(box.width * box.height * channels);
    const rowBytes = box.width * channels;
    for (let y = 0; y < box.height; y++) {
      const from = ((box.top + y) * picture.width + box.left) * channels;
      out.set(plane.subarray(from, from + rowBytes), y * rowBytes);
    }
    return out;
  };
  const data = crop(picture.data, 3);
  return {
    data,
    width: box.width,
    height: box.height,
    ...(picture.alpha && { alpha: crop(picture.alpha, 1) }),
    ...(picture.alphaWeighted && { alphaWeighted: picture.alphaWeighted === picture.data ? data : crop(picture.alphaWeighted, 3) }),
  };
}
