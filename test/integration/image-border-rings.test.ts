/**
 * A known picture in a frame of more than one ring, or on a card with rounded transparent corners,
 * must still be matched trimmed, through the real pipeline (decode, hashes, a PDQ hash set written
 * at test time, policy), without Redis:
 * - a dark outline (#333, 1 to 14 pixels) around a 32-pixel white mat around clouds.jpg (a stock
 *   frame effect): the outline alone was under the 2% minimum, or the blend line a resize leaves
 *   between outline and mat stopped the trim; PDQ 104-128 from clouds.jpg, allowed. Both rings are
 *   now peeled: blocked on the 'trimmed' view.
 * - the white-matted clouds.jpg with 24-pixel rounded transparent corners (white or black RGB under
 *   them): too little transparency for an on-white view, and the transparent corners hid the opaque
 *   mat; PDQ 102-106, allowed. Transparent pixels now count as part of the mat: blocked trimmed.
 * - the outlined mat resized (x0.5-1.4) and through JPEG q95 or q70, and so a frame of three rings (#222 outline,
 *   white mat, #888 inner line): JPEG ringing past the outline, outlines 3 lines deep and mats read
 *   on a ringing line stopped the trim (PDQ 100-122); now blocked trimmed, within 16 bits.
 * rings.jpg, not in the set, is still allowed.
 * A frame of several rings has a trimmed view per ring: the match names the one it is on by its
 * `box`, the box `abuse-scan hash --views` prints for that view (whose PDQ is at the distance).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hammingDistance, hashToHex, hexToHash } from '../../src/matching/hash-bits.js';
import { OFFLINE_CLI_ENV, runNode } from '../harness/cli.js';
import { writtenHashSetScan } from '../harness/demo-hashset-scan.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const CLOUDS = join(FIXTURE_IMAGES, 'clouds.jpg');
const MAT = { top: 32, bottom: 32, left: 32, right: 32, background: 'white' } as const;

/** clouds.jpg in a 32-pixel white mat and an `outline`-pixel #333 outline, resized by `scale`, JPEG `quality`. */
async function outlinedMat(outline: number, scale = 1, quality = 95): Promise<Buffer> {
  const matted = await sharp(CLOUDS).extend(MAT).png().toBuffer();
  const framed = await sharp(matted).extend({ top: outline, bottom: outline, left: outline, right: outline, background: '#333333' }).png().toBuffer();
  return sharp(framed)
    .resize(Math.round((640 + 64 + 2 * outline) * scale))
    .jpeg({ quality })
    .toBuffer();
}

/** clouds.jpg in a 2-pixel #888 line, a 24-pixel white mat and a 4-pixel #222 outline, resized by `scale`, JPEG `quality`. */
async function threeRings(scale: number, quality: number): Promise<Buffer> {
  const ring = (n: number, background: string) => ({ top: n, bottom: n, left: n, right: n, background });
  const lined = await sharp(CLOUDS).extend(ring(2, '#888888')).png().toBuffer();
  const matted = await sharp(lined).extend(ring(24, 'white')).png().toBuffer();
  const outlined = await sharp(matted).extend(ring(4, '#222222')).png().toBuffer();
  return sharp(outlined)
    .resize(Math.round((640 + 60) * scale))
    .jpeg({ quality })
    .toBuffer();
}

/** clouds.jpg in a 32-pixel white mat, its corners rounded (24 pixels) to full transparency over `under` RGB, PNG. */
async function roundedCard(under: number): Promise<Buffer> {
  const { data, info } = await sharp(CLOUDS).extend(MAT).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const radius = 24;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = Math.max(radius - x, x - (width - 1 - radius), 0);
      const dy = Math.max(radius - y, y - (height - 1 - radius), 0);
      if (dx > 0 && dy > 0 && dx * dx + dy * dy > radius * radius) data.fill(under, (y * width + x) * 4, (y * width + x) * 4 + 3).fill(0, (y * width + x) * 4 + 3, (y * width + x) * 4 + 4);
    }
  }
  return sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

