/**
 * The model signal types of a pipeline, with the models loaded once per process: every pipeline
 * of the process (several in-process workers, say) shares one set of session pools, closed when
 * the last pipeline using them closes. Settings: the ABUSE_SCAN_MODEL* variables of
 * src/config/config.ts.
 */
import { createImageModelSignalTypes } from '../signals/image-model/index.js';
import type { SignalType } from '../signals/signal-type.js';
import { createUrlModelSignalTypes, type ModelSignalOptions } from '../signals/url-model/index.js';
import type { FleetConfig } from '../config/config.js';
import { openClassifiers, type Classifiers, type ClassifiersOptions } from './index.js';

type ModelConfig = Pick<FleetConfig, 'models' | 'modelsManifest' | 'modelThreads' | 'modelIntraOpThreads' | 'modelMaxBatch' | 'modelSignals'>;

export interface ModelSignals {
  signalTypes: SignalType[];
  /** Release the shared models (add it to the pipeline's resources). */
  resource: { close(): Promise<void> };
}

let shared: { key: string; classifiers: Promise<Classifiers>; users: number } | undefined;

/** The classifier settings of the fleet configuration; undefined when models are off. */
export function classifierOptions(config: ModelConfig): ClassifiersOptions | undefined {
  if (!config.models) return undefined;
  return {
    ...(config.modelsManifest && { manifestPath: config.modelsManifest }),
    imagePool: {
      ...(config.modelThreads && { size: config.modelThreads }),
      ...(config.modelIntraOpThreads && { intraOpThreads: config.modelIntraOpThreads }),
      ...(config.modelMaxBatch && { maxBatch: config.modelMaxBatch }),
    },
  };
}

/** The image-model and url-model signal types, or none when models are off. */
export async function openModelSignals(config: ModelConfig): Promise<ModelSignals | undefined> {
  const options = classifierOptions(config);
  if (!options) return undefined;
  const signalOptions: ModelSignalOptions = { emit: config.modelSignals };
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
      // One type per model when there are several of a kind: a failing model costs only its own signals.
      ...createImageModelSignalTypes(classifiers.image, signalOptions).map((type) => type as SignalType),
      ...createUrlModelSignalTypes(classifiers.url, signalOptions).map((type) => type as SignalType),
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
