/**
 * From a model's raw output row to what the fleet acts on: a probability per label, the abuse
 * score the manifest defines (a weighted sum of label probabilities, clamped to [0, 1]) and the
 * decision it suggests by the manifest's thresholds.
 */
import type { Decision } from '../jobs/verdict-schema.js';
import type { ModelEntry } from './manifest.js';

export interface ModelScore {
  model: string;
  version: string;
  /** Probability per label, in the manifest's label order. */
  labels: Record<string, number>;
  abuseScore: number;
  suggests: Decision;
}

export function scoreOutput(entry: ModelEntry, row: Float32Array): ModelScore {
  if (row.length !== entry.labels.length) {
    throw new Error(`model ${entry.id}: output has ${row.length} values for ${entry.labels.length} labels`);
  }
  const probabilities = activate(entry.output.activation, Array.from(row));
  const labels: Record<string, number> = {};
  entry.labels.forEach((label, i) => (labels[label] = round(probabilities[i]!)));
  let sum = 0;
  for (const [label, weight] of Object.entries(entry.abuseScore.weights)) sum += weight * probabilities[entry.labels.indexOf(label)]!;
  const abuseScore = round(Math.min(1, Math.max(0, sum)));
  return { model: entry.id, version: entry.version, labels, abuseScore, suggests: suggestion(entry, abuseScore) };
}

export function suggestion(entry: Pick<ModelEntry, 'thresholds'>, abuseScore: number): Decision {
  if (abuseScore >= entry.thresholds.block) return 'block';
  if (abuseScore >= entry.thresholds.review) return 'review';
  return 'allow';
}

function activate(kind: ModelEntry['output']['activation'], values: number[]): number[] {
  if (kind === 'sigmoid') return values.map((v) => 1 / (1 + Math.exp(-v)));
  if (kind === 'softmax') {
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / total);
  }
  return values;
}

/** Six decimals: enough for thresholds, stable in JSON. */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
