import type { ConsumedVerdict } from '../jobs/verdict-schema.js';

/** A verdict as a person reads it: decision first, then why, then what was looked at. */
export function formatVerdict(verdict: ConsumedVerdict): string {
  const lines: string[] = [];
  lines.push(`${verdict.decision.toUpperCase()}  ${verdict.contentId} (job ${verdict.jobId}, surface ${verdict.surface})`);
  for (const reason of verdict.reasons) lines.push(`  why: ${reason}`);
  for (const signal of verdict.signals) {
    lines.push(`  signal: ${signal.source}/${signal.kind} item ${signal.item} score ${signal.score.toFixed(3)} -> ${signal.suggests} ${JSON.stringify(signal.evidence)}`);
  }
  for (const item of verdict.items) {
    const status = item.status === 'ok' ? 'ok' : `error ${item.error?.code}: ${item.error?.message}`;
    lines.push(`  item ${item.index} [${item.kind}] ${item.input}: ${status}`);
    for (const [key, value] of Object.entries(item.details)) {
      lines.push(`    ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  for (const error of verdict.errors.filter((e) => e.item === undefined)) lines.push(`  error ${error.code}: ${error.message}`);
  const timings = Object.entries(verdict.timings).map(([stage, ms]) => `${stage} ${ms} ms`);
  lines.push(`  timings: ${timings.join(', ')}`);
  const versions = [
    ...Object.entries(verdict.versions.lists).map(([k, v]) => `list ${k}@${v}`),
    ...Object.entries(verdict.versions.hashSets).map(([k, v]) => `hashset ${k}@${v}`),
    ...Object.entries(verdict.versions.models).map(([k, v]) => `model ${k}@${v}`),
  ];
  lines.push(`  versions: scanner ${verdict.versions.scanner}${versions.length ? `, ${versions.join(', ')}` : ''}`);
  return lines.join('\n');
}
