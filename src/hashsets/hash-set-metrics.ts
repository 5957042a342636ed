import { Counter, Gauge, type Registry } from 'prom-client';
import type { Signal } from '../jobs/verdict-schema.js';

/** abuse_scan_hashset_matches_total: hash-set signals of stored verdicts, by set and suggestion. */
export type HashSetMatchCounter = Counter<'set' | 'suggests'>;

const MATCHES_METRIC = 'abuse_scan_hashset_matches_total';

/**
 * The registry's hash-set match counter, registered on first use: the hash-set signal type's
 * metrics and the worker that counts its verdicts share one counter, whichever comes first.
 */
export function hashSetMatchesCounter(registry: Registry): HashSetMatchCounter {
  const registered = registry.getSingleMetric(MATCHES_METRIC);
  if (registered) return registered as HashSetMatchCounter;
  return new Counter({
    name: MATCHES_METRIC,
    help: 'Hash-set matches reported in verdicts, by set and the decision they suggested',
    labelNames: ['set', 'suggests'] as const,
    registers: [registry],
  });
}

/**
 * Counts the hash-set signals of one verdict (`evidence.set`, `suggests`). Call it once per verdict
 * stored: matching runs again on every attempt of a job, a verdict is stored once.
 */
export function countHashSetMatches(counter: HashSetMatchCounter, signals: readonly Signal[]): void {
  for (const signal of signals) {
    if (signal.source !== 'hashset') continue;
    const set = signal.evidence.set;
    if (typeof set === 'string') counter.inc({ set, suggests: signal.suggests });
  }
}

/** Hash-set matching metrics, on the registry the process exposes on /metrics. */
export class HashSetMetrics {
  /** Counted per stored verdict by its worker (countHashSetMatches), not by matching. */
  readonly matches: HashSetMatchCounter;
  readonly quarantines: Counter<'set'>;
  readonly quarantined: Gauge<'set'>;
  readonly entries: Gauge<'set'>;

  constructor(registry: Registry) {
    this.matches = hashSetMatchesCounter(registry);
    this.quarantines = new Counter({
      name: 'abuse_scan_hashset_quarantines_total',
      help: 'Entries this process quarantined for matching too many distinct items (flood guard); 0 from the set\'s load on',
      labelNames: ['set'] as const,
      registers: [registry],
    });
    this.quarantined = new Gauge({
      name: 'abuse_scan_hashset_quarantined_entries',
      help: 'Quarantined entries of each set in Redis, read at each version check of the replicas (every 5 s by default) and at each quarantine',
      labelNames: ['set'] as const,
      registers: [registry],
    });
    this.entries = new Gauge({
      name: 'abuse_scan_hashset_entries',
      help: 'Matchable entries of each set held by this process',
      labelNames: ['set'] as const,
      registers: [registry],
    });
  }
}
