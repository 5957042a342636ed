import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkPromqlLabels } from '../../test/harness/promql-labels.js';
import { ERROR_CODES } from '../errors.js';
import { HashSetMetrics } from '../hashsets/hash-set-metrics.js';
import { FleetMetrics } from './metrics.js';

const deploy = (path: string) => fileURLToPath(new URL(`../../deploy/${path}`, import.meta.url));

/** Labels Prometheus adds to every series it scrapes (its target labels). */
const TARGET_LABELS = ['instance', 'job'];

/**
 * Every series a worker process exposes on /metrics (histograms with their suffixes) and its label
 * names: the registry as src/cli/worker-command.ts builds it, with the hash-set metrics.
 */
function exportedLabels(): Map<string, Set<string>> {
  const metrics = new FleetMetrics({ defaultMetrics: true, prefix: '{abuse-scan}' });
  new HashSetMetrics(metrics.registry);
  const series = new Map<string, Set<string>>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    // prom-client keeps each metric's label names on it, untyped.
    const own = (metric as { labelNames?: readonly string[] }).labelNames ?? [];
    const labels = [...own, ...Object.keys(metrics.defaultLabels), ...TARGET_LABELS];
    if (String(metric.type) === 'histogram') {
      series.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
      for (const suffix of ['_sum', '_count']) series.set(metric.name + suffix, new Set(labels));
    } else {
      series.set(metric.name, new Set(String(metric.type) === 'summary' ? [...labels, 'quantile'] : labels));
    }
  }
  return series;
}

const exported = exportedLabels();
const labelsOf = (series: string) => exported.get(series);

function metricNamesIn(expression: string): string[] {
  return [...expression.matchAll(/\babuse_scan_[a-z0-9_]+/g)].map((match) => match[0]);
}

/** Label names a template (`{{ $labels.queue }}`, a legend's `{{queue}}`) refers to. */
function templateLabels(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => match[1]!);
}

describe('label checks of deploy/ queries', () => {
  it('find labels a series lacks, labels an inner aggregation dropped, and fleets merged', () => {
    expect(checkPromqlLabels('sum by (queue, fleet) (abuse_scan_queue_jobs{stat="wait", prefix="$prefix"})', labelsOf).problems).toEqual([
      'abuse_scan_queue_jobs{stat=...}: no label stat',
      'sum by (queue, fleet): no label fleet (has instance, job, prefix, queue, state)',
    ]);
    expect(checkPromqlLabels('sum by (prefix, queue) (max by (queue, state) (abuse_scan_queue_jobs))', labelsOf).problems).toEqual([
      'sum by (prefix, queue): no label prefix (has queue, state)',
    ]);
    expect(checkPromqlLabels('histogram_quantile(0.9, sum by (queue) (rate(abuse_scan_job_duration_seconds_bucket[5m])))', labelsOf).problems).toEqual([
      'histogram_quantile: no label le (has queue)',
    ]);
    expect(checkPromqlLabels('max by (queue) (abuse_scan_queue_jobs)', labelsOf).merging).toEqual(['max by (queue) drops prefix']);
    expect(checkPromqlLabels('max by (queue) (abuse_scan_queue_jobs{prefix="$prefix"})', labelsOf)).toEqual({ labels: ['queue'], problems: [], merging: [] });
    expect(checkPromqlLabels('max by (prefix, queue) (abuse_scan_queue_jobs) > 0', labelsOf)).toEqual({ labels: ['prefix', 'queue'], problems: [], merging: [] });
  });
});

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

describe('Prometheus alert rules (deploy/prometheus)', () => {
  const rules = (parse(readFileSync(deploy('prometheus/abuse-scan-alerts.yml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((g) => g.rules);

  it('query only metrics the workers export, and error codes the fleet has', () => {
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      const names = metricNamesIn(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${rule.alert}: ${name}`).toBe(true);
      for (const [, codes] of rule.expr.matchAll(/code=~"([^"]+)"/g)) {
        for (const code of codes!.split('|')) expect(Object.keys(ERROR_CODES), `${rule.alert}: ${code}`).toContain(code);
      }
    }
  });

  it('use only labels their series have, name them in annotations only when the result keeps them, and keep fleets apart', () => {
    for (const rule of rules) {
      const { labels, problems, merging } = checkPromqlLabels(rule.expr, labelsOf);
      expect(problems, rule.alert).toEqual([]);
      expect(merging, rule.alert).toEqual([]);
      const annotations = `${rule.annotations.summary}\n${rule.annotations.description}`;
      for (const label of templateLabels(annotations, /\$labels\.([a-zA-Z_]\w*)/g)) expect(labels, `${rule.alert}: $labels.${label}`).toContain(label);
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
    templating: { list: Array<{ name: string; type: string; query: string }> };
    panels: Array<{ type: string; title: string; targets?: Array<{ expr: string; legendFormat?: string }> }>;
  };

  it('charts only metrics the workers export, and every panel has a query', () => {
    const charts = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(charts.length).toBeGreaterThan(10);
    for (const panel of charts) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        for (const name of metricNamesIn(expr)) expect(exported.has(name), `${panel.title}: ${name}`).toBe(true);
      }
    }
  });

  it('queries only labels their series have, shows one fleet at a time, and legends name labels the result has', () => {
    for (const panel of dashboard.panels) {
      for (const { expr, legendFormat } of panel.targets ?? []) {
        const { labels, problems, merging } = checkPromqlLabels(expr, labelsOf);
        expect(problems, panel.title).toEqual([]);
        expect(merging, `${panel.title}: ${expr}`).toEqual([]);
        for (const label of templateLabels(legendFormat ?? '', /\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)) expect(labels, `${panel.title}: legend ${label}`).toContain(label);
      }
    }
  });

  it('template variables read labels the series have', () => {
    const queries = dashboard.templating.list.filter((variable) => variable.type === 'query');
    expect(queries.map((variable) => variable.name)).toEqual(['prefix', 'instance']);
    for (const { name, query } of queries) {
      const [, selector, label] = /^label_values\((.+),\s*([a-zA-Z_]\w*)\)$/.exec(query) ?? [];
      expect(selector, name).toBeDefined();
      const { labels, problems } = checkPromqlLabels(selector!, labelsOf);
      expect(problems, name).toEqual([]);
      expect(labels, name).toContain(label);
    }
  });

  it('charts every metric of the fleet registry (a new metric gets a panel)', async () => {
    const fleet = new FleetMetrics();
    new HashSetMetrics(fleet.registry);
    const charted = new Set(dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((t) => metricNamesIn(t.expr))).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    for (const metric of await fleet.registry.getMetricsAsJSON()) expect(charted, metric.name).toContain(metric.name);
  });
});
