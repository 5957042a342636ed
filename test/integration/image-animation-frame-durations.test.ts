/**
 * An animation of more frames than are sampled (8) is sampled by how long a viewer shows each
 * frame, not by position alone: a 9-frame GIF or WebP whose frame 4 is shown 10 s and the others
 * flash by was sampled as frames 0-3 and 5-8 and allowed, though a viewer shows frame 4 almost the
 * whole time. The frames shown longest now take up to half the sample.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FIXTURE_IMAGES } from '../harness/hashes.js';
import { demoHashSetScan } from '../harness/demo-hashset-scan.js';

/** 9 frames of unrelated fixtures, frame 4 `clouds` (an entry of fixtures/hashsets) shown 10 s, the others `short` ms. */
async function animation(format: 'gif' | 'webp', short: number, uniform = false): Promise<Buffer> {
  const others = ['rings', 'shapes', 'text-lines', 'mosaic'];
  const frames = await Promise.all(
    Array.from({ length: 9 }, (_, i) => sharp(`${FIXTURE_IMAGES}/${i === 4 ? 'clouds' : others[i % others.length]}.jpg`).resize(160, 120, { fit: 'fill' }).png().toBuffer()),
  );
  const delay = Array.from({ length: 9 }, (_, i) => (i === 4 && !uniform ? 10_000 : short));
  const joined = sharp(frames, { join: { animated: true } });
  return format === 'gif' ? joined.gif({ delay }).toBuffer() : joined.webp({ delay, quality: 90 }).toBuffer();
}

describe('animation frames sampled by how long they are shown', () => {
  const scan = demoHashSetScan();

  it.each([
    ['gif', 0],
    ['webp', 20],
  ] as const)('a %s whose frame 4 holds the screen: frame 4 is hashed, and matched', async (format, short) => {
    const verdict = await scan(`long-frame-${format}`, await animation(format, short));
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 9, framesHashed: 8 });
    expect((verdict.items[0]!.details as { sampledFrames: number[] }).sampledFrames).toContain(4);
    expect(verdict.decision).toBe('block');
    for (const signal of verdict.signals.filter((s) => s.source === 'hashset')) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 4 });
  });

  it('frames all shown alike long: evenly spread, as before', async () => {
    const verdict = await scan('uniform-gif', await animation('gif', 100, true));
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 9, framesHashed: 8, sampledFrames: [0, 1, 2, 3, 5, 6, 7, 8] });
  });
});
