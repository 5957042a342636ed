/**
 * One manifest model, ready to score: the verified file in a session pool, and the input
 * preparation its task needs (an image frame resized and normalized, or a URL's features).
 */
import { ScanError } from '../errors.js';
import type { DecodedFrame } from '../images/decode.js';
import type { CanonicalUrl } from '../links/canonicalize.js';
import { imageSample, imageSampleDims } from './image-input.js';
import { modelContentVersion, readVerifiedModel, type ImageInputSpec, type LoadedManifest, type ModelEntry } from './manifest.js';
import { scoreOutput, type ModelScore } from './model-score.js';
import { OutputShapeError, SessionPool, type SessionPoolOptions } from './session-pool.js';
import { URL_FEATURE_DIMENSION, URL_FEATURES_VERSION, urlFeatures, urlForFeatures } from './url-features.js';

export type PoolOptions = Pick<SessionPoolOptions, 'size' | 'intraOpThreads' | 'maxBatch' | 'lingerMs' | 'runTimeoutMs' | 'restartDelayMs'>;

abstract class ModelClassifier {
  /** What verdicts record (versions.models, evidence.version): see modelContentVersion. */
  readonly version: string;

  protected constructor(
    readonly entry: ModelEntry,
    protected readonly pool: SessionPool,
  ) {
    this.version = modelContentVersion(entry);
  }

  get id(): string {
    return this.entry.id;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** Batching figures of the model's session pool. */
  poolStats(): ReturnType<SessionPool['stats']> {
    return this.pool.stats();
  }

  /**
   * Starts the model's pool and checks it on samples before any job: an all-zero sample, then,
   * when the pool batches, two different samples (zeros and a fixed pattern) stacked into one
   * batch, whose rows must each equal that sample's own run. A model whose input shape or output
   * width differs from the manifest's, whose graph cannot take a batch, or whose output mixes the
   * samples of a batch (a [labels, N] output, no batch axis, an op across the batch) would
   * otherwise fail or mislabel every job, found only at run time. Refused with `model_integrity`.
   */
  protected static async startPool(entry: ModelEntry, options: SessionPoolOptions): Promise<SessionPool> {
    const pool = await SessionPool.start({ outputLength: entry.labels.length, ...options });
    const problem = await ModelClassifier.loadCheck(entry, pool, options.sampleDims);
    if (problem === undefined) return pool;
    await pool.close();
    throw new ScanError('model_integrity', `model ${entry.id}@${entry.version}: ${problem}; refusing to load it`, { model: entry.id });
  }

  /** What is wrong with the model in `pool`, if anything (see startPool). */
  private static async loadCheck(entry: ModelEntry, pool: SessionPool, sampleDims: number[]): Promise<string | undefined> {
    const output = `its output '${entry.output.name}'`;
    const zeros = new Float32Array(sampleDims.reduce((a, b) => a * b, 1));
    const pattern = probeSample(zeros.length);
    const alone: Float32Array[] = [];
    for (const sample of [zeros, pattern]) {
      try {
        alone.push(await pool.run(sample));
      } catch (error) {
        if (error instanceof OutputShapeError && error.dims[0] === 1 && error.dims.length > 1) {
          return `${output} has ${error.dims.slice(1).reduce((a, b) => a * b, 1)} values per sample, the manifest lists ${entry.labels.length} labels`;
        }
        if (error instanceof OutputShapeError) return `${output} has dims [${error.dims.join(', ')}] for one sample, expected [1, ${entry.labels.length}] (the batch first, then one value per label)`;
        return `a sample shaped [${sampleDims.join(', ')}] as the manifest's input describes failed: ${(error as Error).message}`;
      }
    }
    for (const [i, row] of alone.entries()) {
      try {
        scoreOutput(entry, row);
      } catch (error) {
        return `${i === 0 ? 'an all-zero sample' : 'a sample of values in [0, 1)'} gives a row that cannot be scored: ${(error as Error).message}`;
      }
    }
    if (pool.maxBatch === 1) return undefined;
    let batched: Float32Array[];
    try {
      // Submitted together, they wait for each other and run as one batch.
      batched = await Promise.all([pool.run(zeros), pool.run(pattern)]);
    } catch (error) {
      if (error instanceof OutputShapeError) return `${output} has dims [${error.dims.join(', ')}] for a batch of 2, expected [2, ${entry.labels.length}] (the batch first, then one value per label)`;
      return `one sample runs but a batch of 2 fails (the graph's batch dimension must be dynamic): ${(error as Error).message}`;
    }
    for (const [i, row] of batched.entries()) {
      const own = alone[i]!;
      if (row.length !== entry.labels.length || !rowsAgree(row, own)) {
        return `in a batch of 2 different samples, sample ${i + 1}'s row of ${output} is [${formatRow(row)}] where run alone it is [${formatRow(own)}] (the output must hold one row per sample, the batch first)`;
      }
    }
    return undefined;
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
    return scoreOutput(this.entry, row, this.version);
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

  /** The model's score; for an IP-literal host, suggesting at most review (see IP_LITERAL_HOST_CAP). */
  async classifyUrl(input: string | CanonicalUrl): Promise<ModelScore> {
    const url = urlForFeatures(input);
    const score = await this.score(urlFeatures(url));
    if (!url.hostIsIp || score.suggests !== 'block') return score;
    return { ...score, suggests: 'review', capped: { from: score.suggests, reason: IP_LITERAL_HOST_CAP } };
  }
}

/**
 * Why a URL model's score for an IP-literal host suggests at most review. The host's features are
 * digits, which tell a lexical model little, and the shipped model's training data has IP hosts on
 * the malicious side only (2,319 URLhaus and badware URLs; no package lists benign ones), so it
 * scores every IP URL about 0.999, http://1.1.1.1/ included. Review rather than allow: a link to a
 * bare public IP is unusual in content, and the path (`/bins/x.sh`, `.exe`) still raises the score.
 */
export const IP_LITERAL_HOST_CAP =
  'an IP-literal host suggests at most review: the URL model was trained with no benign IP-literal URL, so its score cannot tell a public service from malware hosting';

/**
 * The load check's second sample: values in [0.05, 0.95), in range for a normalized image or URL
 * features alike, that differ by position and whose channel means differ in either image layout
 * (NHWC: by index mod 3; NCHW: by third of the sample), so that a batch whose rows mix samples
 * gives rows that differ from their own runs.
 */
function probeSample(length: number): Float32Array {
  const sample = new Float32Array(length);
  for (let i = 0; i < length; i++) sample[i] = 0.05 + 0.15 * (i % 3) + 0.15 * Math.floor((3 * i) / length) + 0.3 * ((i * 0.6180339887) % 1);
  return sample;
}

/** Equal within float rounding: a batched kernel may sum in another order than a single run. */
function rowsAgree(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((value, i) => Math.abs(value - b[i]!) <= 1e-4 + 1e-3 * Math.abs(b[i]!));
}

function formatRow(row: Float32Array): string {
  return Array.from(row, (value) => Number(value.toPrecision(4))).join(', ');
}
