import { Queue, Worker, type Job } from 'bullmq';
import { jobLimits, type FleetConfig } from '../config/config.js';
import { ScanError, toScanError } from '../errors.js';
import type { Verdict } from '../jobs/verdict-schema.js';
import { validateJob, type JobValidationOptions } from '../jobs/validate-job.js';
import type { ScanQueueKind } from '../queues/names.js';
import { readBacklog, type Backlog } from '../ops/backlog.js';
import type { FleetMetrics } from '../ops/metrics.js';
import { errorVerdict, type ScanPipeline } from '../pipeline/scan-pipeline.js';
import type { Logger } from '../runtime/logger.js';
import type { RedisClient } from '../runtime/redis.js';
import { VerdictEmitter } from '../verdicts/verdict-emitter.js';
import { VerdictStore } from '../verdicts/verdict-store.js';
import { FailedJobSweeper } from './failed-job-sweeper.js';

export interface ScanWorkerOptions {
  config: FleetConfig;
  pipeline: ScanPipeline;
  /** Shared client for queue commands; BullMQ duplicates it for its blocking reads. */
  connection: RedisClient;
  logger: Logger;
  metrics: FleetMetrics;
}

/** What the processor returns to BullMQ (the verdict itself goes to the results stream). */
interface ScanResult {
  decision: Verdict['decision'];
}

/** BullMQ's message for a job that stalled more than `maxStalledCount` times. */
const STALLED_MESSAGE = /stalled more than allowable limit/i;

/** Why abandon() aborts the scans in flight; shared, so an abort captures no stack. */
const SHUTDOWN_TIMED_OUT = new Error('the worker gave up this job: shutdown timed out');

/**
 * A runnable that takes scan jobs from the configured queues, runs the pipeline and stores exactly
 * one verdict per job. `run()` starts taking work; `shutdown()` stops taking work, lets in-flight
 * jobs finish and their verdicts land, then releases its connections.
 */
