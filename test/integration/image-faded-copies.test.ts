/**
 * A known picture faded or dimmed keeps its PDQ bits but not its PDQ quality (the absolute sum of
 * its luminance gradients): clouds.jpg at contrast 0.3 (sharp linear(0.3, 128 * 0.7)) is 2 bits
 * of PDQ from clouds.jpg at quality 29, dimmed to 0.35 (linear(0.35, 0)) 4 bits at quality 37,
 * both under the quality floor (50), so they were matched against no PDQ set and allowed. The
 * frame is now also hashed contrast-stretched (view 'stretched', src/images/contrast.ts): quality
 * 100, 2 and 6 bits from clouds.jpg. Through the real pipeline (decode, hashes, the
 * ABUSE_SCAN_HASHSETS_DIR sets, policy), without Redis, with a PDQ-only set holding clouds.jpg's
 * hash as `abuse-scan hash --json` prints it; an unrelated picture is still allowed.
 *
 * A faded copy in a frame (15 pixels of white, black or grey, JPEG q90; 64 pixels of transparent
 * padding, PNG) was still allowed: its stored pixels carry the frame's edge (PDQ 64-134 bits
 * away), its trimmed view is near (4-10 bits) but under the floor (quality 28-36), and the whole
 * frame stretched keeps the frame in its range and its hash. A trimmed view under quality 100 is
 * now stretched too (view 'stretched' with the trimmed view's box).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { writtenHashSetScan } from '../harness/demo-hashset-scan.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const CLOUDS = join(FIXTURE_IMAGES, 'clouds.jpg');

describe('a known picture faded or dimmed under the PDQ quality floor is matched contrast-stretched', () => {
  const scanAs = writtenHashSetScan(async (dir) => {
    const clouds = hashImage(await decodeImage(readFileSync(CLOUDS)));
    writeFileSync(join(dir, 'partner.pdq.csv'), `hash,label,id\n${hashToHex(clouds.pdq)},partner: clouds,clouds\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`faded-copies-${scans++}`, bytes);

  it.each([
    ['faded to contrast 0.3', (image: Sharp) => image.linear(0.3, 128 * 0.7)],
    ['dimmed to 0.35', (image: Sharp) => image.linear(0.35, 0)],
  ])('clouds.jpg %s: under the floor as stored, blocked on its stretched view', async (_, fade) => {
    const bytes = await fade(sharp(CLOUDS)).jpeg({ quality: 90 }).toBuffer();
    // As stored, too flat for the floor (what was allowed).
    expect(hashImage(await decodeImage(bytes)).pdqQuality).toBeLessThan(50);
    const verdict = await scan(bytes);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ views: ['stretched'] });
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match');
    expect(pdq?.evidence).toMatchObject({ set: 'partner', entryId: 'clouds', view: 'stretched', frame: 0, variant: 'original' });
    // The whole frame stretched: no box.
    expect(pdq!.evidence).not.toHaveProperty('box');
    expect(pdq!.evidence.distance as number).toBeLessThanOrEqual(8);
  });

  const faded = (file: string) => sharp(file).linear(0.3, 128 * 0.7).png().toBuffer();
  const frame = (size: number, background: string | { r: number; g: number; b: number; alpha?: number }) => ({ top: size, bottom: size, left: size, right: size, background });
  const framings: Array<[string, (picture: Buffer) => Promise<Buffer>]> = [
    ['15 pixels of white, JPEG q90', (picture) => sharp(picture).extend(frame(15, 'white')).jpeg({ quality: 90 }).toBuffer()],
    ['15 pixels of black, JPEG q90', (picture) => sharp(picture).extend(frame(15, 'black')).jpeg({ quality: 90 }).toBuffer()],
    ['15 pixels of grey 128, JPEG q90', (picture) => sharp(picture).extend(frame(15, { r: 128, g: 128, b: 128 })).jpeg({ quality: 90 }).toBuffer()],
    ['64 pixels of transparent padding, PNG', (picture) => sharp(picture).ensureAlpha().extend(frame(64, { r: 0, g: 0, b: 0, alpha: 0 })).png().toBuffer()],
  ];

  it.each(framings)('clouds.jpg faded to contrast 0.3 in a frame of %s: blocked on its trimmed view stretched', async (_, framed) => {
    const bytes = await framed(await faded(CLOUDS));
    // Trimmed, near but under the floor (what was allowed).
    const decoded = await decodeImage(bytes);
    const views = hashImage(decoded, { viewerViews: true }).views ?? [];
    const trimmed = views.find((view) => view.view === 'trimmed')!;
    expect(trimmed.pdqQuality).toBeLessThan(50);
    const verdict = await scan(bytes);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ views: expect.arrayContaining(['trimmed', 'stretched']) });
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match');
    expect(pdq?.evidence).toMatchObject({ set: 'partner', entryId: 'clouds', view: 'stretched', frame: 0, variant: 'original' });
    // The trimmed view's box, stretched: in the image's upright pixels, as `hash --views` prints it.
    const x = decoded.width / decoded.frames[0]!.width;
    const y = decoded.height / decoded.frames[0]!.height;
    const box = trimmed.box!;
    expect(pdq!.evidence.box).toEqual({ left: Math.round(box.left * x), top: Math.round(box.top * y), width: Math.round(box.width * x), height: Math.round(box.height * y) });
    expect(pdq!.evidence.distance as number).toBeLessThanOrEqual(12);
  });

  it.each(framings)('rings.jpg faded in a frame of %s is allowed', async (_, framed) => {
    const verdict = await scan(await framed(await faded(join(FIXTURE_IMAGES, 'rings.jpg'))));
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });

  it('an unrelated picture (rings.jpg) is still allowed', async () => {
    const verdict = await scan(readFileSync(join(FIXTURE_IMAGES, 'rings.jpg')));
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });

  it('rings.jpg faded too is allowed: stretched, it is itself, not clouds.jpg', async () => {
    const verdict = await scan(await sharp(join(FIXTURE_IMAGES, 'rings.jpg')).linear(0.15, 128 * 0.85).jpeg({ quality: 90 }).toBuffer());
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });
});
