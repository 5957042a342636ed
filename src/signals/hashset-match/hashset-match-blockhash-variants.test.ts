/**
 * Blockhash sets match turned and mirrored copies through the frame's blockhash variants
 * (ImageHashes.blockhashDihedral, DIHEDRAL_VARIANTS order), as PDQ sets do through PDQ's, with the
 * blank rule applied to each variant's own hash. Before, a blockhash set compared the hash as
 * computed only: a plain mirror of clouds.jpg was 132 bits from its entry (an allow).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { resolveHashSetConfig } from '../../hashsets/hash-set-config.js';
import { HashSet } from '../../hashsets/hash-set.js';
import { blockhashBitsFromBlank, decodeImage, DIHEDRAL_VARIANTS, hashFrames, type ImageHashes } from '../../images/index.js';
import { hammingDistance } from '../../matching/hash-bits.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import { FIXTURE_IMAGES, seededHash, subjectOfFrames } from '../../../test/harness/hashes.js';
import { HashSetMatchSignalType } from './index.js';

async function scanned(bytes: Buffer): Promise<ImageSubject> {
  const decoded = await decodeImage(bytes);
  return { decoded, frames: hashFrames(decoded, { dihedral: true, viewerViews: true }) };
}

function blockhashSet(name: string, entries: Array<[string, Uint8Array]>): HashSet {
  const set = new HashSet(resolveHashSetConfig({ name, algorithm: 'blockhash', kind: 'block' }));
  for (const [id, hash] of entries) set.add({ id, hash });
  return set;
}

/** `hash` with the given bits set. */
function withBits(hash: Uint8Array, bits: Iterable<number>): Uint8Array {
  const copy = Uint8Array.from(hash);
  for (const bit of bits) copy[bit >> 3]! |= 0x80 >> (bit & 7);
  return copy;
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('blockhash sets match turned and mirrored copies (real pictures)', () => {
  const copies: Array<[string, (image: Sharp) => Sharp, string]> = [
    ['mirrored left-right', (image) => image.flop(), 'flipY'],
    ['upside down', (image) => image.flip(), 'flipX'],
    ['turned half round', (image) => image.rotate(180), 'rotate180'],
    // A copy turned clockwise matches through its own quarter turn back (as PDQ reports it).
    ['turned a quarter clockwise', (image) => image.rotate(90), 'rotate90'],
    ['turned a quarter counter-clockwise', (image) => image.rotate(270), 'rotate270'],
  ];

  it.each(copies)('clouds.jpg %s: blocked at distance 0 through %s... (PNG of the turned pixels)', async (_name, turn, variant) => {
    const original = await scanned(readFileSync(join(FIXTURE_IMAGES, 'clouds.jpg')));
    const entry = original.frames[0]!.blockhash;
    const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('bh-only', [['clouds', entry]])] } });
    // The pixels as decoded, turned losslessly (the copy re-encoded as PNG).
    const turned = await scanned(await turn(sharp(join(FIXTURE_IMAGES, 'clouds.jpg'))).png().toBuffer());
    // Without the variants the copy is far from the entry (the defect).
    expect(hammingDistance(turned.frames[0]!.blockhash, entry)).toBeGreaterThan(64);
    const [signal, ...rest] = await type.match(turned, 0);
    expect(rest).toEqual([]);
    expect(signal).toMatchObject({ kind: 'blockhash_match', suggests: 'block', evidence: { entryId: 'clouds', variant, frame: 0, matches: 1 } });
    expect(signal!.evidence.distance).toBeLessThanOrEqual(1);
    // The variant's bits from blank (a quarter turn's hash has its own).
    const matched = turned.frames[0]!.blockhashDihedral![DIHEDRAL_VARIANTS.indexOf(variant as (typeof DIHEDRAL_VARIANTS)[number])]!;
    expect(signal!.evidence.bitsFromBlank).toBe(blockhashBitsFromBlank(matched));
  });

  it('another picture (rings.jpg) and its mirror still match nothing', async () => {
    const original = await scanned(readFileSync(join(FIXTURE_IMAGES, 'clouds.jpg')));
    const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('bh-only', [['clouds', original.frames[0]!.blockhash]])] } });
    expect(await type.match(await scanned(readFileSync(join(FIXTURE_IMAGES, 'rings.jpg'))), 0)).toEqual([]);
    expect(await type.match(await scanned(await sharp(join(FIXTURE_IMAGES, 'rings.jpg')).flop().png().toBuffer()), 0)).toEqual([]);
  });
});

describe('blockhash variants and the blank rule (placed hashes)', () => {
  // Band 0 is bits 0-63. A: 3 bits from blank; E (the entry): A and 8 more, 11 from blank;
  // B: E and 9 bits of band 1, 20 from blank. A is 8 from E (not below A's 3: fails the rule),
  // B is 9 from E (below 20 and below 11: passes).
  const blank = new Uint8Array(32);
  const a = withBits(blank, range(0, 3));
  const e = withBits(a, range(3, 8));
  const b = withBits(e, range(64, 9));
  const far = (i: number) => seededHash(50_000 + i);
  const frameOf = (hash: Uint8Array, variants?: Uint8Array[]): ImageSubject => {
    const frame: ImageHashes = { pdq: seededHash(1), pdqQuality: 100, blockhash: hash, ...(variants && { blockhashDihedral: variants }) };
    return subjectOfFrames([frame]);
  };
  const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('bh', [['e', e]])] } });

  it('the hashes are where the test needs them', () => {
    expect([blockhashBitsFromBlank(a), blockhashBitsFromBlank(e), blockhashBitsFromBlank(b)]).toEqual([3, 11, 20]);
    expect([hammingDistance(a, e), hammingDistance(b, e)]).toEqual([8, 9]);
  });

  it('each variant is held to its own bits from blank: a closer variant that fails does not hide a farther one that passes', async () => {
    // Without variants: A alone fails the rule.
    expect(await type.match(frameOf(a), 0)).toEqual([]);
    const variants = [a, far(1), far(2), far(3), b, far(5), far(6), far(7)];
    const [signal] = await type.match(frameOf(a, variants), 0);
    expect(signal?.evidence).toMatchObject({ entryId: 'e', distance: 9, variant: 'flipX', bitsFromBlank: 20, matches: 1 });
  });

  it('a frame blank as computed still matches through a quarter turn that is not blank', async () => {
    const variants = [blank, blank, blank, blank, blank, blank, e, far(7)];
    const [signal] = await type.match(frameOf(blank, variants), 0);
    expect(signal?.evidence).toMatchObject({ entryId: 'e', distance: 0, variant: 'flipPlus1', bitsFromBlank: 11 });
    // Blank in every variant: nothing.
    expect(await type.match(frameOf(blank, Array.from({ length: 8 }, () => blank)), 0)).toEqual([]);
  });

  it('the closest passing variant wins, the earliest on a tie', async () => {
    const [signal] = await type.match(frameOf(far(0), [far(0), e, far(2), e, far(4), far(5), far(6), far(7)]), 0);
    expect(signal?.evidence).toMatchObject({ distance: 0, variant: 'rotate90' });
  });
});
