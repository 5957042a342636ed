/**
 * Models whose input or output tensor is not float32 (tiny real ONNX graphs). The pool feeds and
 * reads float32 only: a float16 output (a Cast on the logits) passed every start-up check, and its
 * raw uint16 bit patterns were then read as logits, so every image scored as the softmax of
 * numbers in the thousands.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxGraph } from '../../scripts/models/onnx-graph.js';
import { openClassifiers } from './index.js';

/** onnx TensorProto.DataType values, for Cast's `to`. */
const FLOAT = 1;
const FLOAT16 = 10;

/** An 8x8 NHWC model, labels r/g/b: the channel means as logits, with a float16 input or output. */
function float16Model(where: 'input' | 'output'): Uint8Array {
  const g = new OnnxGraph();
  if (where === 'output') {
    const logits = g.node('ReduceMean', ['input'], { axes: [1, 2], keepdims: 0 });
    g.node('Cast', [logits], { to: FLOAT16 }, 'logits');
  } else {
    const pixels = g.node('Cast', ['input'], { to: FLOAT });
    g.node('ReduceMean', [pixels], { axes: [1, 2], keepdims: 0 }, 'logits');
  }
  return g.encode({
    name: `float16-${where}`,
    input: { name: 'input', shape: ['batch', 8, 8, 3], type: where === 'input' ? 'float16' : 'float32' },
    output: { name: 'logits', shape: ['batch', 3], type: where === 'output' ? 'float16' : 'float32' },
    producer: 'abuse-scan tests',
  });
}

async function manifestOf(id: string, bytes: Uint8Array): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'element-type-'));
  await writeFile(join(dir, `${id}.onnx`), bytes);
  const entry = {
    id,
    version: '1',
    task: 'image',
    file: `${id}.onnx`,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    input: { kind: 'image', name: 'input', width: 8, height: 8, layout: 'NHWC', scale: 1 / 255 },
    // Logits: softmax here. Bit patterns read as logits pass every range check.
    output: { name: 'logits', activation: 'softmax' },
    labels: ['r', 'g', 'b'],
    abuseScore: { kind: 'weighted-sum', weights: { r: 1 } },
    thresholds: { review: 0.5, block: 0.9 },
    provenance: { source: 'test', sourceVersion: '1', license: 'test', build: 'src/classifiers/model-element-type.test.ts' },
  };
  const path = join(dir, 'manifest.json');
  await writeFile(path, JSON.stringify({ schemaVersion: 1, models: [entry] }));
  return path;
}

describe('element type of a model input or output', () => {
  it.each([
    ['output', /model f16-output: the model has an output 'logits' of element type float16, not float32 \(export the model with float32 outputs\); refusing to load it/],
    ['input', /model f16-input: the model has an input 'input' of element type float16, not float32 \(export the model with float32 inputs\); refusing to load it/],
  ] as const)('a float16 %s: refused at load with model_integrity, naming the tensor and its type', async (where, message) => {
    const manifestPath = await manifestOf(`f16-${where}`, float16Model(where));
    await expect(openClassifiers({ manifestPath, tasks: ['image'], imagePool: { size: 1 } })).rejects.toMatchObject({ code: 'model_integrity', message: expect.stringMatching(message) });
  });
});
