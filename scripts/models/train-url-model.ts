/**
 * Trains the URL model: logistic regression on src/classifiers/url-features.ts (the same module
 * inference uses), written to ONNX as Gemm -> Softmax over [benign, malicious].
 *
 * Split: by registrable domain (sha256 of it, 1 in 5 to test), so no domain has examples on both
 * sides and the test figures measure domains the model never saw. Training is deterministic
 * (zero init, seeded shuffle, fixed epochs), so the same dataset gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { canonicalize } from '../../src/links/canonicalize.js';
import { registrableDomain } from '../../src/links/registrable-domain.js';
import { URL_FEATURE_DIMENSION, URL_FEATURES_VERSION, urlFeatures } from '../../src/classifiers/url-features.js';
import { OnnxGraph } from './onnx-graph.js';
import { loadTrainingData, type Example } from './url-training-data.js';
import { evaluate, formatMetrics, type Metrics } from './binary-metrics.js';
import { seededRandom } from '../../test/harness/seeded-random.js';

export const URL_INPUT_NAME = 'features';

/** Printed with the metrics: what they can and cannot tell. */
export const BIAS_NOTE =
  'How far to trust these figures: the malicious side is mostly bare domains (crypto phishing, badware) and malware URLs, the benign\n' +
  'side mostly open-source project homepages, plus 500 top sites. The per-source lines above show the cost: popular sites and the\n' +
  'legitimate crypto look-alikes are flagged far more often than the average says, and recall leans on paths. Real mail and chat\n' +
  'links (login pages of real services, shorteners, tracking links, compromised sites) look like neither side, so expect lower\n' +
  'precision and recall there than these test-split figures. See models/README.md.';

export const URL_OUTPUT_NAME = 'probabilities';

const EPOCHS = 12;
const BATCH = 128;
const LEARNING_RATE = 0.01;
const L2 = 1e-5;
const SEED = 20261123;
const SOURCE_WEIGHTS: Record<string, number> = { 'top-sites': 10 };

export interface UrlModelBuild {
  sha256: string;
  metrics: Metrics;
  sources: Record<string, string>;
  datasetSha256: string;
  counts: { train: number; test: number; trainMalicious: number; testMalicious: number };
}

