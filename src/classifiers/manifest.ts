/**
 * The model registry: models/manifest.json lists every model the fleet may run, with what a
 * worker needs to feed it (input spec), read it (labels, abuse score) and act on it (thresholds),
 * and where it came from (provenance). An operator adds an ONNX model with an entry alone: no
 * code, as long as its input is an image (any size, layout, normalization) or the URL features
 * of src/classifiers/url-features.ts.
 *
 * Every file is checked against its sha256 before a session is created: a mismatched file is
 * refused with `model_integrity`, never run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ScanError } from '../errors.js';

/** models/ of this checkout or package (src/classifiers -> ../../models; dist/src/classifiers -> ../../../models). */
export function defaultModelsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${'/dist/'}`) ? resolve(here, '../../../models') : resolve(here, '../../models');
}

const imageInputSchema = z.object({
  kind: z.literal('image'),
  /** The graph input's name. */
  name: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** NHWC (TensorFlow-style) or NCHW (PyTorch-style). */
  layout: z.enum(['NHWC', 'NCHW']),
  /** value = (pixel * scale - mean[c]) / std[c], per RGB channel. nsfwjs: scale 1/255, mean 0, std 1. */
  scale: z.number().positive(),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
});

const urlInputSchema = z.object({
  kind: z.literal('url-features'),
  name: z.string(),
  /** The feature extractor's version (url-features.ts URL_FEATURES_VERSION) the model was trained on. */
  features: z.string(),
  /** Length of the feature vector. */
  dimension: z.number().int().positive(),
});

const abuseScoreSchema = z.object({
  /** abuse = clamp(sum over labels of weight * probability, 0, 1). */
  kind: z.literal('weighted-sum'),
  weights: z.record(z.string(), z.number()),
});

export const modelEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, . _ -'),
    version: z.string().min(1),
    task: z.enum(['image', 'url']),
    /** Path of the .onnx file, relative to the manifest's directory. */
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
    input: z.discriminatedUnion('kind', [imageInputSchema, urlInputSchema]),
    output: z.object({
      name: z.string(),
      /** What the output holds: probabilities already (softmax in the graph), or logits to softmax / sigmoid here. */
      activation: z.enum(['none', 'softmax', 'sigmoid']).default('none'),
    }),
    labels: z.array(z.string()).min(1),
    abuseScore: abuseScoreSchema,
    thresholds: z.object({ review: z.number().min(0).max(1), block: z.number().min(0).max(1) }).refine((t) => t.review <= t.block, 'review must not exceed block'),
    provenance: z.object({
      source: z.string(),
      sourceVersion: z.string(),
      license: z.string(),
      build: z.string(),
      notes: z.string().optional(),
    }).catchall(z.unknown()),
  })
  .superRefine((entry, ctx) => {
    // A label names one output index: listed twice, the labels and the abuse score read different ones.
    entry.labels.forEach((label, i) => {
      const first = entry.labels.indexOf(label);
      if (first !== i) ctx.addIssue({ code: 'custom', path: ['labels', i], message: `label '${label}' is listed twice (at ${first} and ${i}): each output index needs its own label` });
    });
    for (const label of Object.keys(entry.abuseScore.weights)) {
      if (!entry.labels.includes(label)) ctx.addIssue({ code: 'custom', path: ['abuseScore', 'weights', label], message: `${label} is not one of the labels` });
    }
    const expected = entry.task === 'image' ? 'image' : 'url-features';
    if (entry.input.kind !== expected) ctx.addIssue({ code: 'custom', path: ['input', 'kind'], message: `a ${entry.task} model takes ${expected} input` });
  });

export const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  models: z.array(modelEntrySchema).refine((models) => new Set(models.map((m) => m.id)).size === models.length, 'model ids must be unique'),
});

export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type ImageInputSpec = z.infer<typeof imageInputSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

export interface LoadedManifest {
  dir: string;
  models: ModelEntry[];
}

/** The manifest this process reads unless told otherwise. */
export function defaultManifestPath(): string {
  return resolve(defaultModelsDir(), 'manifest.json');
}

/** The manifest's path for an operator: with ABUSE_SCAN_MODELS_MANIFEST when that variable names it. */
export function describeManifestPath(path: string): string {
  const variable = process.env.ABUSE_SCAN_MODELS_MANIFEST;
  return variable && resolve(variable) === resolve(path) ? `${path} (ABUSE_SCAN_MODELS_MANIFEST)` : path;
}

/** Reads and validates a manifest; a bad manifest throws with every issue named. */
export async function loadManifest(path = defaultManifestPath()): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    // The message names the setting (a worker logs it as is); the errno fields stay, so the CLI
    // reports `file not found: <path> (ABUSE_SCAN_MODELS_MANIFEST)` as it does every file setting.
    const { code, errno, syscall } = error as NodeJS.ErrnoException;
    throw Object.assign(new Error(`cannot read model manifest ${describeManifestPath(path)}: ${(error as Error).message}`), { code, errno, syscall, path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // A bare SyntaxError names neither the file nor the setting that chose it.
    throw new ScanError('model_integrity', `invalid model manifest ${describeManifestPath(path)}: not valid JSON: ${(error as Error).message}`, { path }, { cause: error });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new ScanError('model_integrity', `invalid model manifest ${describeManifestPath(path)}: ${issues}`, { path });
  }
  return { dir: dirname(path), models: parsed.data.models };
}

/**
 * The version a verdict records for a model: the manifest's `version`, then 12 hex digits of a
 * sha256 over what decides its scores (the file's sha256, input, output, labels, abuse score,
 * thresholds). `version` is the operator's free text: a copy with lowered thresholds or a new
 * file under the same `version` scores differently, and a verdict must say which one decided it.
 * Provenance, `file` (the sha256 names the bytes) and `id` (the key it is recorded under) are left out.
 */
export function modelContentVersion(entry: ModelEntry): string {
  const { sha256, input, output, labels, abuseScore, thresholds } = entry;
  const digest = createHash('sha256').update(stableJson({ sha256, input, output, labels, abuseScore, thresholds })).digest('hex');
  return `${entry.version}+${digest.slice(0, 12)}`;
}

/** JSON with every object's keys sorted: the same entry hashes the same whatever its key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function modelPath(manifest: LoadedManifest, entry: ModelEntry): string {
  return isAbsolute(entry.file) ? entry.file : resolve(manifest.dir, entry.file);
}

/** The model file's bytes, only if they hash to the manifest's sha256; else `model_integrity`. */
export async function readVerifiedModel(manifest: LoadedManifest, entry: ModelEntry): Promise<Uint8Array> {
  const path = modelPath(manifest, entry);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ScanError('model_integrity', `model ${entry.id}: cannot read ${path}: ${(error as Error).message}`, { model: entry.id, path });
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== entry.sha256) {
    throw new ScanError('model_integrity', `model ${entry.id}@${entry.version}: ${path} has sha256 ${actual}, the manifest expects ${entry.sha256}; refusing to load it`, {
      model: entry.id,
      path,
      expected: entry.sha256,
      actual,
    });
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
