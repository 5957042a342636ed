import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/harness/fleet.js';
import { seededHash } from '../../test/harness/hashes.js';
import { suiteRedis } from '../../test/harness/redis.js';
import { createLogger } from '../runtime/logger.js';
import { RedisFloodGuard } from './flood-guard.js';
import type { Signal } from '../jobs/verdict-schema.js';
import { countHashSetMatches, hashSetMatchesCounter, HashSetMetrics } from './hash-set-metrics.js';
import { HashSetReplicas } from './hash-set-replicas.js';
import { HashSetStore } from './hash-set-store.js';

/** The value of one series in the registry's exposition, undefined when it is not exported. */
async function sample(registry: Registry, series: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('hash-set metrics of a worker, against Redis', () => {
  const { prefix, redis } = suiteRedis('hashset-metrics');
  const store = new HashSetStore(redis, { prefix });

  async function startReplicas(registry: Registry, checkIntervalMs = 60_000) {
    const metrics = new HashSetMetrics(registry);
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs, metrics });
    await replicas.start();
    return { metrics, replicas };
  }

  it('export every loaded set\'s quarantine counter at 0 before its first quarantine (so increase() sees the first)', async () => {
    await store.create({ name: 'calm', algorithm: 'pdq' });
    const registry = new Registry();
    const { replicas } = await startReplicas(registry);
    try {
      expect(await sample(registry, 'abuse_scan_hashset_quarantines_total{set="calm"}')).toBe(0);
      // A set created while the worker runs gets its series when it is loaded.
      await store.create({ name: 'calm-later', algorithm: 'blockhash' });
      expect(await waitUntil(async () => replicas.get('calm-later') !== undefined, 2000, 10)).toBe(true);
      expect(await sample(registry, 'abuse_scan_hashset_quarantines_total{set="calm-later"}')).toBe(0);
    } finally {
      await replicas.close();
    }
  });

  it('the quarantined-entries gauge follows Redis: a release by another process (the CLI) brings it back to 0', async () => {
    await store.create({ name: 'flooded', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.add('flooded', [{ id: 'viral', hash: seededHash(1) }]);
    const { config } = await store.summary('flooded');
    const registry = new Registry();
    const { metrics, replicas } = await startReplicas(registry, 50);
    const series = 'abuse_scan_hashset_quarantined_entries{set="flooded"}';
    try {
      expect(await sample(registry, series)).toBe(0);
      const guard = new RedisFloodGuard(redis, prefix, metrics);
      expect(await guard.recordMatch(config, { entryNo: 0, id: 'viral' }, 'item-1')).toBe(false);
      expect(await guard.recordMatch(config, { entryNo: 0, id: 'viral' }, 'item-2')).toBe(true);
      expect(await sample(registry, series)).toBe(1);

      expect(await store.release('flooded', ['viral'])).toBe(1);
      expect(await waitUntil(async () => (await sample(registry, series)) === 0, 2000, 20)).toBe(true);

      // A quarantine by another worker (its own metrics) shows here too.
      const otherWorker = new RedisFloodGuard(redis, prefix);
      for (const item of ['item-3', 'item-4']) await otherWorker.recordMatch(config, { entryNo: 0, id: 'viral' }, item);
      expect(await store.quarantined('flooded')).toHaveLength(1);
      expect(await waitUntil(async () => (await sample(registry, series)) === 1, 2000, 20)).toBe(true);
    } finally {
      await replicas.close();
    }
  });

  it('a deleted set\'s series go with it, counters included (a set per incident grew every worker\'s /metrics until restart)', async () => {
    await store.create({ name: 'deleted', algorithm: 'pdq' });
    await store.add('deleted', [{ id: 'a', hash: seededHash(2) }]);
    const registry = new Registry();
    const { metrics, replicas } = await startReplicas(registry);
    try {
      metrics.matches.inc({ set: 'deleted', suggests: 'block' });
      expect(await sample(registry, 'abuse_scan_hashset_entries{set="deleted"}')).toBe(1);
      expect(await sample(registry, 'abuse_scan_hashset_quarantined_entries{set="deleted"}')).toBe(0);
      expect(await sample(registry, 'abuse_scan_hashset_quarantines_total{set="deleted"}')).toBe(0);
      expect(await sample(registry, 'abuse_scan_hashset_matches_total{set="deleted",suggests="block"}')).toBe(1);
      await store.delete('deleted');
      expect(await waitUntil(async () => replicas.get('deleted') === undefined, 2000, 10)).toBe(true);
      for (const series of ['entries', 'quarantined_entries', 'quarantines_total']) expect(await sample(registry, `abuse_scan_hashset_${series}{set="deleted"}`)).toBeUndefined();
      expect(await sample(registry, 'abuse_scan_hashset_matches_total{set="deleted",suggests="block"}')).toBeUndefined();
    } finally {
      await replicas.close();
    }
  });
});

describe('abuse_scan_hashset_matches_total', () => {
  const signal = (source: string, suggests: Signal['suggests'], evidence: Record<string, unknown>): Signal => ({ source, kind: 'pdq_match', item: 0, score: 1, suggests, evidence });

  it('counts the hash-set signals of a verdict by set and suggestion, and nothing else', async () => {
    const registry = new Registry();
    const counter = hashSetMatchesCounter(registry);
    countHashSetMatches(counter, [
      signal('hashset', 'block', { set: 'csam' }),
      signal('hashset', 'review', { set: 'csam', quarantined: true }),
      signal('hashset', 'allow', { set: 'logos', knownGood: true }),
      signal('blocklist', 'block', { list: 'phish' }),
      signal('hashset', 'block', { set: 'csam' }),
    ]);
    expect(await sample(registry, 'abuse_scan_hashset_matches_total{set="csam",suggests="block"}')).toBe(2);
    expect(await sample(registry, 'abuse_scan_hashset_matches_total{set="csam",suggests="review"}')).toBe(1);
    expect(await sample(registry, 'abuse_scan_hashset_matches_total{set="logos",suggests="allow"}')).toBe(1);
    expect(await registry.metrics()).not.toContain('phish');
  });

  it('is one counter per registry, whether the hash-set metrics or the worker registers it first', async () => {
    const registry = new Registry();
    const first = hashSetMatchesCounter(registry);
    const metrics = new HashSetMetrics(registry);
    expect(metrics.matches).toBe(first);
    const other = new Registry();
    expect(hashSetMatchesCounter(other)).toBe(new HashSetMetrics(other).matches);
    expect(await registry.metrics()).toContain('# HELP abuse_scan_hashset_matches_total Hash-set matches reported in verdicts');
  });
});
