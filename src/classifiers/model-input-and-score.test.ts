import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { imageSample, imageSampleDims } from './image-input.js';
import type { ImageInputSpec, ModelEntry } from './manifest.js';
import { scoreOutput, suggestion } from './model-score.js';

const spec = (over: Partial<ImageInputSpec>): ImageInputSpec => ({ kind: 'image', name: 'x', width: 2, height: 2, layout: 'NHWC', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], ...over });

// A 3x3 RGB frame: red grows left to right, green top to bottom, blue constant.
const frame = (() => {
  const data = Buffer.alloc(27);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) data.set([x * 100, y * 100, 30], (y * 3 + x) * 3);
  return { data, width: 3, height: 3 };
})();

describe('image input', () => {
  it('resizes with corners aligned and scales to [0, 1] in NHWC', () => {
    const sample = imageSample(frame, spec({}));
    // 2x2 from 3x3 with aligned corners: the four corner pixels.
    expect(Array.from(sample).map((v) => Math.round(v * 255))).toEqual([0, 0, 30, 200, 0, 30, 0, 200, 30, 200, 200, 30]);
    expect(imageSampleDims(spec({}))).toEqual([2, 2, 3]);
  });

  it('writes planes in NCHW and applies mean and std per channel', () => {
    const sample = imageSample(frame, spec({ layout: 'NCHW', scale: 1, mean: [100, 100, 30], std: [100, 50, 1] }));
    expect(Array.from(sample)).toEqual([-1, 1, -1, 1, -2, -2, 2, 2, 0, 0, 0, 0]);
    expect(imageSampleDims(spec({ layout: 'NCHW' }))).toEqual([3, 2, 2]);
  });

  it('interpolates between pixels when upscaling', () => {
    const sample = imageSample(frame, spec({ width: 5, height: 1, scale: 1 }));
    // One row sampled at y = 0, x = 0, 0.5, 1, 1.5, 2 source pixels.
    expect(Array.from(sample.filter((_, i) => i % 3 === 0))).toEqual([0, 50, 100, 150, 200]);
  });

  it('sees a frame with alpha flattened onto white, as a viewer would (the decode keeps the stored RGB for PDQ)', () => {
    // The 3x3 frame with its corners: top left opaque, top right half transparent, bottom corners fully transparent.
    const alpha = Buffer.from([255, 255, 128, 255, 255, 255, 0, 255, 0]);
    const sample = imageSample({ ...frame, alpha }, spec({ scale: 1 }));
    const onWhite = (value: number, a: number): number => Math.round((value * a + 255 * (255 - a)) / 255);
    expect(Array.from(sample)).toEqual([0, 0, 30, onWhite(200, 128), onWhite(0, 128), onWhite(30, 128), 255, 255, 255, 255, 255, 255]);
  });
});

const entry = (over: Partial<ModelEntry>): ModelEntry =>
  ({
    id: 'm',
    version: '1',
    task: 'image',
    labels: ['safe', 'nsfw', 'racy'],
    output: { name: 'y', activation: 'none' },
    abuseScore: { kind: 'weighted-sum', weights: { nsfw: 1, racy: 0.5 } },
    thresholds: { review: 0.5, block: 0.9 },
    ...over,
  }) as ModelEntry;

