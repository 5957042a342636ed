import { setMaxListeners } from 'node:events';
import { Backoffs, Queue, WaitingError, Worker, isNotConnectionError, type Job, type JobJson } from 'bullmq';
import { jobLimits, type FleetConfig } from '../config/config.js';
import { ScanError, toScanError } from '../errors.js';
import type { ScanJob } from '../jobs/job-schema.js';
import type { Verdict } from '../jobs/verdict-schema.js';
import { countHashSetMatches, hashSetMatchesCounter, type HashSetMatchCounter } from '../hashsets/hash-set-metrics.js';
import { validateJob, type JobValidationOptions } from '../jobs/validate-job.js';
import { SCAN_QUEUE_KINDS, type ScanQueueKind } from '../queues/names.js';
import { readBacklog, type Backlog } from '../ops/backlog.js';
import type { FleetMetrics } from '../ops/metrics.js';
import { errorVerdict, type ScanPipeline } from '../pipeline/scan-pipeline.js';
import { withDeadline } from '../runtime/deadline.js';
import { runScript } from '../runtime/redis-script.js';
import type { Logger } from '../runtime/logger.js';
import type { LivenessTarget, ProbedClient } from '../ops/redis-liveness.js';
import { isRedisCluster, redisAddress, type RedisClient } from '../runtime/redis.js';
import { VerdictEmitter } from '../verdicts/verdict-emitter.js';
import { verdictJobId } from '../verdicts/verdict-keys.js';
import { VerdictStore, type JobFailure, type StoreOutcome } from '../verdicts/verdict-store.js';
import { CompletedJobSweeper, FailedJobSweeper, verdictKeySeconds } from './failed-job-sweeper.js';
import { RepeatedErrorLog } from '../runtime/repeated-log.js';
import { ABANDON_TIMEOUT_MS, type ShutdownOutcome } from '../runtime/runnable.js';

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

/** How long BullMQ waits to fetch again after a fetch failed on a connection error (its default is 15 s). */
const RUN_RETRY_DELAY_MS = 2000;

/** BullMQ's message for a job that stalled more than `maxStalledCount` times. */
const STALLED_MESSAGE = /stalled more than allowable limit/i;

/**
 * Field of BullMQ's job hash where the worker of an attempt that failed transiently (and will be
 * retried) notes `<attemptsStarted>:<epoch ms>` when it ended: BullMQ keeps no end time of an
 * attempt it retries, and the retry's queue wait counts from that end plus the backoff. The hash
 * goes with the job; BullMQ ignores fields it does not know.
 */
export const ATTEMPT_END_FIELD = 'abuseScanAttemptEndedAt';
/** How long noting or reading an attempt's end may take before the queue wait is left unknown. */
const ATTEMPT_END_DEADLINE_MS = 1000;
/**
 * Notes an attempt's end (see ATTEMPT_END_FIELD) only while the attempt still holds its job's lock
 * and the job's hash exists. An attempt that lost the lock (its worker froze past the lock
 * duration) may find its job run, completed and removed by another worker meanwhile: a plain HSET
 * would then create the job's key anew, holding only this field and no TTL, and the client would
 * take the jobId for a job that exists and refuse that content for good.
 * KEYS: the job's lock key, the job's hash. ARGV: the attempt's lock token, the field, its value.
 * Returns 1 (noted) or 0 (the lock is not the attempt's, or the job is gone).
 */
const NOTE_WHILE_LOCKED = `
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
`;

/**
 * BullMQ's Worker, except that a job whose stored `data` is not JSON (a producer that wrote the
 * hash itself, an encoder that writes NaN) reaches the processor with its raw text as data, so
 * validation refuses it (`invalid_job`) and it gets its verdict. BullMQ parses the data before any
 * processor runs: such a job stayed active, stalled and was fetched again forever, verdictless.
 * And a closing worker takes no job, and one whose fetch Redis refused waits before the next (see
 * moveToActive).
 */
