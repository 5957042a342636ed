import type { ErrorInfo } from '../errors.js';
import type { Decision, Signal } from '../jobs/verdict-schema.js';
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
  /** One line per signal or error that raised the decision above `allow`, strictest first. */
  reasons: string[];
}

/**
 * The decision for a job: the strictest of what its signals ask for (each capped by its source's
 * ceiling) and of what its errors map to. Pure: same signals, errors and policy, same outcome.
 */
export function decide(signals: readonly Signal[], errors: readonly ErrorInfo[], policy: PolicyConfig): PolicyOutcome {
  const contributions: Array<{ decision: Decision; reason: string }> = [];

  for (const signal of signals) {
    const ceiling = policy.maxDecisionBySource[signal.source];
    const decision = ceiling ? mildest(signal.suggests, ceiling) : signal.suggests;
    const capped = decision !== signal.suggests ? ` (capped from ${signal.suggests} for source ${signal.source})` : '';
    contributions.push({
      decision,
      reason: `${decision}: ${signal.source}/${signal.kind} on item ${signal.item}, score ${signal.score.toFixed(3)}${capped}`,
    });
  }
  for (const error of errors) {
    const table = error.partial ? policy.partialErrorDecisions : policy.errorDecisions;
    const decision = table[error.code] ?? policy.defaultErrorDecision;
    const where = error.item === undefined ? 'job' : `item ${error.item}`;
    contributions.push({ decision, reason: `${decision}: ${error.partial ? 'partial ' : ''}error ${error.code} on ${where}` });
  }

  const decision = contributions.reduce<Decision>((acc, c) => strictest(acc, c.decision), 'allow');
  const reasons = contributions
    .filter((c) => c.decision !== 'allow')
    .sort((a, b) => RANK[b.decision] - RANK[a.decision])
    .map((c) => c.reason);
  return { decision, reasons };
}
