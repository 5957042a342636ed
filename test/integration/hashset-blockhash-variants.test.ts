/**
 * A plain mirror or a quarter turn (no EXIF tag) of a known-bad picture must be blocked by a
 * blockhash-only hash set, as PDQ sets block them through PDQ's dihedral variants. Blockhash sets
 * compared the hash as computed only: clouds.jpg mirrored was 132 bits of blockhash from its entry,
 * turned a quarter clockwise 144 (the threshold is 64), and both were allowed. The frame's
 * blockhash variants (bit moves of its hash and of its transposed picture's: blockhash-dihedral.ts)
 * now reach the entry at distance 0. Through the real pipeline (decode, hashes, the
 * ABUSE_SCAN_HASHSETS_DIR sets, policy), without Redis.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { writtenHashSetScan } from '../harness/demo-hashset-scan.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const CLOUDS = join(FIXTURE_IMAGES, 'clouds.jpg');

describe('a blockhash-only set blocks mirrored and turned copies', () => {
  const scanAs = writtenHashSetScan(async (dir) => {
    // As a partner's export holds it: the hash of the file as stored.
    const clouds = hashImage(await decodeImage(readFileSync(CLOUDS)));
    writeFileSync(join(dir, 'partner-bh.blockhash.csv'), `hash,label,id\n${hashToHex(clouds.blockhash)},partner: clouds,clouds\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`blockhash-variants-${scans++}`, bytes);

  it.each([
    ['mirrored left-right', 'flipY', () => sharp(CLOUDS).flop().jpeg({ quality: 90 }).toBuffer()],
    ['turned a quarter clockwise', 'rotate90', () => sharp(CLOUDS).rotate(90).jpeg({ quality: 90 }).toBuffer()],
  ])('clouds.jpg %s (no EXIF tag) is blocked through %s', async (_name, variant, copy) => {
    const verdict = await scan(await copy());
    expect(verdict.decision).toBe('block');
    const blockhash = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'blockhash_match');
    expect(blockhash?.evidence).toMatchObject({ set: 'partner-bh', entryId: 'clouds', variant, frame: 0 });
    expect(blockhash?.evidence).not.toHaveProperty('view');
    expect(blockhash!.evidence.distance as number).toBeLessThanOrEqual(1);
  });

  it('rings.jpg (another picture), as it is and mirrored, is still allowed', async () => {
    for (const bytes of [readFileSync(join(FIXTURE_IMAGES, 'rings.jpg')), await sharp(join(FIXTURE_IMAGES, 'rings.jpg')).flop().jpeg({ quality: 90 }).toBuffer()]) {
      const verdict = await scan(bytes);
      expect(verdict.decision).toBe('allow');
      expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
    }
  });
});

/**
 * Pictures flat in bands (two-tone flags, a horizon: 0-32 bits of blockhash from blank as stored)
 * hash to vertical quarter stripes, all 0s or all 1s each, once turned a quarter: blank hashes too
 * (blankBlockhashes holds both orientations). With the horizontal blank hashes only, those turned
 * variants were 128 bits from blank, and a set holding only rings.jpg blocked the Ukrainian flag at
 * 52 bits (rotate90), the Polish flag and a horizon (rotate270), a picture split left and right
 * (original). The turned copies of a photo are still blocked (above, and here with rings.jpg in
 * the set too).
 */
