/**
 * hashFrame's views of a frame as viewers show it (ImageHashOptions.viewerViews, IMAGE_VIEWS):
 * 'upright' for a frame whose EXIF orientation turns it (an attacker stores a known picture turned
 * or mirrored, with the tag that turns it back: the stored pixels, which partners hash, are then
 * far from the picture shown, for blockhash by 44-200 bits), and 'trimmed' (and 'on-white-trimmed',
 * 'on-black-trimmed') for a picture inside a near-uniform border (a 3% white frame moved PDQ 62-86
 * bits). The stored pixels are hashed first, as before; an ordinary photo gets no view.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FIXTURE_IMAGES } from '../../test/harness/hashes.js';
import { hammingDistance } from '../matching/hash-bits.js';
import { decodeImage, hashFrame, hashFrames, hashImage, IMAGE_VIEWS, type ImageHashes, type PictureHashes } from './index.js';

const CLOUDS = join(FIXTURE_IMAGES, 'clouds.jpg');

const views = (hashes: ImageHashes) => hashes.views?.map((view) => view.view);
const viewOf = (hashes: ImageHashes, name: string) => hashes.views!.find((view) => view.view === name)!;

/** The PDQ distance over the picture's dihedral variants (as the matcher reads them), and the blockhash distance. */
function distances(picture: PictureHashes, known: PictureHashes): { pdq: number; blockhash: number } {
  return { pdq: Math.min(...(picture.dihedral ?? [picture.pdq]).map((variant) => hammingDistance(variant, known.pdq))), blockhash: hammingDistance(picture.blockhash, known.blockhash) };
}

/** clouds.jpg stored turned so that `orientation` turns it back: viewers show clouds.jpg. */
async function storedTurned(input: string | Buffer, orientation: 2 | 3 | 4 | 5 | 6 | 7 | 8): Promise<Buffer> {
  // Each as a rotation then a mirror, in two steps (sharp orders operations of one pipeline itself).
  const [angle, mirror] = ({ 2: [0, true], 3: [180, false], 4: [180, true], 5: [90, true], 6: [270, false], 7: [270, true], 8: [90, false] } as const)[orientation];
  const rotated = await sharp(input).rotate(angle).png().toBuffer();
  const turned = mirror ? await sharp(rotated).flop().png().toBuffer() : rotated;
  return sharp(turned).jpeg({ quality: 100 }).withMetadata({ orientation }).toBuffer();
}