describe('model score', () => {
  it('weights label probabilities into the abuse score and suggests by the thresholds', () => {
    const score = scoreOutput(entry({}), Float32Array.from([0.2, 0.4, 0.4]));
    expect(score.labels).toEqual({ safe: 0.2, nsfw: 0.4, racy: 0.4 });
    expect(score.abuseScore).toBeCloseTo(0.6, 6);
    expect(score.suggests).toBe('review');
    expect(suggestion(entry({}), 0.95)).toBe('block');
    expect(suggestion(entry({}), 0.1)).toBe('allow');
  });

  it('a score equal to a threshold takes that threshold\'s decision (thresholds are inclusive, as models/README.md says)', () => {
    const thresholds = entry({ thresholds: { review: 0.5, block: 0.9 } });
    expect(suggestion(thresholds, 0.9)).toBe('block');
    expect(suggestion(thresholds, 0.5)).toBe('review');
    expect(suggestion(thresholds, 0.4999)).toBe('allow');
  });

  it('applies softmax or sigmoid to logits when the manifest says so', () => {
    const soft = scoreOutput(entry({ output: { name: 'y', activation: 'softmax' } }), Float32Array.from([0, 0, 0]));
    expect(soft.labels.safe).toBeCloseTo(1 / 3, 6);
    const sig = scoreOutput(entry({ labels: ['nsfw'], abuseScore: { kind: 'weighted-sum', weights: { nsfw: 1 } }, output: { name: 'y', activation: 'sigmoid' } }), Float32Array.from([0]));
    expect(sig.abuseScore).toBe(0.5);
  });

  it('clamps the abuse score to [0, 1] and refuses a row of the wrong length', () => {
    expect(scoreOutput(entry({ abuseScore: { kind: 'weighted-sum', weights: { nsfw: 3 } } }), Float32Array.from([0, 1, 0])).abuseScore).toBe(1);
    expect(() => scoreOutput(entry({}), Float32Array.from([1, 0]))).toThrow(/2 values for 3 labels/);
    expect(() => scoreOutput(entry({}), Float32Array.from([1, 0]))).toThrow(expect.objectContaining({ name: 'ScanError', code: 'model_output_invalid', detail: { model: 'm' } }));
  });

  // NaN passed Math.min/Math.max and compared below every threshold: a broken output read as 'allow'.
  it.each([
    ['NaN', 'none', [0.2, Number.NaN, 0.4], /model m: output has NaN for label 'nsfw'/],
    ['Infinity', 'none', [0.2, 0.4, Number.POSITIVE_INFINITY], /output has Infinity for label 'racy'/],
    ['-Infinity under softmax', 'softmax', [Number.NEGATIVE_INFINITY, 0, 0], /output has -Infinity for label 'safe'/],
    ['NaN under sigmoid', 'sigmoid', [0, 0, Number.NaN], /output has NaN for label 'racy'/],
    ['a value above 1 with activation none (logits)', 'none', [0.1, 1.5, 0.2], /output has 1\.5 for label 'nsfw', not a probability \(the manifest's activation is 'none'\)/],
    ['a value below 0 with activation none', 'none', [-0.25, 0.5, 0.5], /output has -0\.25 for label 'safe', not a probability/],
  ] as const)('refuses with model_output_invalid (permanent: no retries), never a score, a row with %s', (_case, activation, values, message) => {
    const model = entry({ output: { name: 'y', activation } });
    let thrown: unknown;
    try {
      scoreOutput(model, Float32Array.from(values));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ScanError);
    expect(thrown).toMatchObject({ code: 'model_output_invalid', detail: { model: 'm' }, message: expect.stringMatching(message) });
    // The same input gives the same row: a transient code retried the job 5 times (~15 s) first.
    expect((thrown as ScanError).permanent).toBe(true);
  });

  it('refuses an abuse score that is not finite (weights overflowing)', () => {
    const model = entry({ abuseScore: { kind: 'weighted-sum', weights: { nsfw: 1e308, racy: 1e308 } } });
    expect(() => scoreOutput(model, Float32Array.from([0, 1, 1]))).toThrow(/model m: the abuse score is Infinity/);
  });

  it('takes float rounding just past 0 or 1 with activation none as 0 or 1', () => {
    const score = scoreOutput(entry({}), Float32Array.from([-0.00001, 1.00001, 0]));
    expect(score.labels).toEqual({ safe: 0, nsfw: 1, racy: 0 });
    expect(score.abuseScore).toBe(1);
    expect(score.suggests).toBe('block');
  });
});
