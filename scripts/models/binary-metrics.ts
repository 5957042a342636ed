/** Test-split figures of a binary classifier: confusion matrix at a threshold, precision, recall, ROC-AUC. */
export interface Metrics {
  threshold: number;
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  falsePositiveRate: number;
  rocAuc: number;
}

export function evaluate(scored: Array<{ label: number; score: number }>, threshold = 0.5): Metrics {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (const { label, score } of scored) {
    if (score >= threshold) label ? tp++ : fp++;
    else label ? fn++ : tn++;
  }
  return {
    threshold,
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
    precision: tp / Math.max(1, tp + fp),
    recall: tp / Math.max(1, tp + fn),
    falsePositiveRate: fp / Math.max(1, fp + tn),
    rocAuc: rocAuc(scored),
  };
}

/** Mann-Whitney U: the chance a random positive outscores a random negative (ties count half). */
function rocAuc(scored: Array<{ label: number; score: number }>): number {
  const sorted = [...scored].sort((a, b) => a.score - b.score);
  let rankSumPositives = 0;
  let positives = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j]!.score === sorted[i]!.score) j++;
    const averageRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (sorted[k]!.label) (rankSumPositives += averageRank), positives++;
    i = j;
  }
  const negatives = sorted.length - positives;
  if (!positives || !negatives) return NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function formatMetrics(m: Metrics): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return [
    `test split @ threshold ${m.threshold}: precision ${pct(m.precision)}, recall ${pct(m.recall)}, false-positive rate ${pct(m.falsePositiveRate)}, ROC-AUC ${m.rocAuc.toFixed(4)}`,
    'confusion matrix (rows: actual, columns: predicted)',
    `                 benign  malicious`,
    `  benign     ${String(m.trueNegatives).padStart(9)} ${String(m.falsePositives).padStart(10)}`,
    `  malicious  ${String(m.falseNegatives).padStart(9)} ${String(m.truePositives).padStart(10)}`,
  ].join('\n');
}
