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