describe('hashFrame viewer views', () => {
  it('an ordinary photo, opaque, upright and borderless, gets no view: its hashes are as without views', async () => {
    const decoded = await decodeImage(await sharp(CLOUDS).toBuffer());
    const hashes = hashImage(decoded, { viewerViews: true, dihedral: true });
    expect(hashes.views).toBeUndefined();
    expect(hashes).toEqual(hashImage(decoded, { dihedral: true }));
  });

  it('a frame stored turned with the EXIF tag that turns it back gets an upright view, hashed as the picture shown', async () => {
    const known = hashImage(await decodeImage(await sharp(CLOUDS).jpeg({ quality: 100 }).toBuffer()));
    for (const orientation of [2, 3, 4, 5, 6, 7, 8] as const) {
      const decoded = await decodeImage(await storedTurned(CLOUDS, orientation));
      expect(decoded.frames[0]!.orientation).toBe(orientation);
      const hashes = hashImage(decoded, { viewerViews: true, dihedral: true });
      // The stored pixels first, as partners hash the file (unchanged by the views).
      expect(hashes).toMatchObject(hashImage(decoded, { dihedral: true }));
      expect(distances(hashes, known).blockhash, `${orientation}`).toBeGreaterThan(40);
      expect(views(hashes), `${orientation}`).toEqual(['upright']);
      const upright = distances(viewOf(hashes, 'upright'), known);
      expect(upright.pdq, `${orientation}`).toBeLessThanOrEqual(2);
      expect(upright.blockhash, `${orientation}`).toBeLessThanOrEqual(4);
      // Matched like the stored pixels: with its dihedral variants.
      expect(viewOf(hashes, 'upright').dihedral).toHaveLength(8);
    }
  });

  it('a picture inside a uniform border gets a trimmed view, near the picture; the whole is still hashed as stored', async () => {
    const known = hashImage(await decodeImage(await sharp(CLOUDS).toBuffer()));
    for (const background of ['white', 'black'] as const) {
      const bytes = await sharp(CLOUDS).extend({ top: 32, bottom: 32, left: 32, right: 32, background }).jpeg({ quality: 95 }).toBuffer();
      const hashes = hashImage(await decodeImage(bytes), { viewerViews: true, dihedral: true });
      expect(distances(hashes, known).pdq, background).toBeGreaterThan(31);
      expect(views(hashes), background).toEqual(['trimmed']);
      const trimmed = viewOf(hashes, 'trimmed');
      expect(distances(trimmed, known).pdq, background).toBeLessThanOrEqual(10);
      expect(distances(trimmed, known).blockhash, background).toBeLessThanOrEqual(8);
      // The box, in the working frame's pixels (704x544 shrunk to 512x396): the 32 pixels, shrunk.
      expect(trimmed.box!.left, background).toBeGreaterThanOrEqual(22);
      expect(trimmed.box!.left, background).toBeLessThanOrEqual(25);
    }
  });

  it('a picture in transparent padding is trimmed on its alpha', async () => {
    const known = hashImage(await decodeImage(await sharp(CLOUDS).toBuffer()));
    const padded = await sharp(CLOUDS)
      .ensureAlpha()
      .extend({ top: 64, bottom: 64, left: 64, right: 64, background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .png()
      .toBuffer();
    const hashes = hashImage(await decodeImage(padded), { viewerViews: true, dihedral: true });
    expect(views(hashes)).toEqual(expect.arrayContaining(['on-white', 'on-black', 'trimmed']));
    for (const view of hashes.views!) {
      const { pdq } = distances(view, known);
      if (view.view.endsWith('trimmed')) expect(pdq, view.view).toBeLessThanOrEqual(10);
      else expect(pdq, view.view).toBeGreaterThan(31);
    }
  });

  it('a turned frame with a border gets both: the upright picture, and it trimmed', async () => {
    const known = hashImage(await decodeImage(await sharp(CLOUDS).toBuffer()));
    const framed = await sharp(CLOUDS).extend({ top: 40, bottom: 40, left: 40, right: 40, background: 'white' }).png().toBuffer();
    const hashes = hashImage(await decodeImage(await storedTurned(framed, 6)), { viewerViews: true, dihedral: true });
    expect(views(hashes)).toEqual(['upright', 'trimmed']);
    expect(distances(viewOf(hashes, 'trimmed'), known).pdq).toBeLessThanOrEqual(10);
    expect(distances(viewOf(hashes, 'trimmed'), known).blockhash).toBeLessThanOrEqual(8);
  });

  it('views come in IMAGE_VIEWS order, and every frame of an animation gets its own', async () => {
    const bytes = await sharp(CLOUDS).extend({ top: 32, bottom: 32, left: 32, right: 32, background: 'white' }).jpeg({ quality: 95 }).toBuffer();
    const decoded = await decodeImage(await storedTurned(bytes, 3));
    // Two copies of the one decoded frame stand for an animation's frames.
    const hashed = hashFrames({ ...decoded, frames: [decoded.frames[0]!, { ...decoded.frames[0]!, index: 5 }] }, { viewerViews: true });
    expect(hashed.map(views)).toEqual([
      ['upright', 'trimmed'],
      ['upright', 'trimmed'],
    ]);
    expect(hashFrame(decoded.frames[0]!, { viewerViews: true })).toEqual(hashed[0]);
    for (const frame of hashed) {
      const order = frame.views!.map((view) => IMAGE_VIEWS.indexOf(view.view));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });
});
