/**
 * findBorder: the content inside a near-uniform border of one colour or of transparency, on raw
 * decoded pixels, robust to JPEG noise, and nothing for a picture without one (a photo, a
 * gradient, a border too thin to matter, content too small to be a picture).
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FIXTURE_IMAGES } from '../../test/harness/hashes.js';
import { cropToBox, findBorder, findBorderRings, MIN_TRIMMED_SIDE, type BorderPicture } from './border.js';

/** A picture with an alpha plane, as `framed` makes it. */
type Framed = Required<Omit<BorderPicture, 'alphaWeighted'>>;

interface Sides {
  top?: number;
  bottom?: number;
  left?: number;
  right?: number;
}

/** A fixture shrunk to width x height, raw RGB. */
async function content(name: string, width: number, height: number): Promise<BorderPicture> {
  const data = await sharp(join(FIXTURE_IMAGES, name)).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  return { data, width, height };
}

/** `picture` framed by `sides` pixels of `colour` (RGB), and of transparency when `transparent` (alpha 0, RGB `colour`). */
function framed(picture: BorderPicture, sides: Sides, colour: [number, number, number], transparent = false): Framed {
  const { top = 0, bottom = 0, left = 0, right = 0 } = sides;
  const width = picture.width + left + right;
  const height = picture.height + top + bottom;
  const data = new Uint8Array(width * height * 3);
  const alpha = new Uint8Array(width * height).fill(transparent ? 0 : 255);
  for (let p = 0; p < width * height; p++) data.set(colour, p * 3);
  for (let y = 0; y < picture.height; y++) {
    data.set(picture.data.subarray(y * picture.width * 3, (y + 1) * picture.width * 3), ((top + y) * width + left) * 3);
    alpha.fill(255, (top + y) * width + left, (top + y) * width + left + picture.width);
  }
  return { data, alpha, width, height };
}

/** The RGB through a JPEG of `quality` and back (4:2:0, as sharp writes it). */
async function throughJpeg(picture: BorderPicture, quality: number): Promise<BorderPicture> {
  const { width, height } = picture;
  const jpeg = await sharp(picture.data, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return { data: await sharp(jpeg).raw().toBuffer(), width, height };
}

const WHITE: [number, number, number] = [255, 255, 255];
const BLACK: [number, number, number] = [0, 0, 0];
const OUTLINE: [number, number, number] = [51, 51, 51];

/** `picture` in a `mat`-pixel white mat, a 1-pixel blend line (91, as a resize leaves it) and an `outline`-pixel #333 outline. */
function outlinedMat(picture: BorderPicture, outline: number, mat = 24): Framed {
  const all = { top: 1, bottom: 1, left: 1, right: 1 };
  const sides = (n: number) => ({ top: n, bottom: n, left: n, right: n });
  return framed(framed(framed(picture, sides(mat), WHITE), all, [91, 91, 91]), sides(outline), OUTLINE);
}

/**
 * `picture` in 1-pixel lines of the grey levels `lines` (outermost first), as a frame's edge reads
 * on a profile after a resize and JPEG, inside a 24-pixel white mat.
 */
function profiled(picture: BorderPicture, lines: number[]): Framed {
  let out = framed(picture, { top: 24, bottom: 24, left: 24, right: 24 }, WHITE);
  for (const level of [...lines].reverse()) out = framed(out, { top: 1, bottom: 1, left: 1, right: 1 }, [level, level, level]);
  return out;
}

/** `picture` with its corners outside a circle of `radius` pixels fully transparent, their RGB `under`. */
function roundCorners(picture: Framed, radius: number, under: [number, number, number]): Framed {
  const { width, height } = picture;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = Math.max(radius - x, x - (width - 1 - radius), 0);
      const dy = Math.max(radius - y, y - (height - 1 - radius), 0);
      if (dx > 0 && dy > 0 && dx * dx + dy * dy > radius * radius) {
        picture.alpha[y * width + x] = 0;
        picture.data.set(under, (y * width + x) * 3);
      }
    }
  }
  return picture;
}