describe('a picture in an outline and a mat, or on a card with rounded transparent corners, is matched trimmed', () => {
  const scanAs = writtenHashSetScan(async (dir) => {
    const clouds = hashImage(await decodeImage(readFileSync(CLOUDS)));
    writeFileSync(join(dir, 'partner.pdq.csv'), `hash,label,id\n${hashToHex(clouds.pdq)},partner: clouds,clouds\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`border-rings-${scans++}`, bytes);

  const blockedTrimmed = async (bytes: Buffer, label: string, most = 10): Promise<void> => {
    const verdict = await scan(bytes);
    expect(verdict.decision, label).toBe('block');
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match');
    expect(pdq?.evidence, label).toMatchObject({ set: 'partner', entryId: 'clouds', view: 'trimmed', frame: 0 });
    expect(pdq!.evidence.distance as number, label).toBeLessThanOrEqual(most);
    // Which ring's trimmed view: its box.
    expect(pdq!.evidence.box, label).toEqual({ left: expect.any(Number), top: expect.any(Number), width: expect.any(Number), height: expect.any(Number) });
  };

  for (const outline of [1, 2, 14]) {
    it(`a ${outline}-pixel dark outline around a white mat: blocked by PDQ on the trimmed view`, async () => {
      await blockedTrimmed(await outlinedMat(outline), `${outline} px outline`);
    });
  }

  // Resized and through JPEG, as shared (PDQ 100-122 before: not trimmed; now 4-14): JPEG ringing
  // past the outline, an outline 3 lines deep, a half-pixel outline darker at its corners, the mat's
  // corners read on a line of ringing.
  for (const [outline, scale, quality] of [
    [1, 0.5, 95],
    [2, 0.8, 95],
    [5, 0.9, 70],
    [8, 0.8, 70],
  ] as const) {
    it(`a ${outline}-pixel outline around a white mat, resized x${scale}, JPEG ${quality}: blocked by PDQ on the trimmed view`, async () => {
      await blockedTrimmed(await outlinedMat(outline, scale, quality), `${outline} px outline x${scale} q${quality}`, 16);
    });
  }
  for (const [scale, quality] of [
    [0.6, 95],
    [0.95, 95],
    [0.8, 70],
    [1.05, 70],
  ] as const) {
    it(`three rings (outline, mat, inner line), resized x${scale}, JPEG ${quality}: blocked by PDQ on the trimmed view`, async () => {
      await blockedTrimmed(await threeRings(scale, quality), `three rings x${scale} q${quality}`, 16);
    });
  }

  for (const under of [255, 0]) {
    it(`rounded transparent corners (RGB ${under} under them) on a white mat: blocked by PDQ on the trimmed view`, async () => {
      await blockedTrimmed(await roundedCard(under), `RGB ${under} under the corners`);
    });
  }

  it("names the ring's trimmed view it matched by its box, as `abuse-scan hash --views` prints it", async () => {
    // A 14-pixel outline around the mat (732x572, hashed at 512x400): a trimmed view inside the
    // outline (PDQ ~104 from clouds.jpg), then one inside the mat, the match.
    const bytes = await outlinedMat(14);
    const verdict = await scan(bytes);
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match')!;
    expect(pdq.evidence).toMatchObject({ view: 'trimmed', variant: 'original' });
    const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-rings-'));
    try {
      const file = join(dir, 'three-rings.jpg');
      writeFileSync(file, bytes);
      const { code, stdout, stderr } = await runNode(['src/cli/main.ts', 'hash', '--json', '--views', file], { env: OFFLINE_CLI_ENV, timeoutMs: 60_000 });
      expect(code, stderr).toBe(0);
      const printed = (JSON.parse(stdout) as { views: Array<{ view: string; box?: unknown; pdq: string }> }).views.filter((viewed) => viewed.view === 'trimmed');
      // More than one trimmed view (a view per ring): the box tells them apart.
      expect(printed.length).toBeGreaterThan(1);
      const matched = printed.filter((viewed) => JSON.stringify(viewed.box) === JSON.stringify(pdq.evidence.box));
      expect(matched, JSON.stringify({ box: pdq.evidence.box, printed: printed.map((viewed) => viewed.box) })).toHaveLength(1);
      const clouds = hashImage(await decodeImage(readFileSync(CLOUDS)));
      expect(hammingDistance(hexToHash(matched[0]!.pdq, 256), clouds.pdq)).toBe(pdq.evidence.distance);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('rings.jpg, not in the set, is still allowed', async () => {
    const verdict = await scan(readFileSync(join(FIXTURE_IMAGES, 'rings.jpg')));
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });
});