describe('a blockhash set holding rings.jpg allows pictures flat in bands, either way', () => {
  const scanAs = writtenHashSetScan(async (dir) => {
    const lines: string[] = [];
    for (const name of ['rings', 'clouds']) lines.push(`${hashToHex(hashImage(await decodeImage(readFileSync(join(FIXTURE_IMAGES, `${name}.jpg`)))).blockhash)},partner: ${name},${name}`);
    writeFileSync(join(dir, 'partner-rings.blockhash.csv'), `hash,label,id\n${lines.join('\n')}\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`blockhash-flat-bands-${scans++}`, bytes);
  const svg = (body: string) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400">${body}</svg>`);
  const rect = (x: number, y: number, width: number, height: number, fill: string) => `<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="${fill}"/>`;
  const jpeg = (picture: Buffer) => sharp(picture).jpeg({ quality: 85 }).toBuffer();

  it.each([
    ['Ukraine (blue over yellow)', svg(rect(0, 0, 600, 200, '#0057b7') + rect(0, 200, 600, 200, '#ffd700'))],
    ['Poland (white over red)', svg(rect(0, 0, 600, 200, '#ffffff') + rect(0, 200, 600, 200, '#dc143c'))],
    ['Indonesia (red over white)', svg(rect(0, 0, 600, 200, '#ce1126') + rect(0, 200, 600, 200, '#ffffff'))],
    ['a horizon (sky over sea)', svg(rect(0, 0, 600, 220, '#87ceeb') + rect(0, 220, 600, 180, '#1e4d7b'))],
    ['split left and right', svg(rect(0, 0, 300, 400, '#006600') + rect(300, 0, 300, 400, '#ff0000'))],
  ])('%s (JPEG q85) is allowed', async (_name, picture) => {
    const verdict = await scan(await jpeg(picture));
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });

  it.each([
    ['mirrored left-right', 'flipY', () => sharp(CLOUDS).flop().jpeg({ quality: 90 }).toBuffer()],
    ['turned a quarter clockwise', 'rotate90', () => sharp(CLOUDS).rotate(90).jpeg({ quality: 90 }).toBuffer()],
  ])('clouds.jpg %s is still blocked through %s', async (_name, variant, copy) => {
    const verdict = await scan(await copy());
    expect(verdict.decision).toBe('block');
    const blockhash = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'blockhash_match');
    expect(blockhash?.evidence).toMatchObject({ set: 'partner-rings', entryId: 'clouds', variant, frame: 0 });
    expect(blockhash!.evidence.distance as number).toBeLessThanOrEqual(1);
  });
});


/**
 * Captions on gradient backgrounds: a smooth gradient hashes to half 0s and half 1s in every band
 * (00000000ffffffff repeated), which the blank rule measured as 128 bits from blank, so a set
 * holding a flyer (a white caption on a dark-blue to light-blue gradient) blocked a plain gradient,
 * another caption on it, a caption on a sunset gradient (through flipY) and one on a left-to-right
 * gradient (rotate270). A gradient's band patterns are blank hashes now (blankBlockhashes):
 * captions on gradients are as near blank as captions on black. Mirrored and turned copies of a
 * photo in the set are still blocked.
 */
describe('a blockhash set holding a flyer on a gradient allows other captions on gradients', () => {
  /** A 800x600 JPEG (q85) of `text` in white (baseline at `y`) over a linear gradient. */
  const caption = (text: string, from: string, to: string, direction: 'down' | 'right' = 'down', y = 320) => {
    const [x2, y2] = direction === 'down' ? [0, 1] : [1, 0];
    const words = text ? `<text x="400" y="${y}" font-family="DejaVu Sans" font-weight="bold" font-size="64" fill="#ffffff" text-anchor="middle">${text}</text>` : '';
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><defs><linearGradient id="g" x1="0" y1="0" x2="${x2}" y2="${y2}"><stop offset="0" stop-color="${from}"/><stop offset="1" stop-color="${to}"/></linearGradient></defs><rect width="800" height="600" fill="url(#g)"/>${words}</svg>`;
    return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
  };
  const scanAs = writtenHashSetScan(async (dir) => {
    const lines: string[] = [];
    lines.push(`${hashToHex(hashImage(await decodeImage(await caption('SPRING FLYER 2026', '#0b1a4a', '#8fc3ff', 'down', 180))).blockhash)},partner: flyer,flyer`);
    lines.push(`${hashToHex(hashImage(await decodeImage(readFileSync(CLOUDS))).blockhash)},partner: clouds,clouds`);
    writeFileSync(join(dir, 'partner-flyers.blockhash.csv'), `hash,label,id\n${lines.join('\n')}\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`blockhash-gradients-${scans++}`, bytes);

  it.each([
    ['a plain gradient', () => caption('', '#0b1a4a', '#8fc3ff')],
    ['HAPPY BIRTHDAY GRANDMA on the same gradient', () => caption('HAPPY BIRTHDAY GRANDMA', '#0b1a4a', '#8fc3ff')],
    ['Good morning on a sunset gradient', () => caption('Good morning', '#ff7e5f', '#2b1055')],
    ['SALE on a left-to-right gradient', () => caption('SALE', '#0b1a4a', '#8fc3ff', 'right')],
  ])('%s is allowed', async (_name, picture) => {
    const verdict = await scan(await picture());
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });

  it.each([
    ['mirrored left-right', 'flipY', () => sharp(CLOUDS).flop().jpeg({ quality: 90 }).toBuffer()],
    ['turned a quarter clockwise', 'rotate90', () => sharp(CLOUDS).rotate(90).jpeg({ quality: 90 }).toBuffer()],
    ['turned a quarter counter-clockwise', 'rotate270', () => sharp(CLOUDS).rotate(270).jpeg({ quality: 90 }).toBuffer()],
  ])('clouds.jpg %s is still blocked through %s', async (_name, variant, copy) => {
    const verdict = await scan(await copy());
    expect(verdict.decision).toBe('block');
    const blockhash = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'blockhash_match');
    expect(blockhash?.evidence).toMatchObject({ set: 'partner-flyers', entryId: 'clouds', variant, frame: 0 });
    expect(blockhash!.evidence.distance as number).toBeLessThanOrEqual(1);
  });
});