class ScanQueueWorker<Result> extends Worker<unknown, Result> {
  protected override createJob(data: JobJson, jobId: string): Job<unknown, Result> {
    try {
      return super.createJob(data, jobId);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return super.createJob({ ...data, data: JSON.stringify(data.data) }, jobId);
    }
  }

  /**
   * A closing worker takes no job. BullMQ's fetch loop, woken from its blocking read by a job
   * abandon() had just handed back, moved that job to active again although the worker was
   * closing: it then sat there, taken by no one, until its lock expired (counted as a stall).
   */
  protected override async moveToActive(token: string, name?: string): Promise<Job<unknown, Result>> {
    if (this.closing) return undefined as unknown as Job<unknown, Result>; // BullMQ's own "no job"
    try {
      return await super.moveToActive(token, name);
    } catch (error) {
      // A fetch Redis refused (OOM at maxmemory under noeviction, LOADING, READONLY, MASTERDOWN,
      // BUSY, CLUSTERDOWN: REFUSING_REPLY in runtime/redis-errors.ts) or failed otherwise is not a
      // connection error to BullMQ: its fetch loop only reports it, then, while it believes jobs
      // are waiting (not drained), fetches again at once: tens of thousands of commands and error
      // reports a second for as long as Redis refuses. Connection errors BullMQ delays itself.
      if (!(error instanceof Error) || isNotConnectionError(error)) await pause(REFUSED_FETCH_PAUSE_MS, this.closeRequested.signal);
      throw error;
    }
  }

  /** Ends a pause before the next fetch at once: close() waits for the fetch loop. */
  override close(force?: boolean): Promise<void> {
    this.closeRequested.abort();
    return super.close(force);
  }

  /** Aborted by close(). */
  private readonly closeRequested = new AbortController();
}

/** How long a worker waits after a failed job fetch (other than a lost connection) before the next. */
const REFUSED_FETCH_PAUSE_MS = 1000;

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A job id in BullMQ's error messages (`Missing lock for job c-3f…. moveToFinished`). */
const JOB_ID_IN_MESSAGE = /\bjob \S+/g;

/** Why abandon() aborts the scans in flight; shared, so an abort captures no stack. */
const SHUTDOWN_TIMED_OUT = new Error('the worker gave up this job: shutdown timed out');
/**
 * How long abandon() tries to hand the jobs in flight back to the queue (Redis may be down): within
 * the ABANDON_TIMEOUT_MS the process gives it, with room left to log the outcome.
 */
const HAND_BACK_TIMEOUT_MS = ABANDON_TIMEOUT_MS - 200;

/**
 * A runnable that takes scan jobs from the configured queues, runs the pipeline and stores exactly
 * one verdict per job. `run()` starts taking work; `shutdown()` stops taking work, lets in-flight
 * jobs finish and their verdicts land, then releases its connections.
 */
