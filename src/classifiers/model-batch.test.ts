/** Models whose graph does not take the batches the session pool stacks (tiny real ONNX graphs). */
import { describe, expect, it } from 'vitest';
import { tinyImageModelsManifest } from '../../test/harness/tiny-image-models.js';
import { openClassifiers } from './index.js';

const frame = { data: Buffer.alloc(16 * 16 * 3, 200), width: 16, height: 16 };

describe('batch dimension of an image model', () => {
  it('fixed at 1 (an export without dynamic axes): samples that wait together run one at a time instead of failing as a batch', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'fixed-one', batch: 1 }]);
    const classifiers = await openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1, maxBatch: 8 } });
    try {
      const model = classifiers.image[0]!;
      const outcomes = await Promise.allSettled([1, 2, 3].map(() => model.classifyFrame(frame)));
      expect(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.abuseScore : String(outcome.reason)))).toEqual([0.333333, 0.333333, 0.333333]);
      expect(model.poolStats()).toMatchObject({ maxBatch: 1, largestBatch: 1 });
    } finally {
      await classifiers.close();
    }
  });

  it('fixed at more than 1: refused at load, saying so', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'fixed-four', batch: 4 }]);
    await expect(openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/model fixed-four: the model has a batch dimension fixed at 4 in its input 'input' \(export it dynamic, or fixed at 1\); refusing to load it/),
    });
  });

  it('dynamic but a graph that cannot take two samples: refused at load, not failing every batch later', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'one-only', kind: 'fails-batches' }]);
    await expect(openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/model one-only@1: one sample runs but a batch of 2 fails \(the graph's batch dimension must be dynamic\): .+; refusing to load it/s),
    });
  });

  // Rows used to be cut blindly (output length / batch): these graphs gave one sample another's
  // scores, or fractional rows, in any batch of 2 or more.
  it('emitting [labels, N] (transposed): refused at load, naming the dims', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'transposed', kind: 'transposed' }]);
    await expect(openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/model transposed@1: its output 'probs' has dims \[3, 1\] for one sample, expected \[1, 3\] \(the batch first, then one value per label\); refusing to load it/),
      detail: { model: 'transposed' },
    });
  });

  it('without a batch axis: refused at load', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'flat', kind: 'no-batch-axis' }]);
    await expect(openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/model flat@1: its output 'probs' has dims \[3\] for one sample, expected \[1, 3\]/),
    });
  });

  it('dims right but rows that mix the samples of a batch: refused at load by the batch of two different samples', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'mixer', kind: 'mixes-batch' }]);
    await expect(openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(
        /model mixer@1: in a batch of 2 different samples, sample 1's row of its output 'probs' is \[[-0-9., e]+\] where run alone it is \[0\.3333, 0\.3333, 0\.3333\] \(the output must hold one row per sample, the batch first\); refusing to load it/,
      ),
    });
    // Run one sample at a time, the same graph is right: what is refused is only its batches.
    const single = await openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1, maxBatch: 1 } });
    await single.close();
  });

  it('a good dynamic model batches different samples and answers each its own scores', async () => {
    const manifestPath = await tinyImageModelsManifest([{ id: 'good' }]);
    const classifiers = await openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1, maxBatch: 8 } });
    try {
      const model = classifiers.image[0]!;
      const solid = (r: number, g: number, b: number) => {
        const data = Buffer.alloc(8 * 8 * 3);
        for (let i = 0; i < 64; i++) data.set([r, g, b], i * 3);
        return { data, width: 8, height: 8 };
      };
      const frames = [solid(3, 0, 0), solid(0, 3, 0), solid(0, 0, 3), solid(1, 2, 0)];
      const alone = [];
      for (const f of frames) alone.push(await model.classifyFrame(f));
      const before = model.poolStats();
      const together = await Promise.all(frames.map((f) => model.classifyFrame(f)));
      expect(model.poolStats().runs - before.runs).toBe(1);
      expect(together).toEqual(alone);
      expect(new Set(together.map((score) => JSON.stringify(score.labels))).size).toBe(4);
    } finally {
      await classifiers.close();
    }
  });
});
