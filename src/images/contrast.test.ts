/**
 * The contrast stretch behind the `stretched` view (contrast.ts; index.ts hashFrame): the 1st and
 * 99th luminance percentiles mapped to 0..255, the same linear map on R, G and B, alpha kept; no
 * stretch for a flat or near-flat picture (only noise), nor for one already spanning 0..255.
 */
import { describe, expect, it } from 'vitest';
import { FULL_STRETCH_RANGE, MIN_STRETCH_RANGE, stretchContrast, stretchMap, stretchRange } from './contrast.js';
import { hashFrame } from './index.js';
import { pdqHash } from './pdq/hasher.js';
import { hammingDistance } from '../matching/hash-bits.js';

/** An RGB frame of grey levels (R = G = B = level). */
function greys(levels: number[], width = levels.length, height = 1): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(levels.length * 3);
  levels.forEach((level, p) => data.fill(level, p * 3, p * 3 + 3));
  return { data, width, height };
}

/** A 128x128 picture (blocks of 16 pixels, in colour, levels 20-230) at contrast `contrast` around mid-grey. */
function picture(contrast: number, offset = 128 * (1 - contrast)): { data: Uint8Array; width: number; height: number } {
  const size = 128;
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const base = 20 + (((x >> 4) * 7 + (y >> 4) * 13) % 11) * 21;
      const rgb = [base, Math.trunc(base * 0.6 + 90), 250 - base];
      rgb.forEach((value, c) => (data[(y * size + x) * 3 + c] = Math.round(value * contrast + offset)));
    }
  }
  return { data, width: size, height: size };
}

describe('stretchRange', () => {
  it('reads the 1st and 99th percentiles, so a few specks do not hold the range open', () => {
    // 100 pixels: one black speck, one white speck, the rest 60..157.
    const levels = [0, 255, ...Array.from({ length: 98 }, (_, i) => 60 + i)];
    expect(stretchRange(greys(levels).data, 100)).toEqual({ low: 60, high: 157 });
    // With no pixel left out: the extremes.
    expect(stretchRange(greys(levels).data, 100, 0)).toEqual({ low: 0, high: 255 });
  });

  it("reads the darkest channel's 1st percentile and the brightest channel's 99th, so colours are not clamped", () => {
    // Saturated colours: luminance 76, 150 and 29, channels 0..255.
    const data = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255]);
    expect(stretchRange(data, 3, 0)).toEqual({ low: 0, high: 255 });
    const muted = new Uint8Array([100, 140, 120, 130, 90, 110]);
    expect(stretchRange(muted, 2, 0)).toEqual({ low: 90, high: 140 });
  });

  it('refuses a buffer shorter than its pixels', () => {
    expect(() => stretchRange(new Uint8Array(5), 2)).toThrow(RangeError);
  });
});

describe('stretchMap', () => {
  it('maps low to 0 and high to 255, linearly, clamped outside', () => {
    const map = stretchMap({ low: 50, high: 150 });
    expect(map[50]).toBe(0);
    expect(map[150]).toBe(255);
    expect(map[100]).toBe(128); // 127.5, rounded
    expect(map[75]).toBe(64); // 63.75
    expect(map[0]).toBe(0);
    expect(map[49]).toBe(0);
    expect(map[151]).toBe(255);
    expect(map[255]).toBe(255);
    for (let v = 1; v < 256; v++) expect(map[v]!).toBeGreaterThanOrEqual(map[v - 1]!);
  });

  it('refuses an empty range', () => {
    expect(() => stretchMap({ low: 80, high: 80 })).toThrow(RangeError);
  });
});

