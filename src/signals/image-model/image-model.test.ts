/** The image-model signal types over real (tiny) ONNX models: a failing model costs only its own signals. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyImageModelsManifest } from '../../../test/harness/tiny-image-models.js';
import { modelContentVersion, openClassifiers, type Classifiers } from '../../classifiers/index.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import { createImageModelSignalTypes } from './index.js';

const subject = { decoded: { frames: [{ data: new Uint8Array(16 * 16 * 3).fill(200), width: 16, height: 16, index: 0 }] } } as unknown as ImageSubject;

describe('image-model signal types', () => {
  let classifiers: Classifiers;

  beforeAll(async () => {
    const manifestPath = await tinyImageModelsManifest([
      { id: 'tiny-mean', thresholds: { review: 0, block: 1 } },
      { id: 'tiny_fails.v2', kind: 'fails-on-images' },
    ]);
    classifiers = await openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } });
  });

  afterAll(async () => {
    await classifiers?.close();
  });

  it('one model: one type named image-model', () => {
    expect(createImageModelSignalTypes(classifiers.image.slice(0, 1)).map((type) => type.name)).toEqual(['image-model']);
  });

  it('several models: one type per model, so a model that fails takes no other model signal with it', async () => {
    const types = createImageModelSignalTypes(classifiers.image);
    expect(types.map((type) => type.name)).toEqual(['image-model-tiny-mean', 'image-model-tiny-fails-v2']);
    const [mean, failing] = await Promise.allSettled(types.map((type) => type.match(subject, 3)));
    const version = (id: string) => modelContentVersion(classifiers.manifest.models.find((m) => m.id === id)!);
    // The evidence names the thresholds that decided and the same version as versions.models.
    expect(mean).toMatchObject({
      status: 'fulfilled',
      value: [{ source: 'model', kind: 'image_model', item: 3, evidence: { model: 'tiny-mean', version: version('tiny-mean'), thresholds: { review: 0, block: 1 } } }],
    });
    expect(failing).toMatchObject({ status: 'rejected', reason: { code: 'model_failed', message: expect.stringMatching(/^model tiny_fails\.v2: /), detail: { model: 'tiny_fails.v2' } } });
    expect(types.map((type) => type.versions())).toEqual([{ models: { 'tiny-mean': version('tiny-mean') } }, { models: { 'tiny_fails.v2': version('tiny_fails.v2') } }]);
    expect(version('tiny-mean')).toMatch(/^1\+[0-9a-f]{12}$/);
  });
});