export class ScanWorker {
  private readonly workers: Worker[] = [];
  private readonly queues: Queue[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  private readonly store: VerdictStore;
  private readonly validation: JobValidationOptions;
  private readonly emitter: VerdictEmitter;
  private stopping: Promise<void> | undefined;
  /** Jobs being processed: what abandon() names. */
  private readonly inProcess = new Set<Job>();
  /** Aborted by abandon(): one signal for every scan, not a controller per job (µs per job count here). */
  private readonly abandonment = new AbortController();

  constructor(private readonly options: ScanWorkerOptions) {
    const { config, connection } = options;
    this.store = new VerdictStore(connection, {
      prefix: config.prefix,
      retentionSeconds: config.verdictRetentionSeconds,
      streamMaxLength: config.verdictStreamMaxLength,
    });
    this.emitter = new VerdictEmitter(this.store);
    this.validation = { imageRoot: config.imageRoot, limits: jobLimits(config) };
  }

  get running(): boolean {
    return this.workers.length > 0 && this.stopping === undefined;
  }

  async run(): Promise<void> {
    const { config, connection, logger } = this.options;
    for (const queue of config.queues) {
      const worker = new Worker<unknown, ScanResult>(queue, (job) => this.process(queue, job), {
        connection,
        prefix: config.prefix,
        concurrency: config.concurrency,
        lockDuration: config.lockDurationMs,
        stalledInterval: config.stalledIntervalMs,
        maxStalledCount: config.maxStalledCount,
        autorun: false,
      });
      worker.on('failed', (job, error) => void this.onFailed(queue, job, error));
      worker.on('error', (error) => logger.error({ err: error, queue }, 'worker error'));
      this.workers.push(worker);
      // The workers already report the shared connection's errors; without a listener BullMQ
      // would print them raw to stderr, the AUTH command's password included.
      this.queues.push(new Queue(queue, { connection, prefix: config.prefix }).on('error', () => undefined));
    }
    try {
      await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
    } catch (error) {
      if (this.stopping) return; // shut down while starting: closing the workers failed their wait
      throw error;
    }
    if (this.stopping) return; // shut down while starting: take no job
    for (const worker of this.workers) void worker.run();
    this.startSweeping();
    logger.info({ queues: config.queues, concurrency: config.concurrency, prefix: config.prefix }, 'scan worker started');
  }

  /** Job counts of the queues this worker serves and the results stream's consumer lag (for /metrics). */
  backlog(): Promise<Backlog> {
    return readBacklog(this.queues, this.options.connection, this.store.keys.stream);
  }

  /**
   * Stops taking jobs, waits for in-flight ones and their verdicts. Safe to call twice, and while
   * run() is still starting (no job is taken then). BullMQ's close never returns while Redis is
   * unreachable (taskforcesh/bullmq#4656): the process bounds it and calls abandon().
   */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      this.options.logger.info('scan worker stopping: finishing in-flight jobs');
      clearTimeout(this.sweepTimer);
      await this.sweeping; // a sweep under way still stores its verdicts
      await Promise.all(this.workers.map((worker) => worker.close()));
      await this.emitter.flush();
      await Promise.all(this.queues.map((queue) => queue.close()));
      this.options.logger.info('scan worker stopped');
    })();
    return this.stopping;
  }

  /**
   * Gives up the jobs in flight (shutdown took too long), right before the process exits: their
   * scans are aborted, they get no verdict, and their locks are left to expire, after which the
   * stalled checker of a running worker hands them out again (store-once keeps one verdict each).
   */
  abandon(): void {
    const jobs = [...this.inProcess].map((job) => ({ queue: job.queueName, jobId: job.id }));
    this.options.logger.warn({ jobs, lockDurationMs: this.options.config.lockDurationMs }, `abandoning ${jobs.length} job(s) in flight; they run again once their locks expire`);
    this.abandonment.abort(SHUTDOWN_TIMED_OUT);
  }

  private async process(queue: ScanQueueKind, job: Job<unknown, ScanResult>): Promise<ScanResult> {
    const { config, pipeline, metrics } = this.options;
    const jobId = job.id ?? 'unknown';
    const attempt = job.attemptsMade + 1;
    const finalAttempt = attempt >= (job.opts.attempts ?? 1);
    const started = Date.now();
    this.inProcess.add(job);
    metrics.inFlight.inc({ queue });
    metrics.queueWaitSeconds.observe({ queue }, Math.max(0, started - job.timestamp) / 1000);
    try {
      let verdict: Verdict;
      try {
        const scanJob = validateJob(job.data, this.validation);
        const signal = this.abandonment.signal;
        verdict = await pipeline.scan(scanJob, { jobId, attempt, finalAttempt, queueWaitMs: Math.max(0, started - job.timestamp), signal });
      } catch (thrown) {
        const error = toScanError(thrown);
        if (!error.permanent && !finalAttempt) {
          metrics.retries.inc({ queue });
          throw error;
        }
        verdict = errorVerdict(job.data, { jobId, attempt }, error.permanent ? error : exhausted(error), config.policy, pipeline.versions());
      }
      // A scan cut short by abandon() owes no verdict (store-once would keep it): the job runs again.
      if (this.abandonment.signal.aborted) throw SHUTDOWN_TIMED_OUT;
      if (await this.emitter.emit(verdict)) {
        metrics.verdicts.inc({ queue, decision: verdict.decision });
        for (const error of verdict.errors) metrics.errors.inc({ code: error.code });
      }
      return { decision: verdict.decision };
    } finally {
      this.inProcess.delete(job);
      metrics.inFlight.dec({ queue });
      metrics.scanSeconds.observe({ queue }, (Date.now() - started) / 1000);
    }
  }

  /** Every stalled interval, gives a verdict to failed jobs that lack one (store-once dedups). */
  private startSweeping(): void {
    const { config, connection } = this.options;
    const sweepers = this.queues.map((queue) => ({
      kind: queue.name as ScanQueueKind,
      sweeper: new FailedJobSweeper(queue, connection, this.store, { windowMs: config.verdictRetentionSeconds * 1000 }),
    }));
    const tick = async () => {
      for (const { kind, sweeper } of sweepers) {
        await sweeper.sweep((job) => this.giveFailedJobVerdict(kind, job, new Error(job.failedReason)));
      }
    };
    const schedule = () => {
      this.sweepTimer = setTimeout(() => {
        this.sweeping = tick()
          .catch((error: unknown) => this.options.logger.error({ err: error }, 'failed-job sweep failed'))
          .finally(() => this.stopping === undefined && schedule());
      }, config.stalledIntervalMs);
      this.sweepTimer.unref();
    };
    schedule();
  }

  /** BullMQ's failed event: fires for every failed attempt; only a job failed for good is owed a verdict here. */
  private async onFailed(queue: ScanQueueKind, job: Job | undefined, error: Error): Promise<void> {
    if (!job) return;
    const outOfAttempts = job.attemptsMade >= (job.opts.attempts ?? 1);
    if (STALLED_MESSAGE.test(error.message) || outOfAttempts) await this.giveFailedJobVerdict(queue, job, error);
  }

  /**
   * A job that failed for good without a verdict (it stalled too often because workers crashed
   * under it, or storing its verdict kept failing) still owes its consumer one verdict. Resolves
   * whether it has one now; a failed write is left to the next sweep.
   */
  private async giveFailedJobVerdict(queue: ScanQueueKind, job: Job, error: Error): Promise<boolean> {
    const { config, pipeline, logger, metrics } = this.options;
    const cause = STALLED_MESSAGE.test(error.message) ? new ScanError('job_stalled', error.message) : exhausted(toScanError(error));
    try {
      const verdict = errorVerdict(job.data, { jobId: job.id ?? 'unknown', attempt: job.attemptsMade }, cause, config.policy, pipeline.versions());
      if (await this.emitter.emit(verdict)) {
        metrics.verdicts.inc({ queue, decision: verdict.decision });
        metrics.errors.inc({ code: cause.code });
      }
      return true;
    } catch (emitError) {
      logger.error({ err: emitError, jobId: job.id }, 'could not store the error verdict of a failed job; the next sweep retries');
      return false;
    }
  }
}

function exhausted(error: ScanError): ScanError {
  return new ScanError('retries_exhausted', `${error.code}: ${error.message}`, { lastCode: error.code });
}
