import { describe, expect, it } from 'vitest';
import { SCENE_DIFFERENCE, type Scene, WEBP_FRAME_WALK_PIXELS, picturesOfScenes, sampleCost, sampleFrameIndices, scenesFromThumbnails, shownMs } from './decode.js';

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
    // The four longest: 13, 37, 61, 62 (5000 - i: earlier is longer); then the other frames shown
    // 1 s or more (63, 88) before any spread; 0 and 99, first and last, always.
    expect(sampled).toEqual([0, 13, 37, 61, 62, 63, 88, 99]);
  });

  it('up to half the sample goes to the longest shown, even when they are under 1 s; the rest spread from first to last', () => {
    const delays = Array.from({ length: 100 }, (_, i) => ([13, 37, 61, 62, 63, 88].includes(i) ? 500 - i : 50));
    const sampled = sampleFrameIndices(100, 100, limits, { delays });
    expect(sampled).toHaveLength(8);
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

describe('sampleFrameIndices: the last frame', () => {
  it('a play-once animation whose last frame fits the budget: the last frame is sampled, the budget thins the spread instead', () => {
    // 300 frames of 512x512 restart from frame 0: 762 frames rendered fit 200 MP; frames 0 and 299 take 301.
    const sampled = sampleFrameIndices(300, 512 * 512, limits);
    expect(sampled[0]).toBe(0);
    expect(sampled.at(-1)).toBe(299);
    expect(sampled.reduce((sum, i) => sum + i + 1, 0) * 512 * 512).toBeLessThanOrEqual(limits.maxAnimationPixels);
    expect(sampled.length).toBeGreaterThan(2);
    // Evenly spread points, not the first frames only.
    expect(sampled.some((i) => i > 100 && i < 299)).toBe(true);
  });

  it('a last frame whose own decode does not fit: the range is cut as before', () => {
    expect(sampleFrameIndices(1000, 4_000_000, limits)).toEqual([0, 1, 3, 4, 6, 7, 9, 10]);
  });
});

describe('sampleFrameIndices: long frames beyond maxFrames (maxLongScenes)', () => {
  it('every frame shown 1 s or more, up to maxLongScenes beyond maxFrames, the longest first', () => {
    // The bad frame 20 held 5000 ms, 7 decoys 5010 ms at 50, 100, ... 350, 20 ms otherwise: 0,
    // 399 and 6 decoys fill maxFrames.
    const decoys = [50, 100, 150, 200, 250, 300, 350];
    const delays = Array.from({ length: 400 }, (_, i) => (i === 20 ? 5000 : decoys.includes(i) ? 5010 : 20));
    expect(sampleFrameIndices(400, 65_536, limits, { delays })).not.toContain(20);
    const sampled = sampleFrameIndices(400, 65_536, { ...limits, maxLongScenes: 16 }, { delays });
    expect(sampled).toEqual([0, 20, ...decoys, 399]);
    // 26 long decoys at 2000 ms and the bad one at 1500 ms: more long frames than the 6 free slots of
    // maxFrames and 16 beyond: the shortest is left out; with 21 beyond, there is room for all 27.
    const many = Array.from({ length: 400 }, (_, i) => (i === 7 ? 1500 : i % 15 === 0 && i > 0 ? 2000 : 20));
    expect(sampleFrameIndices(400, 100, { ...limits, maxLongScenes: 16 }, { delays: many })).not.toContain(7);
    expect(sampleFrameIndices(400, 100, { ...limits, maxLongScenes: 21 }, { delays: many })).toContain(7);
  });

  it('within the budget: long frames that do not fit are left out, the cheaper ones still taken', () => {
    const delays = Array.from({ length: 400 }, (_, i) => ([5, 390].includes(i) ? 3000 : 20));
    // Budget for 0, 399 and 5 (1 + 400 + 6 frames rendered), not 390 as well; frame 1 (2 more) fills a free slot.
    const sampled = sampleFrameIndices(400, 1000, { maxFrames: 8, maxAnimationPixels: 410_000, maxLongScenes: 16 }, { delays });
    expect(sampled).toEqual([0, 1, 5, 399]);
  });
});

describe('scenes', () => {
  const thumbs = (pictures: number[], side = 4): Uint8Array => {
    const out = new Uint8Array(pictures.length * side * side);
    pictures.forEach((picture, frame) => {
      for (let p = 0; p < side * side; p++) out[frame * side * side + p] = (picture * 97 + p * 13) & 255;
    });
    return out;
  };

  it('consecutive frames of nearly the same picture are one scene, shown their summed time', () => {
    const pictures = [0, 0, 1, 1, 1, 0];
    const data = thumbs(pictures);
    // One changed pixel in frame 3 (within SCENE_DIFFERENCE over 16 pixels): still the same scene.
    data[3 * 16 + 5] = (data[3 * 16 + 5]! + SCENE_DIFFERENCE * 10) & 255;
    expect(scenesFromThumbnails(data, 16, 6, [100, 100, 100, 5000, 100, 20])).toEqual([
      { first: 0, last: 1, shownMs: 200 },
      { first: 2, last: 4, shownMs: 5200 },
      { first: 5, last: 5, shownMs: 20 },
    ]);
  });

  it('a slow fade is split: each frame is compared with its scene\'s first frame, not the one before', () => {
    const frames = 20;
    const data = new Uint8Array(frames * 16);
    for (let f = 0; f < frames; f++) data.fill(f * 3, f * 16, f * 16 + 16);
    const scenes = scenesFromThumbnails(data, 16, frames, undefined);
    expect(scenes.length).toBeGreaterThan(5);
    expect(scenes.every((scene) => scene.last - scene.first <= Math.ceil(SCENE_DIFFERENCE / 3))).toBe(true);
  });

  it('a picture held for 5.6 s as 56 frames of 100 ms among 400 frames of 100 ms: its scene is sampled, as its last frame', () => {
    const scenes: Scene[] = [
      { first: 0, last: 0, shownMs: 100 },
      { first: 1, last: 56, shownMs: 5600 },
      { first: 57, last: 399, shownMs: 34_300 },
    ];
    expect(sampleFrameIndices(400, 65_536, limits, { delays: Array(400).fill(100) })).not.toContain(56);
    expect(sampleFrameIndices(400, 65_536, limits, { delays: Array(400).fill(100), scenes })).toEqual([0, 56, 399]);
  });

  it('the spread runs over scenes, not frames', () => {
    // 20 scenes of 20 frames each, all shown alike: 8 of them, each as its last frame.
    const scenes: Scene[] = Array.from({ length: 20 }, (_, i) => ({ first: i * 20, last: i * 20 + 19, shownMs: 2000 }));
    const sampled = sampleFrameIndices(400, 100, { ...limits, maxLongScenes: 0 }, { scenes });
    expect(sampled).toHaveLength(8);
    expect(sampled[0]).toBe(0);
    expect(sampled.slice(1).every((frame) => frame % 20 === 19)).toBe(true);
    expect(sampled.at(-1)).toBe(399);
  });
});

describe('scenes: first and last frames', () => {
  it('one scene: its first and last frames', () => {
    expect(sampleFrameIndices(60, 100, limits, { scenes: [{ first: 0, last: 59, shownMs: 6000 }] })).toEqual([0, 59]);
  });
});

describe('scenes: the budget (review regressions)', () => {
  it('a long scene whose last frame does not fit is decoded as its first frame', () => {
    // 300 512x512 frames, the picture 10 s at frames 100 to 199; what a scene pass of them leaves (121 MP,
    // 462 frames rendered): 0 and 299 take 301, the scene's last frame 200 more, its first 101.
    const scenes: Scene[] = [
      { first: 0, last: 99, shownMs: 10_000 },
      { first: 100, last: 199, shownMs: 10_000 },
      { first: 200, last: 299, shownMs: 10_000 },
    ];
    const budget = { ...limits, maxAnimationPixels: 121_000_000 };
    const sampled = sampleFrameIndices(300, 512 * 512, budget, { scenes });
    expect(sampled).toContain(100);
    expect(sampleCost(sampled, 512 * 512)).toBeLessThanOrEqual(budget.maxAnimationPixels);
  });

  it('frame by frame, a large GIF gets no fewer frames than the 8 of maxFrames while they fit: the spread, then the first frames', () => {
    // 300 512x512 frames: 762 frames rendered fit; 0, 75, 150, 224, 299 take 753.
    const sampled = sampleFrameIndices(300, 512 * 512, limits, { delays: Array(300).fill(10) });
    expect(sampled).toHaveLength(8);
    expect(sampled).toEqual(expect.arrayContaining([0, 75, 150, 224, 299]));
    expect(sampleCost(sampled, 512 * 512)).toBeLessThanOrEqual(limits.maxAnimationPixels);
  });

  it("an animated WebP's decodes are each charged the frames libwebp walks: the sample shrinks to the budget", () => {
    const frameCount = 10_000;
    const delays = Array.from({ length: frameCount }, (_, i) => (i >= frameCount - 24 ? 1500 : 20));
    const decodePixels = frameCount * WEBP_FRAME_WALK_PIXELS;
    const sampling = { delays, decodePixels };
    const sampled = sampleFrameIndices(frameCount, 256, { ...limits, maxLongScenes: 16 }, sampling);
    expect(sampled.length).toBeGreaterThanOrEqual(2);
    expect(sampled.length).toBeLessThanOrEqual(Math.floor(limits.maxAnimationPixels / decodePixels));
    expect(sampleCost(sampled, 256, sampling)).toBeLessThanOrEqual(limits.maxAnimationPixels);
    // A budget below two decodes: one frame, the range cut as without the last frame.
    expect(sampleFrameIndices(frameCount, 256, { ...limits, maxAnimationPixels: decodePixels + 1_000 }, sampling)).toEqual([0]);
  });
});

describe('scenes: pictures', () => {
  const side = 4;
  const picture = (seed: number): Uint8Array => Uint8Array.from({ length: side * side }, (_, p) => (seed * 97 + p * 53) & 255);

  it('two pictures in alternation every 100 ms are two pictures, each shown its scenes summed: both are hashed', () => {
    const frameCount = 197;
    const thumbnails = new Uint8Array(frameCount * side * side);
    for (let f = 0; f < frameCount; f++) thumbnails.set(picture(f % 2), f * side * side);
    const delays = Array(frameCount).fill(100);
    const scenes = picturesOfScenes(thumbnails, side * side, scenesFromThumbnails(thumbnails, side * side, frameCount, delays));
    expect(scenes).toHaveLength(frameCount);
    expect(scenes.every((scene, i) => scene.picture === i % 2)).toBe(true);
    const sampled = sampleFrameIndices(frameCount, 128 * 128, { ...limits, maxLongScenes: 16 }, { delays, scenes });
    // Frame 0 and the last (196) show picture 0; without pictures the even spread lands on even frames only.
    expect(sampleFrameIndices(frameCount, 128 * 128, limits, { delays, scenes: scenes.map(({ picture: _, ...scene }) => scene) }).every((f) => f % 2 === 0)).toBe(true);
    // The spread, then picture 1 (9.8 s in all) as its first scene, frame 1, beyond maxFrames (maxLongScenes).
    expect(sampled).toEqual([0, 1, 28, 56, 84, 112, 140, 168, 196]);
    expect(sampleFrameIndices(frameCount, 128 * 128, { ...limits, maxLongScenes: 0 }, { delays, scenes })).toHaveLength(8);
  });

  it('an alternation after 64 brief decoy pictures is still grouped: the pictures shown most recently are compared', () => {
    const decoys = 64;
    const frameCount = decoys + 200;
    const thumbnails = new Uint8Array(frameCount * side * side);
    // Decoys far apart from each other and from the two alternating pictures (seeds 0 and 1).
    let seed = 1;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) & 255;
    for (let f = 0; f < decoys; f++) thumbnails.set(Uint8Array.from({ length: side * side }, random), f * side * side);
    for (let f = decoys; f < frameCount; f++) thumbnails.set(picture(f % 2), f * side * side);
    const delays = Array(frameCount).fill(100);
    const scenes = picturesOfScenes(thumbnails, side * side, scenesFromThumbnails(thumbnails, side * side, frameCount, delays));
    const alternating = scenes.slice(decoys);
    expect(alternating.every((scene, i) => scene.picture === decoys + (i % 2))).toBe(true);
  });
});
