/**
 * An image can be carried in the alpha channel alone: stored RGB flat black with alpha = 255 -
 * luma shows the image in grey on any white page; stored RGB white with alpha = luma shows it on a
 * black background. The stored RGB then hashes as a blank (PDQ quality 0), so hashFrame, when
 * asked (`viewerViews`), also hashes a frame with alpha as a viewer sees it flattened onto white and
 * onto black, and those views hash as the image shown. The stored hashes stay as they were (parity
 * with the references), and an opaque frame gets no views.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { hammingDistance } from '../matching/hash-bits.js';
import { FIXTURE_IMAGES } from '../../test/harness/hashes.js';
import { flattenOntoBlack, flattenOntoWhite, hasMeaningfulAlpha, MIN_VIEW_TRANSPARENCY } from './alpha.js';
import { decodeImage, hashFrame, hashFrames, hashImage, type ImageHashes } from './index.js';

/** A fixture in grey, as raw 1-channel pixels. */
async function grey(name: string): Promise<{ luma: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(join(FIXTURE_IMAGES, name)).greyscale().raw().toBuffer({ resolveWithObject: true });
  const luma = Buffer.alloc(info.width * info.height);
  for (let p = 0; p < luma.length; p++) luma[p] = data[p * info.channels]!;
  return { luma, width: info.width, height: info.height };
}

/** The picture carried in alpha: flat RGB `rgb`, alpha from the luma (inverted for a white page). */
function alphaCarried(picture: { luma: Buffer; width: number; height: number }, background: 'white' | 'black'): Buffer {
  const rgba = Buffer.alloc(picture.luma.length * 4);
  for (let p = 0; p < picture.luma.length; p++) {
    const luma = picture.luma[p]!;
    if (background === 'black') rgba.fill(255, p * 4, p * 4 + 3);
    rgba[p * 4 + 3] = background === 'white' ? 255 - luma : luma;
  }
  return rgba;
}

const rawPng = (pixels: Buffer, width: number, height: number, channels: 1 | 3 | 4, orientation?: number) => {
  const encoder = sharp(pixels, { raw: { width, height, channels } }).png({ compressionLevel: 1 });
  return (orientation ? encoder.withMetadata({ orientation }) : encoder).toBuffer();
};

const views = (hashes: ImageHashes) => hashes.views?.map((view) => view.view);

