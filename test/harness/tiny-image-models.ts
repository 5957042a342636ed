/**
 * Tiny real ONNX image models (8x8 NHWC, labels r/g/b) built with the project's graph builder, and
 * a manifest listing them: fast to load, and shaped to reproduce what operators' exports get wrong.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxGraph } from '../../scripts/models/onnx-graph.js';

export interface TinyImageModel {
  id: string;
  /** The input's batch dimension: a number is fixed (an export without dynamic axes). Default dynamic. */
  batch?: number;
  /**
   * `fails-on-images`: looks a table row up by the sample's largest value, so the load check's
   * zeros pass and any real image (pixels read unscaled) fails at run time. `fails-batches`: a
   * dynamic batch dimension on a graph that only works for one sample. `transposed`: the
   * probabilities emitted [labels, N] (labels-major) instead of [N, labels]. `no-batch-axis`: one
   * row of 3 for the whole batch (its mean), dims [3]. `mixes-batch`: dims [N, 3] right, but the
   * rows of a batch of 2 or more interleave the samples' values (a transpose reshaped back), so
   * each row matches its own single run only for N = 1. `nan-when-bright`: activation 'none',
   * per channel sqrt(200 - mean) / 20, in [0, 0.71] for channel means up to 200 (zeros, dark
   * images) and NaN above (a white image: pixels are read unscaled).
   */
  kind?: 'mean' | 'fails-on-images' | 'fails-batches' | 'transposed' | 'no-batch-axis' | 'mixes-batch' | 'nan-when-bright';
  thresholds?: { review: number; block: number };
}

const INT64 = 7;

function build(model: TinyImageModel): Uint8Array {
  const g = new OnnxGraph();
  const batch = model.batch ?? 'batch';
  const encode = (outputShape: Array<number | string>) =>
    g.encode({ name: model.id, input: { name: 'input', shape: [batch, 8, 8, 3] }, output: { name: 'probs', shape: outputShape }, producer: 'abuse-scan tests' });
  if (model.kind === 'transposed') {
    const mean = g.node('ReduceMean', ['input'], { axes: [1, 2], keepdims: 0 });
    g.node('Transpose', [g.node('Softmax', [mean], { axis: -1 })], { perm: [1, 0] }, 'probs');
    return encode([3, batch]);
  }
  if (model.kind === 'no-batch-axis') {
    const mean = g.node('ReduceMean', ['input'], { axes: [0, 1, 2], keepdims: 0 });
    g.node('Softmax', [mean], { axis: -1 }, 'probs');
    return encode([3]);
  }
  if (model.kind === 'nan-when-bright') {
    const mean = g.node('ReduceMean', ['input'], { axes: [1, 2], keepdims: 0 });
    const root = g.node('Sqrt', [g.node('Sub', [g.constant('c', [1], [200]), mean])]);
    g.node('Div', [root, g.constant('d', [1], [20])], {}, 'probs');
    return encode([batch, 3]);
  }
  let logits: string;
  if (model.kind === 'fails-on-images') {
    const largest = g.node('ReduceMax', ['input'], { axes: [1, 2, 3], keepdims: 0 });
    const index = g.node('Cast', [largest], { to: INT64 });
    logits = g.node('Gather', [g.constant('table', [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]), index], { axis: 0 });
  } else if (model.kind === 'fails-batches') {
    // [N, 3] -> [3, N] x [1, 1] -> [1, 3]: the product exists only for N = 1.
    const mean = g.node('ReduceMean', ['input'], { axes: [1, 2], keepdims: 0 });
    const product = g.node('MatMul', [g.node('Transpose', [mean], { perm: [1, 0] }), g.constant('one', [1, 1], [1])]);
    logits = g.node('Transpose', [product], { perm: [1, 0] });
  } else if (model.kind === 'mixes-batch') {
    // [N, 3] -> [3, N] -> reshaped [N, 3]: for N = 2 the rows are [r0, r1, g0] and [g1, b0, b1].
    const mean = g.node('ReduceMean', ['input'], { axes: [1, 2], keepdims: 0 });
    const shape = g.node('Cast', [g.constant('shape', [2], [-1, 3])], { to: INT64 });
    logits = g.node('Reshape', [g.node('Transpose', [mean], { perm: [1, 0] }), shape]);
  } else {
    logits = g.node('ReduceMean', ['input'], { axes: [1, 2], keepdims: 0 });
  }
  g.node('Softmax', [logits], { axis: -1 }, 'probs');
  return encode([batch, 3]);
}

/** Writes the models and their manifest to a new temporary directory; returns the manifest's path. */
export async function tinyImageModelsManifest(models: TinyImageModel[], extraEntries: unknown[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiny-models-'));
  const entries = [];
  for (const model of models) {
    const bytes = build(model);
    await writeFile(join(dir, `${model.id}.onnx`), bytes);
    entries.push({
      id: model.id,
      version: '1',
      task: 'image',
      file: `${model.id}.onnx`,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      // Pixels unscaled (0..255): what makes `fails-on-images` fail on real images.
      input: { kind: 'image', name: 'input', width: 8, height: 8, layout: 'NHWC', scale: 1 },
      output: { name: 'probs', activation: 'none' },
      labels: ['r', 'g', 'b'],
      abuseScore: { kind: 'weighted-sum', weights: { r: 1 } },
      thresholds: model.thresholds ?? { review: 0.5, block: 0.9 },
      provenance: { source: 'test', sourceVersion: '1', license: 'test', build: 'test/harness/tiny-image-models.ts' },
    });
  }
  const path = join(dir, 'manifest.json');
  await writeFile(path, JSON.stringify({ schemaVersion: 1, models: [...entries, ...extraEntries] }));
  return path;
}
