/**
 * The original nsfwjs model on TensorFlow.js's pure-JS CPU backend: the reference the converted
 * ONNX model is checked against (tests) and timed beside (bench). Dev dependency only.
 */
import * as tf from '@tensorflow/tfjs';
import { loadNsfwjsArtifacts } from './nsfwjs-artifacts.js';

export interface TfjsReference {
  /** Runs a batch of NHWC samples, [n, 224, 224, 3] flattened; returns [n, 5] flattened. */
  predict(batch: Float32Array, n: number): Float32Array;
  dispose(): void;
}

export async function loadTfjsReference(): Promise<TfjsReference> {
  await tf.setBackend('cpu');
  const artifacts = loadNsfwjsArtifacts();
  const weightData = artifacts.weightData.slice().buffer;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: artifacts.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: artifacts.weightSpecs as unknown as tf.io.WeightsManifestEntry[],
      weightData,
    }),
  );
  return {
    predict(batch, n) {
      return tf.tidy(() => (model.predict(tf.tensor4d(batch, [n, 224, 224, 3])) as tf.Tensor).dataSync() as Float32Array).slice();
    },
    dispose: () => model.dispose(),
  };
}
