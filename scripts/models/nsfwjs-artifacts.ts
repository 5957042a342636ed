/**
 * Reads nsfwjs's bundled MobileNetV2 (TFJS layers format) straight from node_modules: the model
 * JSON (Keras topology + weights manifest) and the weight shard, which the package ships as a
 * base64 string inside a CommonJS module. Nothing is fetched.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export const NSFWJS_MODEL = 'mobilenet_v2';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: { dtype: 'uint8' | 'uint16'; min: number; scale: number };
}

export interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: Array<Array<[string, number, number, Record<string, unknown>]>>;
}

export interface NsfwjsArtifacts {
  /** nsfwjs's package version, for provenance. */
  version: string;
  license: string;
  modelTopology: { model_config: { config: { layers: KerasLayer[] } } } & Record<string, unknown>;
  weightSpecs: WeightSpec[];
  /** The shard bytes, still quantized. */
  weightData: Uint8Array;
}

export function loadNsfwjsArtifacts(): NsfwjsArtifacts {
  // nsfwjs's exports map hides package.json: walk up from its entry point instead.
  let root = dirname(require.resolve('nsfwjs'));
  while (!existsSync(join(root, 'package.json')) || !root.endsWith('nsfwjs')) root = dirname(root);
  const packageJsonPath = join(root, 'package.json');
  const pkg = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string; license: string };
  const modelDir = join(root, 'dist', 'models', NSFWJS_MODEL);
  const modelJson = require(join(modelDir, 'model.min.js')) as {
    modelTopology: NsfwjsArtifacts['modelTopology'];
    weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
  };
  const weightSpecs: WeightSpec[] = [];
  const chunks: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) chunks.push(Buffer.from(require(join(modelDir, `${path}.min.js`)) as string, 'base64'));
    weightSpecs.push(...group.weights);
  }
  return { version: pkg.version, license: pkg.license, modelTopology: modelJson.modelTopology, weightSpecs, weightData: new Uint8Array(Buffer.concat(chunks)) };
}

/**
 * Dequantizes every weight the way tfjs-core's io does (`q * scale + min`, stored as float32), so
 * the converted model starts from exactly the values the TFJS original computes with.
 */
export function dequantizeWeights(artifacts: NsfwjsArtifacts): Map<string, { shape: number[]; values: Float32Array }> {
  const weights = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(count);
    const q = spec.quantization;
    if (!q) {
      const bytes = artifacts.weightData.slice(offset, offset + count * 4);
      values.set(new Float32Array(bytes.buffer));
      offset += count * 4;
    } else if (q.dtype === 'uint8') {
      for (let i = 0; i < count; i++) values[i] = artifacts.weightData[offset + i]! * q.scale + q.min;
      offset += count;
    } else {
      const view = new DataView(artifacts.weightData.buffer, artifacts.weightData.byteOffset + offset, count * 2);
      for (let i = 0; i < count; i++) values[i] = view.getUint16(i * 2, true) * q.scale + q.min;
      offset += count * 2;
    }
    weights.set(spec.name, { shape: spec.shape, values });
  }
  if (offset !== artifacts.weightData.byteLength) throw new Error(`weights manifest covers ${offset} of ${artifacts.weightData.byteLength} bytes`);
  return weights;
}