describe('hashFrame: views of a frame with alpha', () => {
  it('an image carried in alpha hashes blank as stored, and as the image on the view a viewer sees', async () => {
    const picture = await grey('shapes.jpg');
    const known = hashImage(await decodeImage(await rawPng(picture.luma, picture.width, picture.height, 1)));
    for (const background of ['white', 'black'] as const) {
      const png = await rawPng(alphaCarried(picture, background), picture.width, picture.height, 4);
      const decoded = await decodeImage(png);
      const hashes = hashImage(decoded, { viewerViews: true, dihedral: true });
      // The stored RGB is flat: the hashes partners compute of the file, unchanged.
      expect(hashes.pdqQuality, background).toBe(0);
      expect(hashes).toMatchObject(hashImage(decoded, { dihedral: true }));
      const view = hashes.views!.find((v) => v.view === `on-${background}`)!;
      expect(view.pdqQuality, background).toBeGreaterThanOrEqual(50);
      expect(view.dihedral, background).toHaveLength(8);
      expect(hammingDistance(view.pdq, known.pdq), background).toBeLessThanOrEqual(4);
      expect(hammingDistance(view.blockhash, known.blockhash), background).toBeLessThanOrEqual(4);
      // The view is what sharp's flatten of the file shows (how a trust engineer reproduces a match).
      const flattened = hashImage(await decodeImage(await sharp(png).flatten({ background }).png().toBuffer()));
      expect(hammingDistance(view.pdq, flattened.pdq), background).toBeLessThanOrEqual(2);
      expect(hammingDistance(view.blockhash, flattened.blockhash), background).toBeLessThanOrEqual(2);
    }
  });

  it('without viewerViews, and for opaque frames, hashes as before: no views', async () => {
    const picture = await grey('shapes.jpg');
    const withAlpha = await decodeImage(await rawPng(alphaCarried(picture, 'white'), picture.width, picture.height, 4));
    expect(hashImage(withAlpha).views).toBeUndefined();
    const opaque = await decodeImage(await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).png().toBuffer());
    expect(opaque.frames[0]!.alpha).toBeUndefined();
    expect(hashImage(opaque, { viewerViews: true, dihedral: true })).toEqual(hashImage(opaque, { dihedral: true }));
  });

  it('a frame barely transparent (below MIN_VIEW_TRANSPARENCY, like rounded corners) gets no views', async () => {
    const { data, info } = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const pixels = info.width * info.height;
    // Clear just under 1% of the pixels: the views could move no pixel far enough to carry a picture.
    const cleared = Math.floor(pixels * MIN_VIEW_TRANSPARENCY) - info.width;
    for (let p = 0; p < cleared; p++) data[p * 4 + 3] = 0;
    const decoded = await decodeImage(await rawPng(data, info.width, info.height, 4));
    expect(decoded.frames[0]!.alpha).toBeDefined();
    expect(hasMeaningfulAlpha(decoded.frames[0]!)).toBe(false);
    expect(hashImage(decoded, { viewerViews: true }).views).toBeUndefined();
    // Twice as much: meaningful.
    for (let p = 0; p < 2 * cleared; p++) data[p * 4 + 3] = 0;
    expect(views(hashImage(await decodeImage(await rawPng(data, info.width, info.height, 4)), { viewerViews: true }))).toEqual(['on-white', 'on-black']);
  });

  it('a view hashing as the stored pixels is left out (a sticker whose transparent areas store white)', async () => {
    // Within the working size, so the decode keeps the pixels as they are.
    const { data, info } = await sharp(join(FIXTURE_IMAGES, 'shapes.jpg')).resize(320).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    // Transparent, white, everywhere but a centre square: on white it shows exactly what it stores.
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        if (x > info.width / 4 && x < (3 * info.width) / 4 && y > info.height / 4 && y < (3 * info.height) / 4) continue;
        data.fill(255, (y * info.width + x) * 4, (y * info.width + x) * 4 + 4);
        data[(y * info.width + x) * 4 + 3] = 0;
      }
    }
    const hashes = hashImage(await decodeImage(await rawPng(data, info.width, info.height, 4)), { viewerViews: true });
    // The transparent frame around the square is a border: the square alone is hashed too, once
    // (opaque, it shows alike on white and on black, and as stored).
    expect(views(hashes)).toEqual(['on-black', 'trimmed']);
  });

  it("a turned frame's views on white and on black are of the picture as viewers show it, upright", async () => {
    // Within the working size, so the decode keeps the pixels as they are (no shrink before the turn).
    const { data, info } = await sharp(join(FIXTURE_IMAGES, 'shapes.jpg')).resize(320).greyscale().raw().toBuffer({ resolveWithObject: true });
    const rgba = alphaCarried({ luma: data, width: info.width, height: info.height }, 'white');
    const png = await rawPng(rgba, info.width, info.height, 4);
    const asShown = hashImage(await decodeImage(png), { viewerViews: true });
    expect(views(asShown)).toEqual(['on-white']);
    // Stored turned the other way, with the tag that turns it back: viewers show the same picture.
    for (const [orientation, undo] of [[3, 180], [6, 270], [8, 90]] as const) {
      const turned = await decodeImage(await sharp(png).rotate(undo).withMetadata({ orientation }).png().toBuffer());
      expect(turned.frames[0]!.orientation).toBe(orientation);
      const hashes = hashImage(turned, { viewerViews: true });
      // The stored pixels first, as partners hash the file; then the views, all upright.
      expect(hashes).toMatchObject(hashImage(turned));
      // Its stored RGB is flat black: upright it hashes as stored, so 'upright' is left out.
      expect(views(hashes), `${orientation}`).toEqual(['on-white']);
      const onWhite = hashes.views!.find((view) => view.view === 'on-white')!;
      expect(hammingDistance(onWhite.pdq, asShown.views![0]!.pdq), `${orientation}`).toBe(0);
      expect(hammingDistance(onWhite.blockhash, asShown.views![0]!.blockhash), `${orientation}`).toBe(0);
    }
  });

  it('every frame of an animation gets its own views', async () => {
    const picture = await grey('shapes.jpg');
    const frame = alphaCarried(picture, 'white');
    const decoded = await decodeImage(await rawPng(frame, picture.width, picture.height, 4));
    // Two copies of the one decoded frame stand for an animation's frames.
    const hashed = hashFrames({ ...decoded, frames: [decoded.frames[0]!, { ...decoded.frames[0]!, index: 5 }] }, { viewerViews: true });
    // Black stored RGB with no fully transparent pixel: on black it shows what it stores, left out.
    expect(hashed.map(views)).toEqual([['on-white'], ['on-white']]);
    expect(hashFrame(decoded.frames[0]!, { viewerViews: true })).toEqual(hashed[0]);
  });
});

describe('flattening onto black and white', () => {
  it('composites by alpha with exact rounding, from the alpha-weighted colours when the frame has them', () => {
    const data = Uint8Array.from([200, 0, 0, 0, 0, 200, 0, 200, 0, 17, 99, 254]);
    const alpha = Uint8Array.from([255, 128, 0, 77]);
    const frame = { data, alpha, width: 4, height: 1 };
    const expected = (background: number) => [...data].map((c, i) => Math.round((c * alpha[Math.floor(i / 3)]! + background * (255 - alpha[Math.floor(i / 3)]!)) / 255));
    expect([...flattenOntoBlack(frame).data]).toEqual(expected(0));
    expect([...flattenOntoWhite(frame).data]).toEqual(expected(255));
    // Every colour and alpha: the shift division rounds as Math.round does.
    const all = { data: new Uint8Array(256 * 256 * 3), alpha: new Uint8Array(256 * 256), width: 256, height: 256 };
    for (let a = 0; a < 256; a++) for (let c = 0; c < 256; c++) all.data.fill(c, (a * 256 + c) * 3, (a * 256 + c) * 3 + 3), (all.alpha[a * 256 + c] = a);
    for (const background of [0, 255]) {
      const flat = background === 0 ? flattenOntoBlack(all) : flattenOntoWhite(all);
      let wrong = 0;
      for (let p = 0; p < 256 * 256; p++) if (flat.data[p * 3] !== Math.round((all.data[p * 3]! * all.alpha[p]! + background * (255 - all.alpha[p]!)) / 255)) wrong++;
      expect(wrong, `onto ${background}`).toBe(0);
    }
    const weighted = { ...frame, alphaWeighted: Uint8Array.from([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]) };
    expect([...flattenOntoBlack(weighted).data.slice(3, 6)]).toEqual([10, 10, 10]);
    const opaque = { data, width: 4, height: 1 };
    expect(flattenOntoBlack(opaque)).toBe(opaque);
  });
});
