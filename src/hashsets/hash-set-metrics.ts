import { Counter, Gauge, type Registry } from 'prom-client';

/** Hash-set matching metrics, on the registry the process exposes on /metrics. */
export class HashSetMetrics {
  readonly matches: Counter<'set' | 'suggests'>;
  readonly quarantines: Counter<'set'>;
  readonly quarantined: Gauge<'set'>;
  readonly entries: Gauge<'set'>;

  constructor(registry: Registry) {
    this.matches = new Counter({
      name: 'abuse_scan_hashset_matches_total',
      help: 'Hash-set matches reported in verdicts, by set and the decision they suggested',
      labelNames: ['set', 'suggests'] as const,
      registers: [registry],
    });
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
