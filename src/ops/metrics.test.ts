import { describe, expect, it } from 'vitest';
import { HashSetMetrics } from '../hashsets/hash-set-metrics.js';
import { FleetMetrics } from './metrics.js';

describe('fleet metrics', () => {
  it('label every series with the fleet\'s queue prefix, hash-set, backlog and default metrics included', async () => {
    const metrics = new FleetMetrics({ defaultMetrics: true, prefix: '{fleet-a}' });
    const hashSets = new HashSetMetrics(metrics.registry);
    metrics.readBacklogOnScrape(async () => ({
      jobs: [{ queue: 'links', state: 'wait', count: 4 }],
      verdictStreamEntries: 9,
      consumerGroups: [{ group: 'moderation', lag: 1, pending: 0 }],
    }));
    metrics.verdicts.inc({ queue: 'links', decision: 'allow' });
    metrics.scanSeconds.observe({ queue: 'links' }, 0.2);
    hashSets.quarantines.inc({ set: 'bad' }, 0);

    const text = await metrics.registry.metrics();
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(20);
    for (const line of samples) expect(line).toContain('prefix="{fleet-a}"');
    expect(text).toContain('abuse_scan_verdicts_total{queue="links",decision="allow",prefix="{fleet-a}"} 1');
    expect(text).toContain('abuse_scan_verdict_stream_entries{stream="verdicts",prefix="{fleet-a}"} 9');
    expect(text).toContain('abuse_scan_hashset_quarantines_total{set="bad",prefix="{fleet-a}"} 0');
  });
});
