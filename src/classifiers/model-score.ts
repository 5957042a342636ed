/**
 * From a model's raw output row to what the fleet acts on: a probability per label, the abuse
 * score the manifest defines (a weighted sum of label probabilities, clamped to [0, 1]) and the
 * decision it suggests by the manifest's thresholds.
 */
import { ScanError } from '../errors.js';
import type { Decision } from '../jobs/verdict-schema.js';
import { modelContentVersion, type ModelEntry } from './manifest.js';

export interface ModelScore {
  model: string;
  /** The manifest's version and a digest of what decides scores (see modelContentVersion). */
  version: string;
  /** Probability per label, in the manifest's label order. */
  labels: Record<string, number>;
  abuseScore: number;
  suggests: Decision;
  /** The manifest's thresholds `suggests` was read from. */
  thresholds: { review: number; block: number };
  /** Set when `suggests` is milder than the thresholds give for abuseScore: what they gave, and why. */
  capped?: { from: Decision; reason: string };
}

/**
 * The score of one output row (`version`: the entry's modelContentVersion, computed once by its
 * classifier). A row that is not a probability per label is
 * `model_output_invalid`, never a score: NaN or Infinity anywhere (NaN passes Math.min and
 * Math.max, and compares below every threshold: it read as 'allow'), or, with activation 'none', a
 * value outside [0, 1] (logits under a manifest that says the graph ends in probabilities). The
 * code is permanent: the same input gives the same row, so a retry would only delay the verdict.
 */
export function scoreOutput(entry: ModelEntry, row: Float32Array, version = modelContentVersion(entry)): ModelScore {
  const fail = (problem: string) => new ScanError('model_output_invalid', `model ${entry.id}: ${problem}`, { model: entry.id });
  if (row.length !== entry.labels.length) throw fail(`output has ${row.length} values for ${entry.labels.length} labels`);
  const bad = row.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) throw fail(`output has ${row[bad]} for label '${entry.labels[bad]}'`);
  if (entry.output.activation === 'none') {
    const out = row.findIndex((value) => value < -PROBABILITY_TOLERANCE || value > 1 + PROBABILITY_TOLERANCE);
    if (out >= 0) throw fail(`output has ${row[out]} for label '${entry.labels[out]}', not a probability (the manifest's activation is 'none')`);
  }
  const probabilities = activate(entry.output.activation, Array.from(row));
  const labels: Record<string, number> = {};
  entry.labels.forEach((label, i) => (labels[label] = round(probabilities[i]!)));
  let sum = 0;
  for (const [label, weight] of Object.entries(entry.abuseScore.weights)) sum += weight * probabilities[entry.labels.indexOf(label)]!;
  if (!Number.isFinite(sum)) throw fail(`the abuse score is ${sum}`);
  const abuseScore = round(Math.min(1, Math.max(0, sum)));
  const { review, block } = entry.thresholds;
  return { model: entry.id, version, labels, abuseScore, suggests: suggestion(entry, abuseScore), thresholds: { review, block } };
}

export function suggestion(entry: Pick<ModelEntry, 'thresholds'>, abuseScore: number): Decision {
  if (abuseScore >= entry.thresholds.block) return 'block';
  if (abuseScore >= entry.thresholds.review) return 'review';
  return 'allow';
}

/** How far float rounding may take a probability past 0 or 1 (float32 softmax gives 1.0000001). */
const PROBABILITY_TOLERANCE = 1e-4;

function activate(kind: ModelEntry['output']['activation'], values: number[]): number[] {
  if (kind === 'sigmoid') return values.map((v) => 1 / (1 + Math.exp(-v)));
  if (kind === 'softmax') {
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / total);
  }
  // Probabilities already: a value rounding took just past 0 or 1 is put back.
  return values.map((v) => Math.min(1, Math.max(0, v)));
}

/** Six decimals: enough for thresholds, stable in JSON. */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
