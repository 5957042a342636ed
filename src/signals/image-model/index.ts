import type { ImageClassifier } from '../../classifiers/index.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import { modelSignalTypeNames } from '../model-signal-names.js';
import type { PartialVersions, SignalType } from '../signal-type.js';
import type { ModelSignalOptions } from '../url-model/index.js';

/**
 * `image-model`: runs every image model of the manifest on the pipeline's one decode (the first
 * frame, RGB at working size; each model resizes it to its own input). One signal per model that
 * reaches its review threshold (or per model whatever the score, with `emit: 'all'`).
 */
export function createImageModelSignalType(classifiers: readonly ImageClassifier[], options: ModelSignalOptions = {}, name = 'image-model'): SignalType<ImageSubject> {
  return {
    name,
    accepts: 'image',
    async match(subject: ImageSubject, itemIndex: number): Promise<Signal[]> {
      const frame = subject.decoded.frames[0];
      if (!frame) return [];
      const scores = await Promise.all(classifiers.map((classifier) => classifier.classifyFrame(frame)));
      const fired = options.emit === 'all' ? scores : scores.filter((score) => score.suggests !== 'allow');
      return fired.map((score) => ({
        source: 'model',
        kind: 'image_model',
        item: itemIndex,
        score: score.abuseScore,
        suggests: score.suggests,
        evidence: { model: score.model, version: score.version, labels: score.labels, abuseScore: score.abuseScore, thresholds: score.thresholds, frame: frame.index },
      }));
    },
    versions(): PartialVersions {
      return { models: Object.fromEntries(classifiers.map((c) => [c.id, c.version])) };
    },
  };
}

/**
 * The image-model signal types of a pipeline: `image-model` for one model, `image-model-<id>` for
 * each of several (see modelSignalTypeNames: a failing model costs only its own signals).
 */
export function createImageModelSignalTypes(classifiers: readonly ImageClassifier[], options: ModelSignalOptions = {}): Array<SignalType<ImageSubject>> {
  const names = modelSignalTypeNames('image-model', classifiers.map((classifier) => classifier.id));
  return classifiers.map((classifier, i) => createImageModelSignalType([classifier], options, names[i]));
}
