import type { ErrorInfo } from '../errors.js';
import type { Decision, Signal } from '../jobs/verdict-schema.js';
import { ALLOWLIST_MATCH_KIND, isSignalSource } from '../signals/signal-type.js';
import type { PolicyConfig } from './policy-config.js';

const RANK: Record<Decision, number> = { allow: 0, review: 1, block: 2 };

export function strictest(a: Decision, b: Decision): Decision {
  return RANK[a] >= RANK[b] ? a : b;
}

function mildest(a: Decision, b: Decision): Decision {
  return RANK[a] <= RANK[b] ? a : b;
}

export interface PolicyOutcome {
  decision: Decision;
  /**
   * One line per signal or error that raised the decision above `allow`, then one per allowlist
   * match and per signal an allowlist overrode; strictest first.
   */
  reasons: string[];
}

/**
 * A score to `decimals` places (1 to 6), cut rather than rounded (scores are kept to six):
 * 0.98951 is shown 0.989, never 0.990 next to the review it got below a block threshold of 0.99.
 */
export function formatScore(score: number, decimals = 3): string {
  const kept = score.toFixed(6);
  return kept.slice(0, kept.length - (6 - decimals));
}

interface Contribution {
  decision: Decision;
  reason: string;
  /** Listed among the reasons even at `allow`: why something that fired did not count. */
  explainsAllow?: boolean;
}

/**
 * The decision for a job: the strictest of what its signals ask for (each capped by its source's
 * ceiling) and of what its errors map to. Allowlists win per link target: a signal about a URL an
 * allowlist covers (same item, same `evidence.hop`) counts as `allow`, whatever its source. Pure:
 * same signals, errors and policy, same outcome.
 */
export function decide(signals: readonly Signal[], errors: readonly ErrorInfo[], policy: PolicyConfig): PolicyOutcome {
  const contributions: Contribution[] = [];
  const allowlisted = allowlistedTargets(signals);

  for (const signal of signals) {
    const what = `${signal.source}/${signal.kind} on item ${signal.item}, score ${formatScore(signal.score)}`;
    if (signal.kind === ALLOWLIST_MATCH_KIND) {
      contributions.push({ decision: 'allow', reason: `allow: ${what} (${describeAllowlistEntry(signal)}${describeOverridden(signal)})`, explainsAllow: true });
      continue;
    }
    const hidden = describeSuppressed(signal);
    if (hidden !== undefined) {
      contributions.push({ decision: signal.suggests, reason: `${signal.suggests}: ${what} (${hidden})`, explainsAllow: true });
      continue;
    }
    const allowlist = allowlisted.get(targetKey(signal) ?? '');
    if (allowlist && signal.suggests !== 'allow') {
      contributions.push({ decision: 'allow', reason: `allow: ${what} (${signal.suggests} overridden by ${describeAllowlistEntry(allowlist)})`, explainsAllow: true });
      continue;
    }
    const ceiling = isSignalSource(signal.source) ? policy.maxDecisionBySource[signal.source] : undefined;
    const decision = ceiling ? mildest(signal.suggests, ceiling) : signal.suggests;
    const capped = decision !== signal.suggests ? ` (capped from ${signal.suggests} for source ${signal.source})` : '';
    // A signal capped down to allow still says why it did not count.
    contributions.push({ decision, reason: `${decision}: ${what}${capped}`, ...(capped && { explainsAllow: true }) });
  }
  for (const error of errors) {
    const decision = (error.partial ? policy.partialErrorDecisions[error.code] : undefined) ?? policy.errorDecisions[error.code] ?? policy.defaultErrorDecision;
    const where = error.item === undefined ? 'job' : `item ${error.item}`;
    const signalType = typeof error.detail?.signalType === 'string' ? ` in signal type ${error.detail.signalType}` : '';
    contributions.push({ decision, reason: `${decision}: ${error.partial ? 'partial ' : ''}error ${error.code}${signalType} on ${where}` });
  }

  const decision = contributions.reduce<Decision>((acc, c) => strictest(acc, c.decision), 'allow');
  const reasons = contributions
    .filter((c) => c.decision !== 'allow' || c.explainsAllow)
    .sort((a, b) => RANK[b.decision] - RANK[a.decision])
    .map((c) => c.reason);
  return { decision, reasons };
}

/** `item:hop` of a signal about one URL of a link; undefined for signals about anything else. */
function targetKey(signal: Signal): string | undefined {
  return typeof signal.evidence.hop === 'number' ? `${signal.item}:${signal.evidence.hop}` : undefined;
}

/** The allowlist signal of every allowlisted link target, by target. */
function allowlistedTargets(signals: readonly Signal[]): Map<string, Signal> {
  const byTarget = new Map<string, Signal>();
  for (const signal of signals) {
    const key = signal.kind === ALLOWLIST_MATCH_KIND ? targetKey(signal) : undefined;
    if (key !== undefined && !byTarget.has(key)) byTarget.set(key, signal);
  }
  return byTarget;
}

function describeAllowlistEntry(allowlist: Signal): string {
  const { list, entry, hop } = allowlist.evidence;
  return `allowlist ${String(list)} entry ${String(entry)} on hop ${String(hop)}`;
}

/** Entries named at most in one reason line; the rest are counted. */
const NAMED_IN_REASON = 3;

function namedList(names: string[]): string {
  const shown = names.slice(0, NAMED_IN_REASON).join(', ');
  return names.length > NAMED_IN_REASON ? `${shown} and ${names.length - NAMED_IN_REASON} more` : shown;
}

/** `; it overrode phish/evil.example`: the blocklist entries an allowlist match took the place of (its evidence.overrode). */
function describeOverridden(allowlist: Signal): string {
  const overrode = Array.isArray(allowlist.evidence.overrode) ? (allowlist.evidence.overrode as Array<Record<string, unknown>>) : [];
  if (overrode.length === 0) return '';
  return `; it overrode ${namedList(overrode.map((o) => `${String(o.list)}/${String(o.entry)}`))}`;
}

/**
 * For a known-good hash-set match that hid hits of block or review sets (its evidence.suppressed),
 * which hits at what distances; undefined for any other signal. Without it an image matching a
 * known-bad entry came out allow with no reason at all.
 */
function describeSuppressed(signal: Signal): string | undefined {
  const { knownGood, suppressed, set, entryId, distance } = signal.evidence;
  if (knownGood !== true || !Array.isArray(suppressed) || suppressed.length === 0) return undefined;
  const hid = namedList((suppressed as Array<Record<string, unknown>>).map((s) => `${String(s.set)}/${String(s.entryId)} at distance ${String(s.distance)}`));
  return `known-good ${String(set)}/${String(entryId)} at distance ${String(distance)} hid ${hid}`;
}
