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

