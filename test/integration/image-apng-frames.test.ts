/**
 * An animated PNG plays in every browser, but libpng (and so sharp) reads only its default image,
 * the IDAT. Its frames (fcTL + fdAT chunks) are decoded and composited as viewers show them
 * (src/images/apng.ts): a known-bad frame is matched, by its frame number in the animation, even
 * when the default image is benign or is not part of the animation at all. An APNG whose
 * animation chunks are malformed is what the specification says a viewer then shows: its default image.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { apng } from '../../scripts/make-fixtures.js';
import { decodeImage, hashFrames, hashImage } from '../../src/images/index.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';
import { demoHashSetScan } from '../harness/demo-hashset-scan.js';

/** A fixture as a 160x120 8-bit RGB PNG: `clouds` is an entry of fixtures/hashsets, the others are not. */
const frame = (name: string): Promise<Buffer> => sharp(`${FIXTURE_IMAGES}/${name}.jpg`).resize(160, 120, { fit: 'fill' }).removeAlpha().png().toBuffer();

const [rings, shapes, mosaicFree, clouds] = await Promise.all(['rings', 'shapes', 'text-lines', 'clouds'].map(frame));

/** The default image benign and not part of the animation (no fcTL before the IDAT): viewers show only the fdAT frame. */
const hiddenDefault = apng([{ png: clouds! }], { defaultImage: rings! });
/** Two frames looping, the IDAT (benign) frame 0, the bad one frame 1. */
const twoFrames = apng([{ png: rings!, delayMs: 500 }, { png: clouds!, delayMs: 500 }]);
const patch = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();
/**
 * 30 frames of 0 ms but one: the bad image as frame 20, shown 5 s, then 4x4 patches blended over
 * it. Sampled by duration (frame 20 is the longest shown), rendered by replaying the frames before.
 */
const longFrame = apng([
  { png: rings! },
  ...Array.from({ length: 19 }, (_, i) => ({ png: i % 2 ? shapes! : mosaicFree!, delayMs: 0 })),
  { png: clouds!, delayMs: 5000, blend: 1 },
  ...Array.from({ length: 9 }, (_, i) => ({ png: patch, x: 4 * i, y: 0, delayMs: 0, blend: 1 })),
]);

describe('APNG frames', () => {
  const scan = demoHashSetScan();

  it('the decoded frame hashes as the bad image does', async () => {
    const bad = hashImage(await decodeImage(clouds!));
    for (const [file, frames, badFrame] of [
      [hiddenDefault, 1, 0],
      [twoFrames, 2, 1],
    ] as const) {
      const decoded = await decodeImage(file);
      expect(decoded.frameCount).toBe(frames);
      const hashes = hashFrames(decoded);
      expect(Buffer.from(hashes[badFrame]!.pdq).equals(Buffer.from(bad.pdq))).toBe(true);
      expect(Buffer.from(hashes[badFrame]!.blockhash).equals(Buffer.from(bad.blockhash))).toBe(true);
    }
  });

  it('a benign default image not shown by viewers: block, on frame 0 of the animation (1 frame)', async () => {
    const verdict = await scan('apng-hidden-default', hiddenDefault);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 1 });
    const matches = verdict.signals.filter((signal) => signal.source === 'hashset');
    expect(matches.length).toBeGreaterThan(0);
    for (const signal of matches) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 0 });
  });

  it('a two-frame loop whose second frame is bad: block, on frame 1', async () => {
    const verdict = await scan('apng-two-frames', twoFrames);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 2, framesHashed: 2, sampledFrames: [0, 1] });
    for (const signal of verdict.signals.filter((s) => s.source === 'hashset')) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 1 });
  });

  it('a frame shown 5 s among 0 ms frames, past partial frames: sampled and blocked, on its frame number', async () => {
    const verdict = await scan('apng-long-frame', longFrame);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 30, framesHashed: 8 });
    expect((verdict.items[0]!.details as { sampledFrames: number[] }).sampledFrames).toContain(20);
    expect(verdict.signals.filter((s) => s.source === 'hashset').map((s) => (s.evidence as { frame: number }).frame)).toContain(20);
  });

  it('the malformed APNG is its default image: the benign one is allowed, a bad one blocked', async () => {
    const malformed = (file: Buffer): Buffer => {
      const copy = Buffer.from(file);
      copy.writeUInt32BE(5, 33 + 8); // acTL's num_frames (the acTL follows the 25-byte IHDR record); its CRC now wrong
      return copy;
    };
    const benign = await scan('apng-malformed-benign', malformed(hiddenDefault));
    expect(benign.items[0]!.details).toMatchObject({ frameCount: 1 });
    expect(benign.signals.filter((s) => s.source === 'hashset')).toEqual([]);
    const bad = await scan('apng-malformed-bad', malformed(apng([{ png: shapes! }], { defaultImage: clouds! })));
    expect(bad.decision).toBe('block');
  });
});
