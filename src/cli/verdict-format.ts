import type { ConsumedVerdict, Decision } from '../jobs/verdict-schema.js';
import { formatScore } from '../policy/decide.js';
import { terminalSafe } from './terminal-text.js';

/** The exit status of a decision, for `scan` and `verdict`: 0 allow, 2 review, 3 block (1 is an error). */
export function exitCodeOf(decision: Decision): number {
  return { allow: 0, review: 2, block: 3 }[decision];
}

type ConsumedError = ConsumedVerdict['errors'][number];

function formatError(error: ConsumedError): string {
  return `${error.partial ? 'partial error' : 'error'} ${error.code}: ${error.message}`;
}

/**
 * A verdict as a person reads it: decision first, then why, then what was looked at. Nearly all of
 * it comes from outside (contentId, links, error messages quoting them, evidence, details), so
 * every line goes through terminalSafe: a link cannot clear the screen or print a fake decision
 * line. The formatter's own text has no control characters, so this escapes only theirs.
 */
export function formatVerdict(verdict: ConsumedVerdict): string {
  const lines: string[] = [];
  lines.push(`${verdict.decision.toUpperCase()}  ${verdict.contentId} (job ${verdict.jobId}, surface ${verdict.surface})`);
  // Which tenant's content, and which attempt gave the verdict when: a retried or late verdict shows.
  lines.push(`  ${verdict.tenant === undefined ? 'no tenant' : `tenant ${verdict.tenant}`}, attempt ${verdict.attempt}, created ${verdict.createdAt}`);
  if (verdict.metadata !== undefined && Object.keys(verdict.metadata).length > 0) lines.push(`  metadata: ${JSON.stringify(verdict.metadata)}`);
  for (const reason of verdict.reasons) lines.push(`  why: ${reason}`);
  for (const signal of verdict.signals) {
    lines.push(`  signal: ${signal.source}/${signal.kind} item ${signal.item} score ${formatScore(signal.score)} -> ${signal.suggests} ${JSON.stringify(signal.evidence)}`);
  }
  for (const item of verdict.items) {
    const status = item.status === 'ok' ? 'ok' : `error ${item.error?.code}: ${item.error?.message}`;
    lines.push(`  item ${item.index} [${item.kind}] ${item.input}: ${status}`);
    // Every other error of the item too: an item can be ok and still have been seen only in part
    // (an unfurl that failed), which is often why the decision is what it is.
    for (const error of verdict.errors) {
      const isItemStatus = item.error !== undefined && error.code === item.error.code && error.message === item.error.message;
      if (error.item === item.index && !isItemStatus) lines.push(`    ${formatError(error)}`);
    }
    for (const [key, value] of Object.entries(item.details)) {
      lines.push(`    ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  const itemIndexes = new Set(verdict.items.map((item) => item.index));
  for (const error of verdict.errors.filter((e) => e.item === undefined || !itemIndexes.has(e.item))) lines.push(`  ${formatError(error)}`);
  const timings = Object.entries(verdict.timings).map(([stage, ms]) => `${stage} ${ms} ms`);
  lines.push(`  timings: ${timings.join(', ')}`);
  const versions = [
    ...Object.entries(verdict.versions.lists).map(([k, v]) => `list ${k}@${v}`),
    ...Object.entries(verdict.versions.hashSets).map(([k, v]) => `hashset ${k}@${v}`),
    ...Object.entries(verdict.versions.models).map(([k, v]) => `model ${k}@${v}`),
  ];
  lines.push(`  versions: scanner ${verdict.versions.scanner}${versions.length ? `, ${versions.join(', ')}` : ''}`);
  return lines.map(terminalSafe).join('\n');
}
