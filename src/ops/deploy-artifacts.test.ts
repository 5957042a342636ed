import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ERROR_CODES } from '../errors.js';
import { HashSetMetrics } from '../hashsets/hash-set-metrics.js';
import { FleetMetrics } from './metrics.js';

const deploy = (path: string) => fileURLToPath(new URL(`../../deploy/${path}`, import.meta.url));

/** Every series name a worker process exposes on /metrics (histograms and counters with their suffixes). */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = new FleetMetrics({ defaultMetrics: true });
  new HashSetMetrics(metrics.registry);
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

function metricNamesIn(expression: string): string[] {
  return [...expression.matchAll(/\babuse_scan_[a-z0-9_]+/g)].map((match) => match[0]);
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

describe('Prometheus alert rules (deploy/prometheus)', () => {
  const rules = (parse(readFileSync(deploy('prometheus/abuse-scan-alerts.yml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((g) => g.rules);

  it('query only metrics the workers export, and error codes the fleet has', async () => {
    const exported = await exportedSeries();
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      const names = metricNamesIn(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${rule.alert}: ${name}`).toContain(name);
      for (const [, codes] of rule.expr.matchAll(/code=~"([^"]+)"/g)) {
        for (const code of codes!.split('|')) expect(Object.keys(ERROR_CODES), `${rule.alert}: ${code}`).toContain(code);
      }
    }
  });

  it('each have a unique name, a severity, a summary and a description', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
    }
  });
});

describe('Grafana dashboard (deploy/grafana)', () => {
  const dashboard = JSON.parse(readFileSync(deploy('grafana/abuse-scan-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  };

  it('charts only metrics the workers export, and every panel has a query', async () => {
    const exported = await exportedSeries();
    const charts = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(charts.length).toBeGreaterThan(10);
    for (const panel of charts) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        for (const name of metricNamesIn(expr)) expect(exported, `${panel.title}: ${name}`).toContain(name);
      }
    }
  });

  it('charts every metric of the fleet registry (a new metric gets a panel)', async () => {
    const fleet = new FleetMetrics();
    new HashSetMetrics(fleet.registry);
    const charted = new Set(dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((t) => metricNamesIn(t.expr))).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    for (const metric of await fleet.registry.getMetricsAsJSON()) expect(charted, metric.name).toContain(metric.name);
  });
});
