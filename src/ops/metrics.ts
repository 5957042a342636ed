import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { withDeadline } from '../runtime/deadline.js';
import type { Backlog } from './backlog.js';

/** How long a scrape waits for the backlog from Redis: well inside Prometheus' default 10 s scrape timeout. */
export const BACKLOG_READ_TIMEOUT_MS = 2000;

/**
 * The `stream` label of abuse_scan_verdict_stream_entries: the results stream's key without the
 * fleet prefix (which is the `prefix` label). The gauge needs a label: prom-client's reset()
 * leaves an unlabelled gauge at 0 instead of removing it, and a scrape that could not read Redis
 * must show no backlog series at all, not an empty stream.
 */
export const VERDICT_STREAM_LABEL = 'verdicts';

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

  readonly errorVerdicts = new Counter({
    name: 'abuse_scan_error_verdicts_total',
    help: 'Verdicts of jobs that could not be scanned at all (refused as invalid, stalled too often, out of retries), by scan queue and job-level error code: one per verdict stored (abuse_scan_errors_total counts every error, item errors included)',
    labelNames: ['queue', 'code'] as const,
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
    help: 'Time from a worker taking a scan job to its verdict being stored, observed for the attempts that stored a verdict (failed attempts count in abuse_scan_job_retries_total)',
    labelNames: ['queue'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly queueWaitSeconds = new Histogram({
    name: 'abuse_scan_queue_wait_seconds',
    help: 'Time a scan job attempt waited from becoming runnable (added and due, or its retry backoff over) until a worker took it; not observed for an attempt after a stall',
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

  readonly queueConcurrency = new Gauge({
    name: 'abuse_scan_worker_queue_concurrency',
    help: 'Jobs of each scan queue this process takes at once, for the queues it serves only: a queue no scraped process reports has no worker (AbuseScanQueueUnserved)',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly queueJobs = new Gauge({
    name: 'abuse_scan_queue_jobs',
    help: 'Scan jobs in each queue by state, read from Redis at scrape time (the same for every worker: aggregate with max)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
    collect: () => this.refreshBacklog(),
  });

  readonly verdictStreamEntries = new Gauge({
    name: 'abuse_scan_verdict_stream_entries',
    help: 'Entries on the results stream (capped by ABUSE_SCAN_VERDICT_STREAM_MAXLEN), read at scrape time; absent when Redis could not be read',
    labelNames: ['stream'] as const,
    registers: [this.registry],
    collect: () => this.refreshBacklog(),
  });

  readonly verdictConsumerLag = new Gauge({
    name: 'abuse_scan_verdict_consumer_lag',
    help: 'Verdicts on the results stream a consumer group has not read yet, read at scrape time',
    labelNames: ['group'] as const,
    registers: [this.registry],
    collect: () => this.refreshBacklog(),
  });

  readonly verdictConsumerPending = new Gauge({
    name: 'abuse_scan_verdict_consumer_pending',
    help: 'Verdicts delivered to a consumer group and not acknowledged yet, read at scrape time',
    labelNames: ['group'] as const,
    registers: [this.registry],
    collect: () => this.refreshBacklog(),
  });

  readonly backlogReadFailures = new Counter({
    name: 'abuse_scan_backlog_read_failures_total',
    help: `Scrapes whose queue and stream gauges could not be read from Redis within ${BACKLOG_READ_TIMEOUT_MS / 1000} s (the gauges are then left empty)`,
    registers: [this.registry],
    collect: () => this.refreshBacklog(),
  });

  private backlogSource: (() => Promise<Backlog>) | undefined;
  /** The backlog read of the scrape under way, shared by the gauges it collects. */
  private scrapeBacklog: Promise<void> | undefined;
  /** The read sent to Redis, until Redis answers it: it may outlive the scrape that gave up on it. */
  private backlogInFlight: Promise<Backlog> | undefined;

  /** Labels on every series of the registry, whoever registered the metric (hash-set and default metrics too). */
  readonly defaultLabels: Readonly<Record<string, string>>;

  /**
   * `prefix`: the fleet's queue prefix, exported as the `prefix` label of every series, so one
   * Prometheus scraping several fleets keeps their shared queue and stream gauges apart.
   */
  constructor(options: { defaultMetrics?: boolean; prefix?: string } = {}) {
    this.defaultLabels = options.prefix === undefined ? {} : { prefix: options.prefix };
    this.registry.setDefaultLabels({ ...this.defaultLabels });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'abuse_scan_' });
  }

  /** Makes every scrape read the queue and results-stream backlog through `read` (one read per scrape). */
  readBacklogOnScrape(read: () => Promise<Backlog>): void {
    this.backlogSource = read;
  }

  /**
   * The registry collects all metrics of a scrape at once, so the backlog gauges share the read
   * under way instead of each asking Redis.
   */
  private refreshBacklog(): Promise<void> | undefined {
    const read = this.backlogSource;
    if (!read) return undefined;
    this.scrapeBacklog ??= this.readBacklogInTime(read)
      .then((backlog) => this.setBacklog(backlog))
      .catch(() => {
        this.setBacklog(undefined);
        this.backlogReadFailures.inc();
      })
      .finally(() => (this.scrapeBacklog = undefined));
    return this.scrapeBacklog;
  }

  /**
   * While Redis is away the shared connection holds commands until it reconnects (BullMQ needs
   * `maxRetriesPerRequest: null`), so a scrape gives up on the read after
   * BACKLOG_READ_TIMEOUT_MS and still answers with everything else. Only one read is sent at a
   * time: a scrape while an earlier read is still unanswered fails at once rather than queue
   * another command behind it.
   */
  private async readBacklogInTime(read: () => Promise<Backlog>): Promise<Backlog> {
    if (this.backlogInFlight) throw new Error('the previous backlog read is still unanswered');
    const inFlight = read().finally(() => (this.backlogInFlight = undefined));
    this.backlogInFlight = inFlight;
    return withDeadline(inFlight, BACKLOG_READ_TIMEOUT_MS, () => new Error(`no backlog from Redis within ${BACKLOG_READ_TIMEOUT_MS} ms`));
  }

  /** Every backlog gauge is labelled, so reset() removes its series (an unlabelled one would show 0). */
  private setBacklog(backlog: Backlog | undefined): void {
    this.queueJobs.reset();
    this.verdictStreamEntries.reset();
    this.verdictConsumerLag.reset();
    this.verdictConsumerPending.reset();
    if (!backlog) return;
    for (const { queue, state, count } of backlog.jobs) this.queueJobs.set({ queue, state }, count);
    this.verdictStreamEntries.set({ stream: VERDICT_STREAM_LABEL }, backlog.verdictStreamEntries);
    for (const { group, lag, pending } of backlog.consumerGroups) {
      if (lag !== null) this.verdictConsumerLag.set({ group }, lag);
      this.verdictConsumerPending.set({ group }, pending);
    }
  }
}
