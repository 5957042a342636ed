/**
 * An APNG's default image (its IDAT) need not be a frame of the animation (no fcTL before it):
 * APNG viewers then never show it, but every decoder that does not know APNG (libpng, libvips and
 * the thumbnailers on it, many server-side pipelines, older apps) shows exactly it. So it is
 * hashed too, besides the animation's frames: a known-bad picture in the IDAT behind one harmless
 * fdAT frame is matched, its evidence naming frame `frameCount` (one past the animation's last).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { apng } from '../../scripts/make-fixtures.js';
import { decodeImage, hashFrames, hashImage } from '../../src/images/index.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';
import { demoHashSetScan } from '../harness/demo-hashset-scan.js';

/** A fixture as a 160x120 8-bit RGB PNG: `clouds` is an entry of fixtures/hashsets, `rings` is not. */
const frame = (name: string): Promise<Buffer> => sharp(`${FIXTURE_IMAGES}/${name}.jpg`).resize(160, 120, { fit: 'fill' }).removeAlpha().png().toBuffer();
const [rings, clouds] = await Promise.all(['rings', 'clouds'].map(frame));

/** The bad picture as the default image, not part of the animation; one benign fdAT frame. */
const badDefault = apng([{ png: rings! }], { defaultImage: clouds! });

describe('APNG default image not part of the animation', () => {
  const scan = demoHashSetScan();

  it('is decoded after the animation, numbered frameCount, and hashes as the bad image does', async () => {
    const decoded = await decodeImage(badDefault);
    expect(decoded.frameCount).toBe(1);
    expect(decoded.frames.map((f) => [f.index, f.apngDefaultImage ?? false])).toEqual([
      [0, false],
      [1, true],
    ]);
    const bad = hashImage(await decodeImage(clouds!));
    const hashes = hashFrames(decoded);
    expect(Buffer.from(hashes[1]!.pdq).equals(Buffer.from(bad.pdq))).toBe(true);
    expect(Buffer.from(hashes[1]!.blockhash).equals(Buffer.from(bad.blockhash))).toBe(true);
  });

  it('a bad default image behind one benign frame: block, on frame 1 (frameCount 1, 2 frames hashed)', async () => {
    const verdict = await scan('apng-bad-default', badDefault);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 1, framesHashed: 2, apngDefaultImageFrame: 1 });
    const matches = verdict.signals.filter((signal) => signal.source === 'hashset');
    expect(matches.length).toBeGreaterThan(0);
    for (const signal of matches) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 1 });
  });

  it('a benign default image and benign frames: no hash-set match', async () => {
    const verdict = await scan('apng-benign-default', apng([{ png: rings! }], { defaultImage: rings! }));
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toEqual([]);
  });
});
