import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The fleet's Prometheus metrics, on a registry of their own (no global state between tests). */
export class FleetMetrics {
  readonly registry = new Registry();

  readonly verdicts = new Counter({
    name: 'abuse_scan_verdicts_total',
    help: 'Verdicts emitted, by scan queue and decision',
    labelNames: ['queue', 'decision'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'abuse_scan_errors_total',
    help: 'Errors recorded in verdicts, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'abuse_scan_job_retries_total',
    help: 'Scan attempts that failed transiently and will be retried',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly scanSeconds = new Histogram({
    name: 'abuse_scan_job_duration_seconds',
    help: 'Time from a worker taking a scan job to its verdict being stored',
    labelNames: ['queue'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly queueWaitSeconds = new Histogram({
    name: 'abuse_scan_queue_wait_seconds',
    help: 'Time a scan job waited in its queue before a worker took it',
    labelNames: ['queue'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });

  readonly inFlight = new Gauge({
    name: 'abuse_scan_jobs_in_flight',
    help: 'Scan jobs being processed by this process',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'abuse_scan_' });
  }
}