describe('stretchContrast', () => {
  it('maps the same way on R, G and B, to the full range', () => {
    const levels = Array.from({ length: 100 }, (_, i) => 100 + Math.floor(i * 0.6)); // 100..159
    const frame = greys(levels);
    // A coloured pixel at the middle: each channel through the same map.
    frame.data.set([110, 130, 150], 50 * 3);
    const stretched = stretchContrast(frame)!;
    const { low, high } = stretchRange(frame.data, 100);
    const map = stretchMap({ low, high });
    expect(Array.from(stretched.data)).toEqual(Array.from(frame.data, (v) => map[v]!));
    expect(Array.from(stretched.data.subarray(150, 153))).toEqual([map[110], map[130], map[150]]);
    expect(Math.min(...stretched.data)).toBe(0);
    expect(Math.max(...stretched.data)).toBe(255);
    // The input is left as it was.
    expect(frame.data[0]).toBe(100);
  });

  it('keeps alpha as it is, and maps the alpha-weighted colours of a shrunk frame alike', () => {
    const frame = { ...greys(Array.from({ length: 100 }, (_, i) => 90 + i)), alpha: new Uint8Array(100).fill(200), alphaWeighted: greys(Array.from({ length: 100 }, (_, i) => 100 + i)).data };
    const stretched = stretchContrast(frame)!;
    expect(stretched.alpha).toBe(frame.alpha);
    const map = stretchMap(stretchRange(frame.data, 100));
    expect(Array.from(stretched.alphaWeighted!)).toEqual(Array.from(frame.alphaWeighted, (v) => map[v]!));
    // When the alpha-weighted colours are the stored ones (the same buffer), they stay one.
    const shared = { ...frame, alphaWeighted: frame.data };
    const stretchedShared = stretchContrast(shared)!;
    expect(stretchedShared.alphaWeighted).toBe(stretchedShared.data);
    // An opaque frame gets no alpha.
    expect(stretchContrast(greys(Array.from({ length: 100 }, (_, i) => 90 + i)))).not.toHaveProperty('alpha');
  });

  it('gives no view for a flat or near-flat picture (only noise stretched), nor one spanning nearly 0..255 already', () => {
    expect(stretchContrast(greys(new Array(400).fill(128), 20, 20))).toBeUndefined();
    // Noise of a few levels around a flat grey.
    const noisy = Array.from({ length: 400 }, (_, i) => 126 + ((i * 7919) % 5));
    expect(stretchContrast(greys(noisy, 20, 20))).toBeUndefined();
    // Just under and at the least range.
    // 100 pixels from 20 to 20 + range, the ends doubled so the percentiles (ranks 1 and 98) fall on them.
    const span = (range: number) => greys(Array.from({ length: 100 }, (_, i) => 20 + Math.round((Math.min(97, Math.max(0, i - 1)) * range) / 97)));
    expect(stretchContrast(span(MIN_STRETCH_RANGE - 1))).toBeUndefined();
    expect(stretchContrast(span(MIN_STRETCH_RANGE + 1))).toBeDefined();
    // Next to nothing to stretch: a range of 7/8 of the scale or more (here 0..255 at the percentiles).
    expect(stretchContrast(greys(Array.from({ length: 100 }, (_, i) => (i < 10 ? 0 : i >= 90 ? 255 : 40 + i))))).toBeUndefined();
    expect(stretchContrast(span(FULL_STRETCH_RANGE))).toBeUndefined();
    expect(stretchContrast(span(FULL_STRETCH_RANGE - 1))).toBeDefined();
  });

  it('a picture faded under the PDQ quality floor hashes near its original, back above it, stretched', () => {
    const original = pdqHash(picture(1, 0));
    expect(original.quality).toBe(100);
    // Faded to contrast 0.15, dimmed to 0.2, under an 80% white layer: quality 22-31, 6-12 bits away.
    for (const faded of [picture(0.15), picture(0.2, 0), picture(0.2, 204)]) {
      const low = pdqHash(faded);
      expect(low.quality).toBeLessThan(50);
      const stretched = pdqHash(stretchContrast(faded)!);
      expect(stretched.quality).toBe(100);
      // Its bits nearly where they were (a linear map), so near the original too.
      expect(hammingDistance(stretched.hash, low.hash)).toBeLessThanOrEqual(4);
      expect(hammingDistance(stretched.hash, original.hash)).toBeLessThanOrEqual(12);
    }
  });
});

describe('hashFrame: the stretched view', () => {
  const frameOf = (image: { data: Uint8Array; width: number; height: number }) => ({ ...image, data: Buffer.from(image.data), index: 0 });

  it('a faded frame gets a stretched view; a frame of ordinary contrast (PDQ quality 100) and a flat one none', () => {
    const faded = hashFrame(frameOf(picture(0.15)), { viewerViews: true, dihedral: true });
    expect(faded.views?.map((view) => view.view)).toEqual(['stretched']);
    const stretched = faded.views![0]!;
    expect(stretched.pdqQuality).toBeGreaterThan(faded.pdqQuality);
    expect(stretched.dihedral).toHaveLength(8);
    expect(hashFrame(frameOf(picture(1, 0)), { viewerViews: true }).views).toBeUndefined();
    expect(hashFrame(frameOf(greys(new Array(64 * 64).fill(77), 64, 64)), { viewerViews: true }).views).toBeUndefined();
    // Without viewerViews, the stored pixels only.
    expect(hashFrame(frameOf(picture(0.15)), {}).views).toBeUndefined();
  });

  /** `image` inside a `border`-pixel frame of grey `level` (and, with `alpha`, fully transparent there). */
  function framed(image: { data: Uint8Array; width: number; height: number }, border: number, level: number, alpha = false) {
    const width = image.width + 2 * border;
    const height = image.height + 2 * border;
    const data = new Uint8Array(width * height * 3).fill(level);
    const transparency = alpha ? new Uint8Array(width * height) : undefined;
    for (let y = 0; y < image.height; y++) {
      data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), ((y + border) * width + border) * 3);
      transparency?.fill(255, (y + border) * width + border, (y + border) * width + border + image.width);
    }
    return { data, width, height, ...(transparency && { alpha: transparency }) };
  }

  it.each([
    ['white', 255, false],
    ['black', 0, false],
    ['transparent', 0, true],
  ] as const)('a faded picture in a %s frame: its trimmed view stretched, with its box', (_, level, alpha) => {
    const original = pdqHash(picture(1, 0));
    const hashes = hashFrame(frameOf(framed(picture(0.15), 12, level, alpha)), { viewerViews: true });
    const views = hashes.views ?? [];
    const trimmed = views.find((view) => view.view === 'trimmed')!;
    expect(trimmed.box).toEqual({ left: 12, top: 12, width: 128, height: 128 });
    expect(trimmed.pdqQuality).toBeLessThan(50);
    // The whole frame stretched (when it is under 100) keeps the frame: its range and hash with it.
    // The crop stretched is the faded picture's own stretch, with the trimmed view's box, once.
    const stretched = views.filter((view) => view.view === 'stretched' && view.box);
    expect(stretched).toHaveLength(1);
    expect(stretched[0]!.box).toEqual(trimmed.box);
    expect(stretched[0]!.pdqQuality).toBe(100);
    expect(hammingDistance(stretched[0]!.pdq, original.hash)).toBeLessThanOrEqual(12);
  });

  it('a framed picture of ordinary contrast gets no stretched view: its trimmed view is at quality 100', () => {
    const views = hashFrame(frameOf(framed(picture(1, 0), 12, 255)), { viewerViews: true }).views ?? [];
    expect(views.map((view) => view.view)).toEqual(['trimmed']);
  });
});
