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
import { hammingDistance, hexToHash } from '../../matching/hash-bits.js';
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

/**
 * Blank hashes run both ways (blankBlockhashes: each horizontal quarter band, or each vertical
 * quarter stripe, all 0s or all 1s). With the horizontal ones only, a picture flat in horizontal
 * bands (a two-tone flag, a horizon: 0-32 bits from blank as stored) was 128 bits from blank once
 * turned a quarter, its bands become stripes, and matched a set holding only rings.jpg at 52 bits
 * through rotate90 or rotate270 (a vertically split picture at 52 through 'original', before the
 * variants); rings.jpg itself is 52 bits from vertical stripes.
 */
describe('pictures flat in bands either way match no photo through their turns (real pictures)', () => {
  const svg = (body: string) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400">${body}</svg>`);
  const rect = (x: number, y: number, width: number, height: number, fill: string) => `<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="${fill}"/>`;
  const gradient = (x2: number, y2: number) =>
    `<defs><linearGradient id="g" x1="0" y1="0" x2="${x2}" y2="${y2}"><stop offset="0" stop-color="#f0f0f0"/><stop offset="1" stop-color="#909090"/></linearGradient></defs><rect width="600" height="400" fill="url(#g)"/>`;
  const pictures: Array<[string, Buffer]> = [
    ['Ukraine (blue over yellow)', svg(rect(0, 0, 600, 200, '#0057b7') + rect(0, 200, 600, 200, '#ffd700'))],
    ['Poland (white over red)', svg(rect(0, 0, 600, 200, '#ffffff') + rect(0, 200, 600, 200, '#dc143c'))],
    ['Indonesia (red over white)', svg(rect(0, 0, 600, 200, '#ce1126') + rect(0, 200, 600, 200, '#ffffff'))],
    ['a horizon (sky over sea)', svg(rect(0, 0, 600, 220, '#87ceeb') + rect(0, 220, 600, 180, '#1e4d7b'))],
    ['split left and right', svg(rect(0, 0, 300, 400, '#006600') + rect(300, 0, 300, 400, '#ff0000'))],
    ['Germany (three bands across)', svg(rect(0, 0, 600, 134, '#000000') + rect(0, 134, 600, 133, '#dd0000') + rect(0, 267, 600, 133, '#ffce00'))],
    ['the Netherlands (three bands across)', svg(rect(0, 0, 600, 134, '#ae1c28') + rect(0, 134, 600, 133, '#ffffff') + rect(0, 267, 600, 133, '#21468b'))],
    ['France (three bands down)', svg(rect(0, 0, 200, 400, '#0055a4') + rect(200, 0, 200, 400, '#ffffff') + rect(400, 0, 200, 400, '#ef4135'))],
    ['fog (light to grey, top to bottom)', svg(gradient(0, 1))],
    ['fog (light to grey, left to right)', svg(gradient(1, 0))],
  ];

  it.each(pictures)('%s (JPEG q85) matches nothing in a set holding rings.jpg, in no view and no variant', async (_name, picture) => {
    const rings = (await scanned(readFileSync(join(FIXTURE_IMAGES, 'rings.jpg')))).frames[0]!.blockhash;
    expect(blockhashBitsFromBlank(rings)).toBe(52);
    const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('bh', [['rings', rings]])] } });
    const subject = await scanned(await sharp(picture).jpeg({ quality: 85 }).toBuffer());
    expect(await type.match(subject, 0)).toEqual([]);
    // Each variant within the threshold of rings.jpg (52 bits, where the bands run across the
    // variant's rows) is no farther from blank than from rings.jpg.
    for (const view of [subject.frames[0]!, ...(subject.frames[0]!.views ?? [])]) {
      for (const hash of view.blockhashDihedral!) {
        if (hammingDistance(hash, rings) <= 64) expect(blockhashBitsFromBlank(hash)).toBeLessThanOrEqual(hammingDistance(hash, rings));
      }
    }
  });

  it('an entry as near vertical stripes as the frame is to it does not match (the entry side looks up the stripes too)', async () => {
    // The entry: a picture split left and right (ff00 every row) with 4 bits decided: 4 from blank.
    const entry = hexToHash('ff00'.repeat(16), 256);
    for (const bit of range(0, 4)) entry[bit >> 3]! ^= 0x80 >> (bit & 7);
    // The frame: 30 more bits (columns 0 and 4 of rows 1-15): 32 from blank (stripe 0 nearest its
    // right half 1s, a gradient stripe), 30 from the entry.
    const frame = Uint8Array.from(entry);
    for (const row of range(1, 15)) for (const column of [0, 4]) frame[(row * 16 + column) >> 3]! ^= 0x80 >> ((row * 16 + column) & 7);
    expect([blockhashBitsFromBlank(entry), blockhashBitsFromBlank(frame), hammingDistance(entry, frame)]).toEqual([4, 32, 30]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('bh', [['stripes', entry]])] } });
    expect(await type.match(subjectOfFrames([{ blockhash: frame, pdq: seededHash(1), pdqQuality: 100 }]), 0)).toEqual([]);
    // Its exact copy does (0 is below 4).
    const [signal] = await type.match(subjectOfFrames([{ blockhash: entry, pdq: seededHash(1), pdqQuality: 100 }]), 0);
    expect(signal?.evidence).toMatchObject({ entryId: 'stripes', distance: 0, bitsFromBlank: 4 });
  });
});

