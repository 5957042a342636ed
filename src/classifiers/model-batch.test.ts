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
});
