/**
 * The converted ONNX image model against the original nsfwjs TFJS model, on the fixture images:
 * the same 224x224 samples (from the pipeline's decode) go into both; every probability must
 * agree within 1e-4.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClassifiers, type Classifiers } from '../../src/classifiers/index.js';
import { imageSample } from '../../src/classifiers/image-input.js';
import type { ImageInputSpec } from '../../src/classifiers/manifest.js';
import { decodeImage } from '../../src/images/index.js';
import { loadTfjsReference, type TfjsReference } from '../../scripts/models/tfjs-reference.js';
import { REPO_ROOT } from '../harness/fleet.js';

// Four distinct images: TFJS on the pure-JS backend costs 1-2 s of CPU per image.
const FIXTURES = ['clouds.jpg', 'mosaic.jpg', 'shapes.jpg', 'text-lines.jpg'];

describe('ONNX image model vs the original TFJS model', () => {
  let classifiers: Classifiers;
  let reference: TfjsReference;

  beforeAll(async () => {
    classifiers = await openClassifiers({ tasks: ['image'] });
    reference = await loadTfjsReference();
  }, 60_000);

  afterAll(async () => {
    reference?.dispose();
    await classifiers?.close();
  });

  it('agrees within 1e-4 on every fixture image and label', async () => {
    const model = classifiers.image[0]!;
    const spec = model.entry.input as ImageInputSpec;
    const samples: Float32Array[] = [];
    for (const file of FIXTURES) {
      const decoded = await decodeImage(await readFile(join(REPO_ROOT, 'fixtures/images', file)));
      samples.push(imageSample(decoded.frames[0]!, spec));
    }
    const batch = new Float32Array(samples.length * samples[0]!.length);
    samples.forEach((s, i) => batch.set(s, i * s.length));
    const expected = reference.predict(batch, samples.length);
    // Submitted together, so the pool batches them as a worker would.
    const scores = await Promise.all(samples.map((sample) => model.classifySample(sample)));
    let maxDiff = 0;
    scores.forEach((score, i) => {
      model.entry.labels.forEach((label, j) => {
        maxDiff = Math.max(maxDiff, Math.abs(score.labels[label]! - expected[i * 5 + j]!));
      });
    });
    console.log(`ONNX vs TFJS on ${FIXTURES.length} fixture images: max abs difference ${maxDiff.toExponential(2)}`);
    // Labels are rounded to 1e-6 in the score; the bound holds with room to spare.
    expect(maxDiff).toBeLessThan(1e-4);
  }, 120_000);

  it('gives a probability distribution and a documented abuse score', async () => {
    const decoded = await decodeImage(await readFile(join(REPO_ROOT, 'fixtures/images/clouds.jpg')));
    const score = await classifiers.image[0]!.classifyFrame(decoded.frames[0]!);
    const total = Object.values(score.labels).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 4);
    const expected = score.labels.Porn! + score.labels.Hentai! + 0.5 * score.labels.Sexy!;
    expect(score.abuseScore).toBeCloseTo(Math.min(1, expected), 5);
    expect(['allow', 'review', 'block']).toContain(score.suggests);
  });
});