/**
 * A smooth gradient hashes, band by band, to half 0s and half 1s (blockhash splits each quarter
 * band at its median: its darker rows 0, its brighter rows 1): 00000000ffffffff in every band,
 * 128 bits from every flat blank hash. Captions on gradient backgrounds were therefore "photos" to
 * the blank rule and matched one another and an empty gradient: a set holding a flyer (a white
 * caption on a dark-blue to light-blue gradient) blocked a plain gradient, a birthday caption on
 * the same gradient, a caption on a sunset gradient (flipY) and one on a left-to-right gradient
 * (rotate270). The gradient's patterns are blank hashes now (blankBlockhashes), so those captions
 * sit as near blank as captions on black, and the rule keeps them apart.
 */
describe('captions on gradient backgrounds do not match each other (real pictures)', () => {
  /** A 800x600 JPEG (q85) of `text` in white (its baseline at `y`) over a linear gradient from `from` to `to`. */
  async function caption(text: string, from: string, to: string, direction: 'down' | 'right' = 'down', y = 320): Promise<Buffer> {
    const [x2, y2] = direction === 'down' ? [0, 1] : [1, 0];
    const words = text
      ? `<text x="400" y="${y}" font-family="DejaVu Sans" font-weight="bold" font-size="64" fill="#ffffff" text-anchor="middle">${text}</text>`
      : '';
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><defs><linearGradient id="g" x1="0" y1="0" x2="${x2}" y2="${y2}"><stop offset="0" stop-color="${from}"/><stop offset="1" stop-color="${to}"/></linearGradient></defs><rect width="800" height="600" fill="url(#g)"/>${words}</svg>`;
    return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
  }
  // Its caption high up: two captions of one width on one line hash alike on any background (on
  // black too), which the blank rule does not judge.
  const flyer = () => caption('SPRING FLYER 2026', '#0b1a4a', '#8fc3ff', 'down', 180);

  it.each([
    ['a plain gradient (the flyer without its caption)', () => caption('', '#0b1a4a', '#8fc3ff')],
    ['HAPPY BIRTHDAY GRANDMA on the same gradient', () => caption('HAPPY BIRTHDAY GRANDMA', '#0b1a4a', '#8fc3ff')],
    ['Good morning on a sunset gradient', () => caption('Good morning', '#ff7e5f', '#2b1055')],
    ['SALE on a left-to-right gradient', () => caption('SALE', '#0b1a4a', '#8fc3ff', 'right')],
  ])('%s: no signal from a blockhash set holding the flyer', async (_name, picture) => {
    const entry = (await scanned(await flyer())).frames[0]!.blockhash;
    const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('flyers', [['flyer', entry]])] } });
    const subject = await scanned(await picture());
    expect(await type.match(subject, 0)).toEqual([]);
  });

  it('the flyer and its gradient are near blank (as a caption on black is), and the flyer still matches its own copy', async () => {
    const flyerHashes = (await scanned(await flyer())).frames[0]!;
    const plain = (await scanned(await caption('', '#0b1a4a', '#8fc3ff'))).frames[0]!;
    expect(blockhashBitsFromBlank(plain.blockhash)).toBeLessThanOrEqual(8);
    expect(blockhashBitsFromBlank(flyerHashes.blockhash)).toBeLessThan(64);
    const type = new HashSetMatchSignalType({ source: { sets: () => [blockhashSet('flyers', [['flyer', flyerHashes.blockhash]])] } });
    const copy = await scanned(await sharp(await flyer()).jpeg({ quality: 70 }).toBuffer());
    const [signal] = await type.match(copy, 0);
    expect(signal).toMatchObject({ kind: 'blockhash_match', suggests: 'block', evidence: { entryId: 'flyer' } });
  });
});
