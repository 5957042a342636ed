import { describe, expect, it } from 'vitest';
import { sampleFrameIndices, shownMs } from './decode.js';

const limits = { maxFrames: 8, maxAnimationPixels: 200_000_000 };

describe('sampleFrameIndices, by how long frames are shown', () => {
  it('a frame shown 10 s among frames of 0 ms is always sampled', () => {
    const delays = [0, 0, 0, 0, 10_000, 0, 0, 0, 0];
    expect(sampleFrameIndices(9, 100, limits)).toEqual([0, 1, 2, 3, 5, 6, 7, 8]);
    const sampled = sampleFrameIndices(9, 100, limits, { delays });
    expect(sampled).toContain(4);
    expect(sampled).toHaveLength(8);
    expect(sampled).toEqual([0, 1, 2, 3, 4, 5, 7, 8]);
  });

  it('up to half the sample goes to the longest shown; the rest spread from first to last', () => {
    const delays = Array.from({ length: 100 }, (_, i) => ([13, 37, 61, 62, 63, 88].includes(i) ? 5000 - i : 50));
    const sampled = sampleFrameIndices(100, 100, limits, { delays });
    expect(sampled).toHaveLength(8);
    // The four longest: 13, 37, 61, 62 (5000 - i: earlier is longer); then 0 and 99 and two between.
    expect(sampled).toEqual(expect.arrayContaining([0, 13, 37, 61, 62, 99]));
    expect(sampled).not.toContain(88);
  });

  it('ties at the cut are spread over the tied frames, not the first ones', () => {
    const delays = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 1000 : 20));
    const sampled = sampleFrameIndices(40, 100, limits, { delays });
    expect(sampled).toHaveLength(8);
    const long = sampled.filter((i) => i % 2 === 0);
    expect(Math.max(...long) - Math.min(...long)).toBeGreaterThan(30);
  });

  it('frames all shown alike long, or within the limit: as before (evenly spread; every frame)', () => {
    expect(sampleFrameIndices(40, 100, limits, { delays: Array(40).fill(100) })).toEqual([0, 6, 11, 17, 22, 28, 33, 39]);
    // 0 to 10 ms are shown as 100 ms by browsers: alike.
    expect(sampleFrameIndices(40, 100, limits, { delays: Array.from({ length: 40 }, (_, i) => (i % 3) * 5) })).toEqual([0, 6, 11, 17, 22, 28, 33, 39]);
    expect(sampleFrameIndices(5, 100, limits, { delays: [0, 0, 9000, 0, 0] })).toEqual([0, 1, 2, 3, 4]);
    expect(shownMs(0)).toBe(100);
    expect(shownMs(10)).toBe(100);
    expect(shownMs(11)).toBe(11);
    expect(shownMs(undefined)).toBe(100);
  });

  it('the long frame is sampled only within the range the budget allows', () => {
    // 4 MP frames, restart cost: the range is cut to 11 frames; frame 500 is out of reach.
    const delays = Array.from({ length: 1000 }, (_, i) => (i === 500 || i === 7 ? 10_000 : 0));
    const sampled = sampleFrameIndices(1000, 4_000_000, limits, { delays });
    expect(sampled).toContain(7);
    expect(Math.max(...sampled)).toBeLessThan(12);
  });

  it("a replayed animation (APNG) counts the frames up to the last sampled, once", () => {
    // 4 MP frames: 50 frames fit the budget when replayed once, 11 when each decode restarts.
    expect(sampleFrameIndices(1000, 4_000_000, limits, { cost: 'replay' }).at(-1)).toBe(49);
    expect(sampleFrameIndices(1000, 4_000_000, limits).at(-1)).toBe(10);
  });

  it('maxFrames of 1: the first frame', () => {
    expect(sampleFrameIndices(9, 100, { ...limits, maxFrames: 1 }, { delays: [0, 0, 9000] })).toEqual([0]);
  });
});
