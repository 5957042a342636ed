/**
 * One manifest model, ready to score: the verified file in a session pool, and the input
 * preparation its task needs (an image frame resized and normalized, or a URL's features).
 */
import { ScanError } from '../errors.js';
import type { DecodedFrame } from '../images/decode.js';
import type { CanonicalUrl } from '../links/canonicalize.js';
import { imageSample, imageSampleDims } from './image-input.js';
import { readVerifiedModel, type ImageInputSpec, type LoadedManifest, type ModelEntry } from './manifest.js';
import { scoreOutput, type ModelScore } from './model-score.js';
import { SessionPool, type SessionPoolOptions } from './session-pool.js';
import { URL_FEATURE_DIMENSION, URL_FEATURES_VERSION, urlFeatures } from './url-features.js';

export type PoolOptions = Pick<SessionPoolOptions, 'size' | 'intraOpThreads' | 'maxBatch' | 'lingerMs'>;

abstract class ModelClassifier {
  protected constructor(
    readonly entry: ModelEntry,
    protected readonly pool: SessionPool,
  ) {}

  get id(): string {
    return this.entry.id;
  }

  get version(): string {
    return this.entry.version;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** Batching figures of the model's session pool. */
  poolStats(): ReturnType<SessionPool['stats']> {
    return this.pool.stats();
  }

  /**
   * Starts the model's pool and runs an all-zero sample through it, then two stacked into one
   * batch when the pool batches: a model whose input shape or output width differs from the
   * manifest's, or whose graph cannot take a batch, would otherwise fail (or mislabel) every job,
   * found only at run time. Refused with `model_integrity`.
   */
  protected static async startPool(entry: ModelEntry, options: SessionPoolOptions): Promise<SessionPool> {
    const pool = await SessionPool.start(options);
    const zeros = new Float32Array(options.sampleDims.reduce((a, b) => a * b, 1));
    let problem: string | undefined;
    try {
      const row = await pool.run(zeros);
      if (row.length !== entry.labels.length) problem = `its output '${entry.output.name}' has ${row.length} values per sample, the manifest lists ${entry.labels.length} labels`;
    } catch (error) {
      problem = `a sample shaped [${options.sampleDims.join(', ')}] as the manifest's input describes failed: ${(error as Error).message}`;
    }
    if (problem === undefined && pool.maxBatch > 1) {
      try {
        // Submitted together, they wait for each other and run as one batch.
        await Promise.all([pool.run(zeros), pool.run(zeros)]);
      } catch (error) {
        problem = `one sample runs but a batch of 2 fails (the graph's batch dimension must be dynamic): ${(error as Error).message}`;
      }
    }
    if (problem === undefined) return pool;
    await pool.close();
    throw new ScanError('model_integrity', `model ${entry.id}@${entry.version}: ${problem}; refusing to load it`, { model: entry.id });
  }

  protected async score(sample: Float32Array): Promise<ModelScore> {
    let row: Float32Array;
    try {
      row = await this.pool.run(sample);
    } catch (error) {
      // The pool's errors name the model in their message; the detail names it for programs too.
      if (error instanceof ScanError) throw error.detail?.model ? error : new ScanError(error.code, error.message, { ...error.detail, model: this.entry.id }, { cause: error });
      throw new ScanError('model_failed', `model ${this.entry.id}: ${(error as Error).message}`, { model: this.entry.id }, { cause: error });
    }
    return scoreOutput(this.entry, row);
  }
}

export class ImageClassifier extends ModelClassifier {
  static async open(manifest: LoadedManifest, entry: ModelEntry, options: PoolOptions = {}): Promise<ImageClassifier> {
    const spec = entry.input as ImageInputSpec;
    const pool = await ModelClassifier.startPool(entry, {
      modelBytes: await readVerifiedModel(manifest, entry),
      inputName: spec.name,
      outputName: entry.output.name,
      sampleDims: imageSampleDims(spec),
      label: `model ${entry.id}`,
      ...options,
    });
    return new ImageClassifier(entry, pool);
  }

  /** Scores a frame of the pipeline's decode (RGB at working size): resized here, never re-decoded. */
  classifyFrame(frame: Pick<DecodedFrame, 'data' | 'width' | 'height'>): Promise<ModelScore> {
    return this.score(imageSample(frame, this.entry.input as ImageInputSpec));
  }

  /** Scores a sample already in the model's input form (tests and benchmarks). */
  classifySample(sample: Float32Array): Promise<ModelScore> {
    return this.score(sample);
  }
}

export class UrlClassifier extends ModelClassifier {
  static async open(manifest: LoadedManifest, entry: ModelEntry, options: PoolOptions = {}): Promise<UrlClassifier> {
    const spec = entry.input;
    if (spec.kind !== 'url-features' || spec.features !== URL_FEATURES_VERSION || spec.dimension !== URL_FEATURE_DIMENSION) {
      const found = spec.kind === 'url-features' ? `${spec.features}/${spec.dimension}` : spec.kind;
      throw new ScanError('model_integrity', `model ${entry.id} was trained on URL features ${found}; this build computes ${URL_FEATURES_VERSION}/${URL_FEATURE_DIMENSION}`, { model: entry.id });
    }
    // A logistic regression is microseconds: one thread, one intra-op thread, wide batches.
    const pool = await ModelClassifier.startPool(entry, {
      modelBytes: await readVerifiedModel(manifest, entry),
      inputName: spec.name,
      outputName: entry.output.name,
      sampleDims: [spec.dimension],
      label: `model ${entry.id}`,
      size: 1,
      intraOpThreads: 1,
      maxBatch: 64,
      ...options,
    });
    return new UrlClassifier(entry, pool);
  }

  classifyUrl(url: string | CanonicalUrl): Promise<ModelScore> {
    return this.score(urlFeatures(url));
  }
}
