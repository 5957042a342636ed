import type { ImageClassifier } from '../../classifiers/index.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
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
        evidence: { model: score.model, version: score.version, labels: score.labels, abuseScore: score.abuseScore, frame: frame.index },
      }));
    },
    versions(): PartialVersions {
      return { models: Object.fromEntries(classifiers.map((c) => [c.id, c.version])) };
    },
  };
}

/**
 * The image-model signal types of a pipeline. One model: `image-model`. Several: one type per
 * model, `image-model-<id>`, because the pipeline isolates failures per signal type: a model that
 * cannot run is a partial error naming its type, and the other models' signals still count.
 */
export function createImageModelSignalTypes(classifiers: readonly ImageClassifier[], options: ModelSignalOptions = {}): Array<SignalType<ImageSubject>> {
  if (classifiers.length <= 1) return classifiers.map((classifier) => createImageModelSignalType([classifier], options));
  const taken = new Set<string>();
  return classifiers.map((classifier) => createImageModelSignalType([classifier], options, uniqueName(`image-model-${kebab(classifier.id)}`, taken)));
}

/** A model id (lowercase letters, digits, `.`, `_`, `-`) as the kebab-case a signal type's name is. */
function kebab(id: string): string {
  return id.replace(/[^a-z0-9]+/g, '-').replace(/-$/, '');
}

/** `name`, or `name-2`, `name-3`...: ids that differ only in punctuation must not collide. */
function uniqueName(name: string, taken: Set<string>): string {
  let unique = name;
  for (let n = 2; taken.has(unique); n++) unique = `${name}-${n}`;
  taken.add(unique);
  return unique;
}
