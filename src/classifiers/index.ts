/**
 * The classifiers of a process: every manifest model opened once (verified, in its own session
 * pool), grouped by task. Signal types, the CLI and benchmarks share one Classifiers object.
 */
import { loadManifest, type LoadedManifest } from './manifest.js';
import { ImageClassifier, UrlClassifier, type PoolOptions } from './model-classifier.js';

export { ImageClassifier, UrlClassifier, type PoolOptions } from './model-classifier.js';
export { loadManifest, defaultModelsDir, readVerifiedModel, modelContentVersion, type ModelEntry, type LoadedManifest } from './manifest.js';
export type { ModelScore } from './model-score.js';
export { urlFeatures, URL_FEATURES_VERSION, URL_FEATURE_DIMENSION } from './url-features.js';

export interface ClassifiersOptions {
  /** models/manifest.json of this package unless given (ABUSE_SCAN_MODELS_MANIFEST in the CLI). */
  manifestPath?: string;
  /** Open only these tasks. Default both. */
  tasks?: ReadonlyArray<'image' | 'url'>;
  /** Session pool settings for image models (see SessionPoolOptions for defaults). */
  imagePool?: PoolOptions;
  /** Session pool settings for URL models. Default one thread, batches of 64. */
  urlPool?: PoolOptions;
}

export interface Classifiers {
  manifest: LoadedManifest;
  image: ImageClassifier[];
  url: UrlClassifier[];
  /** `{ id: version }` of every opened model (version: see modelContentVersion). */
  versions(): Record<string, string>;
  close(): Promise<void>;
}

export async function openClassifiers(options: ClassifiersOptions = {}): Promise<Classifiers> {
  const manifest = await loadManifest(options.manifestPath);
  const tasks = new Set(options.tasks ?? ['image', 'url']);
  const image: ImageClassifier[] = [];
  const url: UrlClassifier[] = [];
  const close = async () => {
    await Promise.all([...image, ...url].map((classifier) => classifier.close()));
  };
  try {
    for (const entry of manifest.models) {
      if (!tasks.has(entry.task)) continue;
      if (entry.task === 'image') image.push(await ImageClassifier.open(manifest, entry, options.imagePool));
      else url.push(await UrlClassifier.open(manifest, entry, options.urlPool));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    manifest,
    image,
    url,
    versions: () => Object.fromEntries([...image, ...url].map((c) => [c.id, c.version])),
    close,
  };
}
