import type { ImageClassifier } from '../../classifiers/index.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import type { PartialVersions, SignalType } from '../signal-type.js';

/**
 * `image-model`: runs every image model of the manifest on the pipeline's one decode (the first
 * frame, RGB at working size; each model resizes it to its own input). One signal per model,
 * also when it suggests `allow`, so the verdict records what every model said.
 */
export function createImageModelSignalType(classifiers: readonly ImageClassifier[]): SignalType<ImageSubject> {
  return {
    name: 'image-model',
    accepts: 'image',
    async match(subject: ImageSubject, itemIndex: number): Promise<Signal[]> {
      const frame = subject.decoded.frames[0];
      if (!frame) return [];
      const scores = await Promise.all(classifiers.map((classifier) => classifier.classifyFrame(frame)));
      return scores.map((score) => ({
        source: 'model',
        kind: 'image_model',
        item: itemIndex,
        score: score.abuseScore,
        suggests: score.suggests,
        evidence: { model: score.model, version: score.version, labels: score.labels, abuseScore: score.abuseScore, frame: frame.index },
      }));
    },
    versions(): PartialVersions {
      return { models: Object.fromEntries(classifiers.map((c) => [c.id, c.version])) };
    },
  };
}