export class ScanWorker {
  private readonly workers: Worker[] = [];
  /** The queues this process serves. */
  private readonly queues: Queue[] = [];
  /**
   * Every scan queue's handle, served or not: the backlog gauges report them all, so a queue whose
   * workers are all gone still shows its waiting jobs (and alerts) from the workers of the others.
   */
  private readonly backlogQueues: Queue[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  private readonly store: VerdictStore;
  private readonly validation: JobValidationOptions;
  private readonly emitter: VerdictEmitter;
  /** abuse_scan_hashset_matches_total, on the fleet's registry (shared with the hash-set signal type's metrics). */
  private readonly hashSetMatches: HashSetMatchCounter;
  private stopping: Promise<ShutdownOutcome> | undefined;
  /** BullMQ's connections are up (run() got past waitUntilReady): the liveness watchdog may probe them. */
  private connected = false;
  /** Jobs whose attempt lost its lock while the worker drained: left for another worker's stalled checker. */
  private readonly lostDuringDrain: Array<{ queue: string; jobId: string | undefined }> = [];
  /**
   * Jobs being processed (what abandon() names), each with its attempt's lock token while abandon()
   * may still hand the job back to the queue; undefined once the attempt settles its job (stores
   * the verdict, or fails to be retried), which abandon() then leaves to finish.
   */
  private readonly inProcess = new Map<Job, string | undefined>();
  /** abandon()'s hand-back of each job in flight: resolves whether the job is waiting again. */
  private readonly handBacks = new Map<Job, Promise<boolean>>();
  /** Until when abandon() tries hand-backs (epoch ms). */
  private handBackDeadline = 0;
  /** Aborted by abandon(): one signal for every scan, not a controller per job (µs per job count here). */
  private readonly abandonment = new AbortController();
  /**
   * BullMQ reports a failing poll on every retry (hundreds a minute while Redis refuses its
   * commands): the first of each is logged, then a count per minute.
   */
  private readonly workerErrors: RepeatedErrorLog;

  constructor(private readonly options: ScanWorkerOptions) {
    const { config, connection } = options;
    this.store = new VerdictStore(connection, {
      prefix: config.prefix,
      // Past the retention by the failed-job sweep's margin: see verdictKeySeconds.
      retentionSeconds: verdictKeySeconds(config),
      streamMaxLength: config.verdictStreamMaxLength,
    });
    this.emitter = new VerdictEmitter(this.store);
    this.validation = { imageRoot: config.imageRoot, limits: jobLimits(config) };
    this.workerErrors = new RepeatedErrorLog(options.logger);
    // Every scan in flight listens to this one signal (a link's deadline, a shared unfurl, an
    // item's siblings): a few listeners per job at any concurrency, removed as each job ends, not
    // the leak Node warns of past 10 (a raw MaxListenersExceededWarning line in the JSON log).
    setMaxListeners(0, this.abandonment.signal);
    this.hashSetMatches = hashSetMatchesCounter(options.metrics.registry);
  }

  get running(): boolean {
    return this.workers.length > 0 && this.stopping === undefined;
  }

  async run(): Promise<void> {
    const { config, connection, logger, metrics } = this.options;
    for (const queue of config.queues) {
      const worker = new ScanQueueWorker<ScanResult>(queue, (job, token) => this.process(queue, job, token), {
        connection,
        prefix: config.prefix,
        concurrency: config.concurrency,
        lockDuration: config.lockDurationMs,
        stalledInterval: config.stalledIntervalMs,
        maxStalledCount: config.maxStalledCount,
        // After a failed fetch on a reset connection (a failover, a frozen node thawing), fetch
        // again within a second or two, not BullMQ's 15 s: a worker that answers /healthz takes jobs.
        runRetryDelay: RUN_RETRY_DELAY_MS,
        autorun: false,
      });
      worker.on('failed', (job, error) => void this.onFailed(queue, job, error));
      // BullMQ names the job in some messages ("Missing lock for job <id>"): one kind of error
      // for every job of a burst (a Redis stall past the locks), not one each.
      worker.on('error', (error) => this.workerErrors.error(`${queue}\u0000${error.name}\u0000${error.message.replace(JOB_ID_IN_MESSAGE, 'job <id>')}`, { err: error, queue }, 'worker error'));
      this.workers.push(worker);
      // The workers already report the shared connection's errors; without a listener BullMQ
      // would print them raw to stderr, the AUTH command's password included.
      this.queues.push(new Queue(queue, { connection, prefix: config.prefix }).on('error', () => undefined));
      metrics.queueConcurrency.set({ queue }, config.concurrency);
    }
    for (const kind of SCAN_QUEUE_KINDS) {
      const served = this.queues.find((queue) => queue.name === kind);
      this.backlogQueues.push(served ?? new Queue(kind, { connection, prefix: config.prefix }).on('error', () => undefined));
    }
    try {
      await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
    } catch (error) {
      if (this.stopping) return; // shut down while starting: closing the workers failed their wait
      throw error;
    }
    if (this.stopping) return; // shut down while starting: take no job
    this.connected = true;
    for (const worker of this.workers) void worker.run();
    this.startSweeping();
    logger.info({ queues: config.queues, concurrency: config.concurrency, prefix: config.prefix }, 'scan worker started');
    // Allowed (both are the operator's to size), but said: a drain would hand such jobs back.
    if (config.jobTimeoutMs >= config.shutdownTimeoutMs) {
      logger.warn(
        { jobTimeoutMs: config.jobTimeoutMs, shutdownTimeoutMs: config.shutdownTimeoutMs },
        'ABUSE_SCAN_JOB_TIMEOUT_MS is not below ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: a drain may give up jobs still within their scan deadline (handed back to the queue, to start over)',
      );
    }
  }

  /**
   * The connections the Redis liveness watchdog probes: the shared one (verdicts, queues' counts)
   * and, once started, each BullMQ worker's own connection (job fetches, completions, locks), with
   * its blocking connection (BZPOPMIN) as companion: BullMQ duplicates the shared client for both.
   */
  async livenessTargets(): Promise<LivenessTarget[]> {
    const { connection } = this.options;
    const address = redisAddress(connection);
    // ROLE or PING would ask an arbitrary node of a Cluster: the results stream's key goes to the
    // node serving the fleet's hash tag, which holds every key the worker uses.
    const probeKey = isRedisCluster(connection) ? this.store.keys.stream : undefined;
    const targets: LivenessTarget[] = [{ name: 'shared connection', address, client: connection as unknown as ProbedClient, probeKey }];
    if (!this.connected) return targets;
    for (const worker of this.workers) {
      const backend = worker.getBackend();
      const [client, blocking] = await Promise.all([backend.client, backend.blockingClient]);
      targets.push({
        name: `${worker.name} worker connection`,
        address,
        client: client as unknown as ProbedClient,
        companions: blocking ? [blocking as unknown as ProbedClient] : [],
        probeKey,
      });
    }
    return targets;
  }

  /** Job counts of every scan queue (served here or not) and the results stream's consumer lag (for /metrics). */
  backlog(): Promise<Backlog> {
    return readBacklog(this.backlogQueues, this.options.connection, this.store.keys.stream);
  }

  /**
   * Stops taking jobs, waits for in-flight ones and their verdicts. Safe to call twice, and while
   * run() is still starting (no job is taken then). BullMQ's close never returns while Redis is
   * unreachable (taskforcesh/bullmq#4656): the process bounds it and calls abandon().
   */
  shutdown(): Promise<ShutdownOutcome> {
    this.stopping ??= (async () => {
      this.options.logger.info('scan worker stopping: finishing in-flight jobs');
      clearTimeout(this.sweepTimer);
      await this.sweeping; // a sweep under way still stores its verdicts
      await Promise.all(this.workers.map((worker) => worker.close()));
      await this.emitter.flush();
      await Promise.all(this.backlogQueues.map((queue) => queue.close()));
      this.workerErrors.flush();
      const jobs = this.lostDuringDrain;
      if (jobs.length > 0) {
        this.options.logger.warn(
          { jobs, lockDurationMs: this.options.config.lockDurationMs },
          `gave up ${jobs.length} job(s) in flight that lost their locks during the drain (Redis stalled past the lock duration); another worker's stalled checker runs them again`,
        );
      }
      this.options.logger.info('scan worker stopped');
      return { gaveUpWork: jobs.length > 0 };
    })();
    return this.stopping;
  }

  /**
   * Gives up the jobs in flight (shutdown took too long), right before the process exits: their
   * scans are aborted and they get no verdict from this process. Each job whose attempt still holds
   * its lock goes back to the queue, ahead of the jobs waiting (of its priority), as if never taken:
   * a graceful shutdown is not a crash, so its stalled counter (ABUSE_SCAN_MAX_STALLED) does not
   * grow and no attempt is used up (BullMQ's moveJobFromActiveToWait, which checks the attempt's
   * lock token, drops the lock and leaves the counters be; BullMQ counts the start in
   * attemptsStarted only, which the worker does not limit).
   * One try, bounded by HAND_BACK_TIMEOUT_MS (Redis may be down): a job not handed back by then
   * (or one whose attempt was already storing its verdict or failing) runs again once its lock
   * expires, through the stalled checker of a running worker, as after a crash. Store-once keeps
   * one verdict per job either way. Resolves within HAND_BACK_TIMEOUT_MS.
   */
  async abandon(): Promise<void> {
    const { logger, config } = this.options;
    this.handBackDeadline = Date.now() + HAND_BACK_TIMEOUT_MS;
    const inFlight = [...this.inProcess];
    const jobs = inFlight.map(([job]) => ({ queue: job.queueName, jobId: job.id }));
    logger.warn({ jobs }, `abandoning ${jobs.length} job(s) in flight: handing them back to the queue`);
    // Take no more jobs: a worker not closing yet (the drain was still waiting for a sweep) would
    // take the ones handed back again, only to abort them.
    for (const worker of this.workers) void worker.close().catch(() => undefined);
    const handedBack = inFlight.map(([job, token]) => (token === undefined ? Promise.resolve(false) : this.handBack(job, token)));
    // Each attempt aborted here ends once its job's hand-back settled (abandonedAttempt).
    this.abandonment.abort(SHUTDOWN_TIMED_OUT);
    const handed = await Promise.all(handedBack);
    const left = jobs.filter((_, i) => !handed[i]);
    if (left.length === 0) {
      logger.info({ jobs }, `handed ${jobs.length} abandoned job(s) back to the queue`);
      return;
    }
    logger.warn(
      { handedBack: jobs.filter((_, i) => handed[i]), leftToLockExpiry: left, lockDurationMs: config.lockDurationMs },
      `handed ${jobs.length - left.length} of ${jobs.length} abandoned job(s) back to the queue; the other ${left.length} run again once their locks expire (Redis did not answer in time, or their attempts were already ending)`,
    );
  }

  /**
   * Moves a job abandon() gives up from active back to wait, only while `token` (its attempt's)
   * still holds the job's lock; resolves whether it did, by the hand-back deadline at the latest
   * (false then: the job is left to its lock's expiry). Once per job.
   */
  private handBack(job: Job, token: string): Promise<boolean> {
    let handing = this.handBacks.get(job);
    if (handing === undefined) {
      // Refused (the lock is not this attempt's any more, or the job is gone): not handed back.
      const moved = job.moveToWait(token).then(
        () => true,
        () => false,
      );
      handing = withDeadline(moved, this.handBackDeadline - Date.now(), () => new Error('no answer')).catch(() => false);
      this.handBacks.set(job, handing);
    }
    return handing;
  }

  /**
   * How an attempt that abandon() cut short ends: once its job's hand-back settled, with BullMQ's
   * WaitingError, on which BullMQ leaves the job as it is (waiting again, or active until its lock
   * expires) instead of failing it, which would use up a retry (or fail the job for good on its
   * last attempt, with a verdict it does not deserve) and race the hand-back.
   */
  private async abandonedAttempt(job: Job): Promise<Error> {
    const token = this.inProcess.get(job);
    if (token !== undefined) await this.handBack(job, token);
    return new WaitingError(SHUTDOWN_TIMED_OUT.message);
  }

  private async process(queue: ScanQueueKind, job: Job<unknown, ScanResult>, token: string | undefined): Promise<ScanResult> {
    const { config, pipeline, metrics } = this.options;
    // What the verdict goes by: the jobId, queue-qualified when BullMQ numbered the job itself.
    const jobId = verdictJobId(queue, job.id ?? 'unknown');
    const attempt = job.attemptsMade + 1;
    const finalAttempt = attempt >= (job.opts.attempts ?? 1);
    const started = Date.now();
    this.inProcess.set(job, token);
    metrics.inFlight.inc({ queue });
    try {
      // Taken while abandon() ran (fetched just before the worker closed): straight back.
      if (this.abandonment.signal.aborted) throw await this.abandonedAttempt(job);
      // A first attempt's wait needs no Redis read (and no await: µs per job count here).
      const queueWaitMs = job.attemptsMade === 0 && (job.attemptsStarted ?? 1) <= 1 ? firstAttemptWait(job, started) : await this.retryWaitOf(job, started);
      if (queueWaitMs !== undefined) metrics.queueWaitSeconds.observe({ queue }, queueWaitMs / 1000);
      let verdict: Verdict;
      let scanJob: ScanJob | undefined;
      /** Why the job could not be scanned, when its verdict is an error verdict. */
      let jobError: ScanError | undefined;
      try {
        scanJob = validateJob(job.data, this.validation);
        const signal = this.abandonment.signal;
        verdict = await pipeline.scan(scanJob, { jobId, attempt, finalAttempt, queueWaitMs, signal });
      } catch (thrown) {
        // Cut short by abandon(): back to the queue, no retry counted.
        if (this.abandonment.signal.aborted) throw await this.abandonedAttempt(job);
        const error = toScanError(thrown);
        if (!error.permanent && !finalAttempt) {
          this.inProcess.set(job, undefined); // failing to be retried: abandon() lets it
          metrics.retries.inc({ queue });
          await this.noteAttemptEnd(job, token);
          throw error;
        }
        jobError = error.permanent ? error : exhausted(error);
        verdict = errorVerdict(job.data, { jobId, attempt }, jobError, config.policy, pipeline.versions(), {
          validation: this.validation,
          validated: scanJob ?? false, // unset: validateJob refused the job
          timings: { total: Date.now() - started, queueWait: queueWaitMs },
        });
      }
      // A scan cut short by abandon() owes no verdict (store-once would keep it): the job runs again.
      if (this.abandonment.signal.aborted) throw await this.abandonedAttempt(job);
      this.inProcess.set(job, undefined); // storing its verdict: abandon() lets it finish
      // Stored only while this attempt still holds the job: after a freeze past the lock duration
      // the job runs again elsewhere, and this attempt's verdict (its unfurls timed out during the
      // freeze, say) must not take the place of that run's.
      let outcome: StoreOutcome;
      try {
        outcome = await this.emitter.emit(verdict, token === undefined ? undefined : { key: this.lockKey(job), token });
      } catch (storeError) {
        // Redis refused the verdict (out of memory, the stream key of another type): the attempt
        // fails and BullMQ retries it, which ops see as a retry and, rate-limited, in the log; the
        // last attempt's failure is the failed-job path's (it stores an error verdict).
        if (!finalAttempt) metrics.retries.inc({ queue });
        const { name, message } = storeError instanceof Error ? storeError : { name: 'Error', message: String(storeError) };
        this.workerErrors.error(`verdict store\u0000${name}\u0000${message}`, { err: storeError, jobId, queue, attempt }, 'could not store a verdict; the job is retried');
        throw storeError;
      }
      if (outcome === 'stale') {
        // During a drain nothing will run this job again but another worker's stalled checker:
        // shutdown() reports it as given up.
        if (this.stopping) this.lostDuringDrain.push({ queue, jobId: job.id });
        throw new LockLostError(jobId);
      }
      if (outcome === 'stored') {
        metrics.verdicts.inc({ queue, decision: verdict.decision });
        for (const error of verdict.errors) metrics.errors.inc({ code: error.code });
        if (jobError) metrics.errorVerdicts.inc({ queue, code: jobError.code });
        // Hash-set matches of verdicts stored, as verdicts are counted: not of attempts retried
        // (their matches were not reported) nor of a job run again after storing its verdict.
        countHashSetMatches(this.hashSetMatches, verdict.signals);
        // Only attempts that stored the verdict: a failed attempt is counted by the retries
        // counter, and a job run twice stored its verdict the first time.
        metrics.scanSeconds.observe({ queue }, (Date.now() - started) / 1000);
      }
      return { decision: verdict.decision };
    } finally {
      this.inProcess.delete(job);
      this.handBacks.delete(job);
      metrics.inFlight.dec({ queue });
    }
  }

  /**
   * How long a later attempt waited from when it became runnable until this worker took it
   * (BullMQ's processedOn; firstAttemptWait covers first attempts): since the previous attempt
   * ended (its worker noted when, see ATTEMPT_END_FIELD) plus the backoff BullMQ applied (the
   * job's `backoff` option, without jitter). Undefined when that is unknown: after a stall (the attempt before died with
   * its worker, nobody noted its end) or when the note could not be written or read.
   */
  private async retryWaitOf(job: Job, started: number): Promise<number | undefined> {
    const takenAt = job.processedOn ?? started;
    const attemptsStarted = job.attemptsStarted ?? job.attemptsMade + 1; // this attempt included
    if (job.attemptsMade === 0) return undefined; // only stalls before this attempt
    try {
      const note = await withDeadline(this.options.connection.hget(this.jobKey(job), ATTEMPT_END_FIELD), ATTEMPT_END_DEADLINE_MS, () => new Error('no answer'));
      const [noteStarts, endedAt] = (note ?? '').split(':').map(Number);
      // The note is the previous start's: no stalled start came between.
      if (noteStarts !== attemptsStarted - 1 || !Number.isFinite(endedAt)) return undefined;
      const options = job.opts.backoff === undefined ? undefined : Backoffs.normalize(job.opts.backoff);
      const backoff: unknown = options ? await Backoffs.calculate(options, job.attemptsMade, new Error('retry'), job) : 0;
      const backoffMs = typeof backoff === 'number' && backoff > 0 ? backoff : 0;
      return Math.max(0, takenAt - (endedAt! + backoffMs));
    } catch {
      return undefined;
    }
  }

  /**
   * Notes when this attempt ended, for the retry's queue wait (best effort, bounded), only while it
   * holds the job's lock (NOTE_WHILE_LOCKED): never without its token, which it could not check.
   */
  private async noteAttemptEnd(job: Job, token: string | undefined): Promise<void> {
    if (token === undefined) return;
    const value = `${job.attemptsStarted ?? job.attemptsMade + 1}:${Date.now()}`;
    const noted = runScript(this.options.connection, NOTE_WHILE_LOCKED, [this.lockKey(job), this.jobKey(job)], [token, ATTEMPT_END_FIELD, value]);
    await withDeadline(noted, ATTEMPT_END_DEADLINE_MS, () => new Error('no answer')).catch(() => undefined);
  }

  /**
   * The failure a failed-job verdict covers: the job in its queue's failed set at its finishedOn,
   * the score BullMQ gives it there as it fails it. None when its options had BullMQ remove it as
   * it failed (removeOnFail true or a count of 0: never in the failed set, so neither replaced nor
   * noted) or its finishedOn is unknown (a hash written by hand): its verdict is stored unbound.
   */
  private failureOf(job: Job): JobFailure | undefined {
    const { finishedOn, id } = job;
    if (typeof finishedOn !== 'number' || !Number.isFinite(finishedOn) || id === undefined) return undefined;
    const keep = job.opts.removeOnFail;
    const count = keep === true ? 0 : typeof keep === 'number' ? keep : typeof keep === 'object' && keep !== null ? keep.count : undefined;
    if (count === 0) return undefined;
    return { key: this.jobKey(job), failedSet: `${job.queueQualifiedName}:failed`, id, finishedOn, mayBeTrimmed: count !== undefined && count > 0 };
  }

  private jobKey(job: Job): string {
    return `${job.queueQualifiedName}:${job.id}`;
  }

  /** BullMQ's lock of a job: holds the token of the attempt that runs it. */
  private lockKey(job: Job): string {
    return `${this.jobKey(job)}:lock`;
  }

  /**
   * Every stalled interval, gives a verdict to failed jobs that lack one (store-once dedups). It
   * looks back the verdict retention; verdict keys live longer than that (verdictKeySeconds), so a
   * job failed after its verdict was stored still finds that verdict there. Then it removes failed
   * jobs past the failed-job retention their options carry (the client's retentionSeconds x 7),
   * only ones that have their verdict or are owed none (FailedJobSweeper.removeExpired), and
   * completed jobs past their own completed-job retention (CompletedJobSweeper): BullMQ removes
   * either only when another job fails, or completes, on the same queue.
   */
  private startSweeping(): void {
    const { config, connection, logger } = this.options;
    const sweepers = this.queues.map((queue) => ({
      kind: queue.name as ScanQueueKind,
      failed: new FailedJobSweeper(queue, connection, this.store, { windowMs: config.verdictRetentionSeconds * 1000 }),
      completed: new CompletedJobSweeper(queue, connection),
    }));
    const tick = async () => {
      for (const { kind, failed, completed } of sweepers) {
        try {
          await failed.sweep((job) => this.giveFailedJobVerdict(kind, job, new Error(job.failedReason)));
          const removed = await failed.removeExpired();
          if (removed > 0) logger.debug({ queue: kind, removed }, 'removed failed jobs past their retention');
        } finally {
          // Also when the failed-job sweep threw: that must not keep completed payloads for good.
          const removed = await completed.removeExpired();
          if (removed > 0) logger.debug({ queue: kind, removed }, 'removed completed jobs past their retention');
        }
      }
    };
    const schedule = () => {
      this.sweepTimer = setTimeout(() => {
        this.sweeping = tick()
          .catch((error: unknown) => logger.error({ err: error }, 'job sweep failed'))
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
   * whether it has one now (or is owed none: its failure is no longer there); a failed write is
   * left to the next sweep.
   */
  private async giveFailedJobVerdict(queue: ScanQueueKind, job: Job, error: Error): Promise<boolean> {
    const { config, pipeline, metrics } = this.options;
    const cause = STALLED_MESSAGE.test(error.message) ? new ScanError('job_stalled', error.message) : exhausted(toScanError(error));
    try {
      // No attempt of this process ran the job: its timings are unknown (total 0, no queueWait).
      const jobId = verdictJobId(queue, job.id ?? 'unknown');
      const verdict = errorVerdict(job.data, { jobId, attempt: job.attemptsMade }, cause, config.policy, pipeline.versions(), { validation: this.validation });
      // Bound to this failure: stored, and noted on the job's hash (its verdict key may be evicted,
      // volatile-* maxmemory policies evict keys with a TTL first, while the job stays, and the
      // sweep must not give it another), only while the job is still failed at the score it failed
      // at. A job replaced since (a producer re-adding its content past the dedup window), retried
      // by hand or removed is `gone`: this verdict is owed to nobody, and must not become the new
      // job's verdict or note.
      const outcome = await this.emitter.emit(verdict, undefined, this.failureOf(job));
      if (outcome === 'stored') {
        metrics.verdicts.inc({ queue, decision: verdict.decision });
        metrics.errors.inc({ code: cause.code });
        metrics.errorVerdicts.inc({ queue, code: cause.code });
      } else if (outcome === 'gone') {
        this.options.logger.debug({ jobId: job.id, queue }, 'failed job replaced, retried or removed before its verdict: none owed');
      }
      return true;
    } catch (emitError) {
      // While Redis refuses writes this fails for every failed job: logged once, then counted.
      const { name, message } = emitError instanceof Error ? emitError : { name: 'Error', message: String(emitError) };
      this.workerErrors.error(`failed-job verdict\u0000${name}\u0000${message}`, { err: emitError, jobId: job.id, queue }, 'could not store the error verdict of a failed job; the next sweep retries');
      return false;
    }
  }
}

/** A first attempt's wait: since the job was added, or became due (a delayed job waits for nobody before). */
function firstAttemptWait(job: Job, started: number): number {
  return Math.max(0, (job.processedOn ?? started) - (job.timestamp + (job.opts.delay ?? 0)));
}

/**
 * The attempt lost its job's lock (its worker froze or lagged past the lock duration, and the
 * stalled checker handed the job on): its verdict was not stored. BullMQ refuses to complete or
 * fail the job from this attempt too; the run that holds the job now gives the verdict.
 */
export class LockLostError extends Error {
  constructor(jobId: string) {
    super(`job ${jobId}: this attempt no longer holds the job's lock; its verdict was dropped, the job's current run gives it`);
    this.name = 'LockLostError';
  }
}

function exhausted(error: ScanError): ScanError {
  return new ScanError('retries_exhausted', `${error.code}: ${error.message}`, { lastCode: error.code });
}
