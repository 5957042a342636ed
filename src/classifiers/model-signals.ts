/**
 * The model signal types of a pipeline, from the environment, with the models loaded once per
 * process: every pipeline of the process (several in-process workers, say) shares one set of
 * session pools, closed when the last pipeline using them closes.
 *
 * | variable | default | meaning |
 * | ABUSE_SCAN_MODELS | `on` | `off` runs no model |
 * | ABUSE_SCAN_MODELS_MANIFEST | models/manifest.json of the package | the model registry |
 * | ABUSE_SCAN_MODEL_THREADS | max(1, cores / 2) | inference threads per image model |
 * | ABUSE_SCAN_MODEL_INTRA_OP_THREADS | max(1, cores / threads) | onnxruntime threads per session |
 * | ABUSE_SCAN_MODEL_MAX_BATCH | `8` | most images stacked into one run |
 * | ABUSE_SCAN_MODEL_SIGNALS | `fired` | `fired`: a signal when a score reaches its review threshold; `all`: every score |
 */
import { createImageModelSignalType } from '../signals/image-model/index.js';
import type { SignalType } from '../signals/signal-type.js';
import { createUrlModelSignalType, type ModelSignalOptions } from '../signals/url-model/index.js';
import { openClassifiers, type Classifiers, type ClassifiersOptions } from './index.js';

export interface ModelSignals {
  signalTypes: SignalType[];
  /** Release the shared models (add it to the pipeline's resources). */
  resource: { close(): Promise<void> };
}

let shared: { key: string; classifiers: Promise<Classifiers>; users: number } | undefined;

/** ABUSE_SCAN_MODEL_SIGNALS. */
export function modelSignalOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ModelSignalOptions {
  const emit = (env.ABUSE_SCAN_MODEL_SIGNALS ?? 'fired').toLowerCase();
  if (emit !== 'fired' && emit !== 'all') throw new Error(`ABUSE_SCAN_MODEL_SIGNALS must be fired or all, got ${emit}`);
  return { emit };
}

export function classifierOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ClassifiersOptions | undefined {
  if ((env.ABUSE_SCAN_MODELS ?? 'on').toLowerCase() === 'off') return undefined;
  const int = (name: string) => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${text}`);
    return value;
  };
  const size = int('ABUSE_SCAN_MODEL_THREADS');
  const intraOpThreads = int('ABUSE_SCAN_MODEL_INTRA_OP_THREADS');
  const maxBatch = int('ABUSE_SCAN_MODEL_MAX_BATCH');
  return {
    ...(env.ABUSE_SCAN_MODELS_MANIFEST && { manifestPath: env.ABUSE_SCAN_MODELS_MANIFEST }),
    imagePool: { ...(size && { size }), ...(intraOpThreads && { intraOpThreads }), ...(maxBatch && { maxBatch }) },
  };
}

/** The image-model and url-model signal types, or none when models are off. */
export async function openModelSignals(
  options: ClassifiersOptions | undefined = classifierOptionsFromEnv(),
  signalOptions: ModelSignalOptions = modelSignalOptionsFromEnv(),
): Promise<ModelSignals | undefined> {
  if (!options) return undefined;
  const key = JSON.stringify(options);
  if (!shared || shared.key !== key) {
    const classifiers = openClassifiers(options);
    shared = { key, classifiers, users: 0 };
    classifiers.catch(() => {
      if (shared?.classifiers === classifiers) shared = undefined;
    });
  }
  const entry = shared;
  const classifiers = await entry.classifiers;
  entry.users++;
  let released = false;
  return {
    signalTypes: [
      ...(classifiers.image.length ? [createImageModelSignalType(classifiers.image, signalOptions) as SignalType] : []),
      ...(classifiers.url.length ? [createUrlModelSignalType(classifiers.url, signalOptions) as SignalType] : []),
    ],
    resource: {
      async close() {
        if (released) return;
        released = true;
        if (--entry.users > 0) return;
        if (shared === entry) shared = undefined;
        await classifiers.close();
      },
    },
  };
}