describe('findBorder', () => {
  it('finds a uniform white or black border exactly', async () => {
    const clouds = await content('clouds.jpg', 200, 150);
    for (const colour of [WHITE, BLACK]) {
      const sides = { top: 12, bottom: 7, left: 9, right: 20 };
      const picture = framed(clouds, sides, colour);
      expect(findBorder({ data: picture.data, width: picture.width, height: picture.height }), `${colour}`).toEqual({ left: 9, top: 12, width: 200, height: 150 });
      // The content cut out is the picture, pixel for pixel.
      const cut = cropToBox(picture, findBorder(picture)!);
      expect(Buffer.compare(Buffer.from(cut.data), Buffer.from(clouds.data))).toBe(0);
    }
  });

  it('finds a transparent border by alpha, whatever colours its pixels store', async () => {
    const shapes = await content('shapes.jpg', 160, 120);
    const picture = framed(shapes, { top: 16, bottom: 16, left: 16, right: 16 }, [200, 30, 90], true);
    // Noise in the transparent pixels' colours does not matter: only alpha does.
    for (let p = 0; p < picture.width * picture.height; p++) if (picture.alpha[p] === 0) picture.data[p * 3] = (p * 37) & 255;
    expect(findBorder(picture)).toEqual({ left: 16, top: 16, width: 160, height: 120 });
    // Nearly transparent (alpha up to the tolerance) counts as transparent too.
    for (let p = 0; p < picture.width * 16; p++) picture.alpha[p] = 12;
    expect(findBorder(picture)).toEqual({ left: 16, top: 16, width: 160, height: 120 });
    // Opaque, the same pixels are no border (their colours vary).
    expect(findBorder({ ...picture, alpha: undefined })).toBeUndefined();
  });

  it('finds a border through JPEG noise, within a few pixels of it', async () => {
    const rings = await content('rings.jpg', 240, 180);
    for (const colour of [WHITE, BLACK]) {
      for (const quality of [50, 75, 95]) {
        const box = findBorder(await throughJpeg(framed(rings, { top: 24, bottom: 24, left: 24, right: 24 }, colour), quality));
        expect(box, `${colour} q${quality}`).toBeDefined();
        for (const [edge, expected] of [
          [box!.left, 24],
          [box!.top, 24],
          [box!.left + box!.width, 264],
          [box!.top + box!.height, 204],
        ] as const) {
          // Colour bleeds a pixel (chroma subsampling); at quality 50 ringing reaches into the
          // content's 16-pixel JPEG blocks.
          expect(Math.abs(edge - expected), `${colour} q${quality}`).toBeLessThanOrEqual(quality >= 75 ? 2 : 8);
        }
      }
    }
  });

  it('finds nothing on pictures without a border', async () => {
    for (const name of ['clouds.jpg', 'mosaic.jpg', 'rings.jpg', 'shapes.jpg']) {
      expect(findBorder(await content(name, 320, 240)), name).toBeUndefined();
    }
    // A blank picture: all border, nothing inside.
    expect(findBorder({ data: new Uint8Array(100 * 100 * 3).fill(255), width: 100, height: 100 })).toBeUndefined();
    // Fully transparent: likewise.
    expect(findBorder({ data: new Uint8Array(100 * 100 * 3), alpha: new Uint8Array(100 * 100), width: 100, height: 100 })).toBeUndefined();
  });

  it('finds a border on some sides only, the content touching the others', async () => {
    const mosaic = await content('mosaic.jpg', 200, 150);
    // One side: two corners are border.
    expect(findBorder(framed(mosaic, { top: 40 }, WHITE))).toEqual({ left: 0, top: 40, width: 200, height: 150 });
    expect(findBorder(framed(mosaic, { right: 30 }, BLACK))).toEqual({ left: 0, top: 0, width: 200, height: 150 });
    // Three sides, the content touching the bottom edge.
    expect(findBorder(framed(mosaic, { top: 10, left: 10, right: 10 }, WHITE))).toEqual({ left: 10, top: 10, width: 200, height: 150 });
  });

  it('finds no border too thin to matter (under 2% of the side, or under 2 pixels) or around tiny content', async () => {
    const shapes = await content('shapes.jpg', 300, 200);
    // 5 pixels of 310 wide is 1.6%: no view for it.
    expect(findBorder(framed(shapes, { left: 5 }, WHITE))).toBeUndefined();
    expect(findBorder(framed(shapes, { left: 7 }, WHITE))).toEqual({ left: 7, top: 0, width: 300, height: 200 });
    // A 1-pixel frame around a small picture is under 2 pixels.
    const small = await content('shapes.jpg', 60, 40);
    expect(findBorder(framed(small, { top: 1, bottom: 1, left: 1, right: 1 }, WHITE))).toBeUndefined();
    // Content smaller than MIN_TRIMMED_SIDE: a speck, not a picture.
    const speck = await content('shapes.jpg', MIN_TRIMMED_SIDE - 2, MIN_TRIMMED_SIDE + 10);
    expect(findBorder(framed(speck, { top: 50, bottom: 50, left: 50, right: 50 }, WHITE))).toBeUndefined();
    expect(findBorder({ data: new Uint8Array(20 * 20 * 3), width: 20, height: 20 })).toBeUndefined();
  });

  it('takes a gradient for no border, though its first columns are within the tolerance of the corners', () => {
    const width = 320;
    const height = 240;
    for (const direction of ['horizontal', 'vertical'] as const) {
      for (const [from, to] of [
        [255, 0],
        [0, 255],
        [255, 150],
      ]) {
        const data = new Uint8Array(width * height * 3);
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const t = direction === 'horizontal' ? x / (width - 1) : y / (height - 1);
            data.fill(Math.round(from! + (to! - from!) * t), (y * width + x) * 3, (y * width + x) * 3 + 3);
          }
        }
        expect(findBorder({ data, width, height }), `${direction} ${from}-${to}`).toBeUndefined();
      }
    }
  });

  it('takes a sky or a studio backdrop for no border, though it is flat around its own middle colour', async () => {
    // A landscape: a sky brightening by 14 or 20 levels down to the horizon over the top 40%, a photo
    // below (mosaic.jpg). Too far from the corners' colour to be flat, but flat enough around its mean:
    // it was peeled as a one-sided ring at the horizon.
    const width = 480;
    const height = 360;
    const horizon = 144;
    const below = await content('mosaic.jpg', width, height - horizon);
    for (const [levels, quality] of [
      [14, 90],
      [20, 95],
    ]) {
      const data = new Uint8Array(width * height * 3);
      for (let y = 0; y < horizon; y++) {
        const k = Math.round((levels! * y) / (horizon - 1));
        for (let x = 0; x < width; x++) data.set([150 + k, 190 + k, Math.min(255, 235 + k)], (y * width + x) * 3);
      }
      data.set(below.data, horizon * width * 3);
      expect(findBorderRings(await throughJpeg({ data, width, height }, quality!)), `sky of ${levels} levels, JPEG ${quality}`).toEqual([]);
    }
    // A subject on a studio backdrop darkening by 24 or 30 levels from the middle to the corners.
    const subject = await content('mosaic.jpg', 224, 273);
    for (const falloff of [24, 30]) {
      const data = new Uint8Array(width * height * 3);
      const far = Math.hypot(width / 2, height / 2);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          data.fill(Math.round(210 - falloff * (Math.hypot(x - width / 2, y - height / 2) / far) ** 2), (y * width + x) * 3, (y * width + x) * 3 + 3);
        }
      }
      const [left, top] = [(width - subject.width) >> 1, (height - subject.height) >> 1];
      for (let y = 0; y < subject.height; y++) {
        data.set(subject.data.subarray(y * subject.width * 3, (y + 1) * subject.width * 3), ((top + y) * width + left) * 3);
      }
      expect(findBorderRings(await throughJpeg({ data, width, height }, 90)), `backdrop of ${falloff} levels`).toEqual([]);
    }
  });

  it('takes a studio backdrop of a mild falloff for no border, though centred on its median it is flat to half the limit', async () => {
    // A 480x360 backdrop darkening by 10 or 18 levels from the middle to the corners, with +-2 levels of noise, around
    // mosaic.jpg: not flat around its corners' colour, but flat to half the limit around its median, and it was peeled
    // down to the subject by the retry meant for a mat read on a line of JPEG ringing. It drifts from its outer lines
    // in; such a mat does not.
    const width = 480;
    const height = 360;
    for (const [falloff, base, size, square, quality] of [
      [10, 60, 0.45, false, 50],
      [10, 210, 0.6, false, 50],
      [10, 140, 0.45, true, 95],
      [18, 60, 0.6, true, 50],
      [18, 210, 0.6, true, 70],
    ] as const) {
      const subjectWidth = Math.round(width * size);
      const subject = await content('mosaic.jpg', subjectWidth, square ? subjectWidth : Math.round(height * size));
      let seed = base * 1000 + falloff * 10 + Math.round(size * 100);
      const noise = (): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return Math.floor((seed / 0x80000000) * 5) - 2;
      };
      const data = new Uint8Array(width * height * 3);
      const far = Math.hypot(width / 2, height / 2);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const level = Math.round(base - falloff * (Math.hypot(x - width / 2, y - height / 2) / far) ** 2 + noise());
          data.fill(level, (y * width + x) * 3, (y * width + x) * 3 + 3);
        }
      }
      const [left, top] = [(width - subject.width) >> 1, (height - subject.height) >> 1];
      for (let y = 0; y < subject.height; y++) {
        data.set(subject.data.subarray(y * subject.width * 3, (y + 1) * subject.width * 3), ((top + y) * width + left) * 3);
      }
      const label = `backdrop ${base} - ${falloff} levels, subject ${subject.width}x${subject.height}, JPEG ${quality}`;
      expect(findBorderRings(await throughJpeg({ data, width, height }, quality)), label).toEqual([]);
    }
  });

  it('finds the frame of a low-contrast picture that lies within the first tolerance of it (not taken for a blank)', async () => {
    // Clouds mapped to 235-255, in a white frame: every line is within 20 of white, but not flat.
    const width = 320;
    const height = 240;
    const raw = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).resize(width, height, { fit: 'fill' }).removeAlpha().linear(20 / 255, 235).raw().toBuffer();
    // Thin and wide frames: the wider the frame, the flatter the whole (at 33% a side, flat enough for a blank).
    for (const side of [16, 64, 120]) {
      const picture = framed({ data: new Uint8Array(raw), width, height }, { top: side, bottom: side, left: side, right: side }, WHITE);
      const box = findBorder(picture);
      expect(box, `${side} px frame`).toBeDefined();
      expect(Math.abs(box!.left - side), `${side} px frame`).toBeLessThanOrEqual(2);
      expect(Math.abs(box!.top - side), `${side} px frame`).toBeLessThanOrEqual(2);
      expect(Math.abs(box!.width - width), `${side} px frame`).toBeLessThanOrEqual(4);
      expect(Math.abs(box!.height - height), `${side} px frame`).toBeLessThanOrEqual(4);
    }
    // A truly blank picture is still no border.
    expect(findBorder({ data: new Uint8Array(width * height * 3).fill(250), width, height })).toBeUndefined();
  });

  it('lets a speck in the border through, but not content', async () => {
    const clouds = await content('clouds.jpg', 256, 192);
    const picture = framed(clouds, { top: 32, bottom: 32, left: 32, right: 32 }, WHITE);
    // A dark pixel in the top border, and in two corners (a line may have one in 256): still the border.
    for (const [x, y] of [
      [100, 5],
      [0, 0],
      [picture.width - 1, picture.height - 1],
    ] as const) {
      picture.data.fill(0, (y * picture.width + x) * 3, (y * picture.width + x) * 3 + 3);
    }
    expect(findBorder(picture)).toEqual({ left: 32, top: 32, width: 256, height: 192 });
    // A dark line across the top border is content: the box reaches up to it.
    picture.data.fill(0, 10 * picture.width * 3, 11 * picture.width * 3);
    expect(findBorder(picture)).toEqual({ left: 32, top: 10, width: 256, height: 214 });
  });
  it('peels an outline and the mat inside it, the blend line between them included, down to the picture', async () => {
    const clouds = await content('clouds.jpg', 200, 150);
    for (const outline of [1, 2, 14]) {
      const picture = outlinedMat(clouds, outline);
      const edge = outline + 1 + 24;
      expect(findBorder(picture), `${outline} px outline`).toEqual({ left: edge, top: edge, width: 200, height: 150 });
      const cut = cropToBox(picture, findBorder(picture)!);
      expect(Buffer.compare(Buffer.from(cut.data), Buffer.from(clouds.data)), `${outline} px outline`).toBe(0);
      // Through JPEG too, within a pixel or two.
      const box = findBorder(await throughJpeg(picture, 90));
      expect(box, `${outline} px outline, JPEG`).toBeDefined();
      for (const [got, expected] of [
        [box!.left, edge],
        [box!.top, edge],
        [box!.left + box!.width, edge + 200],
        [box!.top + box!.height, edge + 150],
      ] as const) {
        expect(Math.abs(got - expected), `${outline} px outline, JPEG`).toBeLessThanOrEqual(2);
      }
    }
    // Each ring's box is listed, outermost first, once the rings up to it are deep enough (a 1-pixel outline alone is not).
    expect(findBorderRings(outlinedMat(clouds, 14))).toEqual([
      { left: 14, top: 14, width: 250, height: 200 },
      { left: 39, top: 39, width: 200, height: 150 },
    ]);
    expect(findBorderRings(outlinedMat(clouds, 1))).toEqual([{ left: 26, top: 26, width: 200, height: 150 }]);
  });

  it('peels an outline and mat as a resize and JPEG leave them: ringing past the outline, a 3-line outline, a darker corner, a mat read on a ringing line', async () => {
    const clouds = await content('clouds.jpg', 200, 150);
    // Each profile from the edge in (as read on shrunk, JPEG q70-q95 copies of clouds.jpg in a #333 outline and a white mat), the picture 24 white lines further in.
    for (const lines of [
      // A 4-line outline, JPEG ringing to 30 (more than 20 below #333) and a blend line: the mat was not found.
      [51, 51, 50, 60, 30, 122],
      // A 3-line outline at 20 (the third, JPEG ringing, not flat), a blend line; at 6 only 2 lines of it.
      [50, 56, 35, 130],
      [34, 28, 54, 241],
      // A 1-line outline, then the mat with a line of JPEG ringing where its corners are read (247, not 255).
      [44, 183, 255, 247],
    ]) {
      const picture = profiled(clouds, lines);
      const edge = lines.length + 24;
      expect(findBorder(picture), `${lines}`).toEqual({ left: edge, top: edge, width: 200, height: 150 });
    }
    // The 3-line outlines through JPEG as well (its noise on top of theirs), within two pixels.
    for (const [lines, quality] of [
      [[50, 56, 35, 130], 90],
      [[34, 28, 54, 241], 70],
    ] as const) {
      const box = findBorder(await throughJpeg(profiled(clouds, [...lines]), quality));
      const edge = lines.length + 24;
      expect(box, `${lines}, JPEG ${quality}`).toBeDefined();
      for (const [got, expected] of [
        [box!.left, edge],
        [box!.top, edge],
        [box!.left + box!.width, edge + 200],
        [box!.top + box!.height, edge + 150],
      ] as const) {
        expect(Math.abs(got - expected), `${lines}, JPEG ${quality}`).toBeLessThanOrEqual(2);
      }
    }
    // A half-pixel outline after a 2x shrink: one grey line (153), darker at the corners where two of it meet (101).
    const picture = profiled(clouds, [153]);
    for (const [x, y] of [
      [0, 0],
      [picture.width - 1, 0],
      [0, picture.height - 1],
      [picture.width - 1, picture.height - 1],
    ] as const) {
      picture.data.fill(101, (y * picture.width + x) * 3, (y * picture.width + x) * 3 + 3);
    }
    expect(findBorder(picture)).toEqual({ left: 25, top: 25, width: 200, height: 150 });
  });

  it('peels only rings that run all round: not a flat strip of the picture inside a frame', async () => {
    // A flat blue band across the top of the picture (a sky), in a white frame: the frame only.
    const clouds = await content('clouds.jpg', 200, 150);
    for (let p = 0; p < 200 * 30; p++) clouds.data.set([40, 90, 200], p * 3);
    expect(findBorder(framed(clouds, { top: 20, bottom: 20, left: 20, right: 20 }, WHITE))).toEqual({ left: 20, top: 20, width: 200, height: 150 });
  });

  it('takes transparent pixels in a colour border for border: rounded transparent corners on a mat', async () => {
    const clouds = await content('clouds.jpg', 200, 150);
    for (const under of [WHITE, BLACK]) {
      const picture = roundCorners(framed(clouds, { top: 24, bottom: 24, left: 24, right: 24 }, WHITE), 24, under);
      expect(findBorder(picture), `${under} under the corners`).toEqual({ left: 24, top: 24, width: 200, height: 150 });
      // Inside transparent padding too: the padding, then the card's mat.
      const padded = framed(picture, { top: 30, bottom: 30, left: 30, right: 30 }, BLACK, true);
      for (let y = 0; y < picture.height; y++) padded.alpha.set(picture.alpha.subarray(y * picture.width, (y + 1) * picture.width), (30 + y) * padded.width + 30);
      expect(findBorder(padded), `${under} under the corners, padded`).toEqual({ left: 54, top: 54, width: 200, height: 150 });
    }
    // A partly transparent pixel counts its difference in proportion to its alpha: an anti-aliased edge (alpha 128, 25 off white) is border.
    const edged = roundCorners(framed(clouds, { top: 24, bottom: 24, left: 24, right: 24 }, WHITE), 24, BLACK);
    for (let p = 0; p < edged.width * edged.height; p++) {
      if (edged.alpha[p] !== 0) continue;
      const x = p % edged.width;
      const y = Math.floor(p / edged.width);
      const d = Math.hypot(Math.max(24 - x, x - (edged.width - 25), 0), Math.max(24 - y, y - (edged.height - 25), 0));
      if (d < 26) {
        edged.alpha[p] = 128;
        edged.data.fill(230, p * 3, p * 3 + 3);
      }
    }
    expect(findBorder(edged)).toEqual({ left: 24, top: 24, width: 200, height: 150 });
  });
});
