/**
 * `npm run models:build`: rebuilds both models from packages and records them in
 * models/manifest.json (sha256, provenance, metrics); entries of other models are kept as they are.
 * `npm run models:build -- --check`: rebuilds into a temporary directory and compares each sha256
 * with the manifest instead (exit 1 on a difference), which is how the committed files are verified.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest, ModelEntry } from '../../src/classifiers/manifest.js';
import { manifestSchema } from '../../src/classifiers/manifest.js';
import { URL_FEATURE_DIMENSION, URL_FEATURES_VERSION } from '../../src/classifiers/url-features.js';
import { buildImageModel } from './build-image-model.js';
import { IMAGE_INPUT_NAME, IMAGE_OUTPUT_NAME } from './convert-nsfwjs.js';
import { trainUrlModel, URL_INPUT_NAME, URL_OUTPUT_NAME } from './train-url-model.js';

const MODELS_DIR = resolve(fileURLToPath(new URL('../../models', import.meta.url)));
const MANIFEST = join(MODELS_DIR, 'manifest.json');
export const IMAGE_MODEL_ID = 'nsfw-mobilenet-v2';
export const URL_MODEL_ID = 'url-lexical-logreg';

const check = process.argv.includes('--check');
const outDir = check ? mkdtempSync(join(tmpdir(), 'models-check-')) : MODELS_DIR;

const image = buildImageModel(join(outDir, `${IMAGE_MODEL_ID}.onnx`));
console.log(`${IMAGE_MODEL_ID}: ${image.bytes} bytes, sha256 ${image.sha256}`);
const url = trainUrlModel(join(outDir, `${URL_MODEL_ID}.onnx`));
console.log(`${URL_MODEL_ID}: sha256 ${url.sha256}, dataset sha256 ${url.datasetSha256}`);

const current: Manifest = existsSync(MANIFEST) ? manifestSchema.parse(JSON.parse(readFileSync(MANIFEST, 'utf8'))) : { schemaVersion: 1, models: [] };
const imageEntry: ModelEntry = {
  id: IMAGE_MODEL_ID,
  version: `nsfwjs-${image.sourceVersion}.1`,
  task: 'image',
  file: `${IMAGE_MODEL_ID}.onnx`,
  sha256: image.sha256,
  input: { kind: 'image', name: IMAGE_INPUT_NAME, width: 224, height: 224, layout: 'NHWC', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  output: { name: IMAGE_OUTPUT_NAME, activation: 'none' },
  labels: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
  abuseScore: { kind: 'weighted-sum', weights: { Porn: 1, Hentai: 1, Sexy: 0.5 } },
  thresholds: { review: 0.6, block: 0.9 },
  provenance: {
    source: 'npm:nsfwjs (dist/models/mobilenet_v2, TFJS layers format, uint8-quantized weights)',
    sourceVersion: image.sourceVersion,
    license: 'MIT (Infinite Red, Inc.)',
    build: 'npm run models:build (scripts/models/convert-nsfwjs.ts)',
    notes: 'Abuse score = P(Porn) + P(Hentai) + 0.5 * P(Sexy). Input: RGB / 255, resized bilinear (align corners) to 224x224.',
  },
};
const urlEntry: ModelEntry = {
  id: URL_MODEL_ID,
  // Features version + the model bytes: any retrain that changes the model changes the version.
  version: `${URL_FEATURES_VERSION.replace('url-lexical-', '')}-${url.sha256.slice(0, 12)}`,
  task: 'url',
  file: `${URL_MODEL_ID}.onnx`,
  sha256: url.sha256,
  input: { kind: 'url-features', name: URL_INPUT_NAME, features: URL_FEATURES_VERSION, dimension: URL_FEATURE_DIMENSION },
  output: { name: URL_OUTPUT_NAME, activation: 'none' },
  labels: ['benign', 'malicious'],
  abuseScore: { kind: 'weighted-sum', weights: { malicious: 1 } },
  thresholds: { review: 0.9, block: 0.99 },
  provenance: {
    source: 'npm:eth-phishing-detect, npm:top-sites, deb:webext-ublock-origin-firefox (URLhaus, badware), Debian package Homepage fields',
    sourceVersion: Object.entries(url.sources).map(([name, version]) => `${name} ${version}`).join('; '),
    license: 'model: Apache-2.0 (this project); data: eth-phishing-detect DBAD/MIT, top-sites MIT, uBlock Origin GPL-3.0 lists (URLhaus CC0)',
    build: 'apt-get update && npm run models:build (scripts/models/train-url-model.ts)',
    datasetSha256: url.datasetSha256,
    trainExamples: url.counts.train,
    testExamples: url.counts.test,
    testMetrics: url.metrics,
  },
};

if (check) {
  let ok = true;
  for (const built of [imageEntry, urlEntry]) {
    const committed = current.models.find((m) => m.id === built.id);
    const same = committed?.sha256 === built.sha256;
    ok &&= same;
    const datasetNote = built.task === 'url' && committed && committed.provenance.datasetSha256 !== built.provenance.datasetSha256 ? ' (the training data changed: a newer package list or uBlock package)' : '';
    console.log(`${built.id}: rebuild ${same ? 'matches' : 'DIFFERS from'} the manifest${datasetNote}`);
  }
  process.exit(ok ? 0 : 1);
}

const others = current.models.filter((m) => m.id !== IMAGE_MODEL_ID && m.id !== URL_MODEL_ID);
const manifest: Manifest = { schemaVersion: 1, models: [imageEntry, urlEntry, ...others] };
writeFileSync(MANIFEST, `${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`);
console.log(`wrote ${MANIFEST}`);