export function trainUrlModel(outFile: string, log: (line: string) => void = console.log): UrlModelBuild {
  const data = loadTrainingData();
  const rows: Array<{ example: Example; features: Float32Array; test: boolean }> = [];
  for (const example of data.examples) {
    let features: Float32Array;
    let domain: string;
    try {
      const url = canonicalize(/^[a-z]+:\/\//.test(example.url) ? example.url : `https://${example.url}`);
      features = urlFeatures(url);
      domain = (url.hostIsIp ? url.host : registrableDomain(url.host)) ?? url.host;
    } catch {
      continue; // not a URL canonicalize accepts: inference would refuse it too
    }
    const test = createHash('sha256').update(domain).digest()[0]! % 5 === 0;
    rows.push({ example, features, test });
  }
  const train = rows.filter((r) => !r.test);
  const test = rows.filter((r) => r.test);
  const positives = train.filter((r) => r.example.label === 1).length;
  // Balance the classes: each class contributes half of the loss.
  const classWeight = (label: number) => (label === 1 ? train.length / (2 * positives) : train.length / (2 * (train.length - positives)));
  // The 500 top sites are the benign examples most like real traffic and the fewest: count each more.
  const weightOf = (example: Example) => classWeight(example.label) * (SOURCE_WEIGHTS[example.source] ?? 1);

  const dim = URL_FEATURE_DIMENSION;
  const w = new Float64Array(dim);
  let b = 0;
  // Adam state.
  const m = new Float64Array(dim + 1);
  const v = new Float64Array(dim + 1);
  let step = 0;
  const random = seededRandom(SEED);
  const order = train.map((_, i) => i);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let loss = 0;
    for (let start = 0; start < order.length; start += BATCH) {
      const grad = new Float64Array(dim + 1);
      const end = Math.min(start + BATCH, order.length);
      for (let k = start; k < end; k++) {
        const row = train[order[k]!]!;
        const p = sigmoid(dot(w, row.features) + b);
        const y = row.example.label;
        const weight = weightOf(row.example);
        loss -= weight * (y ? Math.log(p + 1e-12) : Math.log(1 - p + 1e-12));
        const g = weight * (p - y);
        const x = row.features;
        for (let d = 0; d < dim; d++) if (x[d] !== 0) grad[d]! += g * x[d]!;
        grad[dim]! += g;
      }
      step++;
      const n = end - start;
      for (let d = 0; d <= dim; d++) {
        const g = grad[d]! / n + (d < dim ? L2 * w[d]! : 0);
        m[d] = 0.9 * m[d]! + 0.1 * g;
        v[d] = 0.999 * v[d]! + 0.001 * g * g;
        const update = (LEARNING_RATE * (m[d]! / (1 - 0.9 ** step))) / (Math.sqrt(v[d]! / (1 - 0.999 ** step)) + 1e-8);
        if (d < dim) w[d]! -= update;
        else b -= update;
      }
    }
    log(`epoch ${epoch + 1}/${EPOCHS}: weighted log-loss ${(loss / train.length).toFixed(4)}`);
  }

  // Score with float32 weights, as the ONNX graph will.
  const w32 = Float32Array.from(w);
  const b32 = Math.fround(b);
  const metrics = evaluate(test.map((r) => ({ label: r.example.label, score: sigmoid(dot(w32, r.features) + b32) })));
  const counts = { train: train.length, test: test.length, trainMalicious: positives, testMalicious: test.filter((r) => r.example.label === 1).length };
  log(`train ${counts.train} URLs (${counts.trainMalicious} malicious), test ${counts.test} URLs (${counts.testMalicious} malicious), split by registrable domain`);
  log(formatMetrics(metrics));
  // Where the figures come from: per source, and with every test URL cut to its bare host (the
  // benign side has paths far more often than the malicious side, a bias the model can lean on).
  const score = (features: Float32Array) => sigmoid(dot(w32, features) + b32);
  const bySource = new Map<string, { n: number; flagged: number; label: number }>();
  for (const r of test) {
    const entry = bySource.get(r.example.source) ?? { n: 0, flagged: 0, label: r.example.label };
    entry.n++;
    if (score(r.features) >= 0.5) entry.flagged++;
    bySource.set(r.example.source, entry);
  }
  for (const [source, { n, flagged, label }] of [...bySource].sort()) {
    log(`  ${source.padEnd(32)} ${String(n).padStart(6)} test URLs, ${label ? 'recall' : 'false-positive rate'} ${((flagged / n) * 100).toFixed(2)}%`);
  }
  const hostOnly = evaluate(
    test.map((r) => {
      const url = canonicalize(/^[a-z]+:\/\//.test(r.example.url) ? r.example.url : `https://${r.example.url}`);
      return { label: r.example.label, score: score(urlFeatures(`https://${url.host}/`)) };
    }),
  );
  log(`same test split, every URL cut to its bare host:\n${formatMetrics(hostOnly)}`);
  log(BIAS_NOTE);

  // Two-class softmax over logits [0, z] is sigmoid(z): column 0 stays zero.
  const weights = new Float32Array(dim * 2);
  for (let d = 0; d < dim; d++) weights[d * 2 + 1] = w32[d]!;
  const graph = new OnnxGraph();
  const logits = graph.node('Gemm', [URL_INPUT_NAME, graph.constant('W', [dim, 2], weights), graph.constant('B', [2], [0, b32])]);
  graph.node('Softmax', [logits], { axis: -1 }, URL_OUTPUT_NAME);
  const bytes = graph.encode({
    name: 'url_lexical_logreg',
    input: { name: URL_INPUT_NAME, shape: ['batch', dim] },
    output: { name: URL_OUTPUT_NAME, shape: ['batch', 2] },
    producer: 'abuse-scan scripts/models/train-url-model.ts',
    metadata: { features: URL_FEATURES_VERSION, dataset_sha256: data.datasetSha256 },
  });
  writeFileSync(outFile, bytes);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), metrics, sources: data.sources, datasetSha256: data.datasetSha256, counts };
}

function dot(w: Float64Array | Float32Array, x: Float32Array): number {
  let sum = 0;
  for (let d = 0; d < x.length; d++) if (x[d] !== 0) sum += w[d]! * x[d]!;
  return sum;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

