import { Queue } from 'bullmq';
import { ScanError } from '../errors.js';
import type { ScanJob, ScanJobInput } from '../jobs/job-schema.js';
import { DEFAULT_JOB_LIMITS, type JobLimits } from '../jobs/limits.js';
import { validateJob } from '../jobs/validate-job.js';
import type { Verdict } from '../jobs/verdict-schema.js';
import { DEFAULT_PREFIX, SCAN_QUEUE_KINDS, type ScanQueueKind } from '../queues/names.js';
import { SCAN_JOB_NAME, jobIdForContent, queueForJob, scanJobOptions } from '../queues/scan-queue.js';
import { createRedis, isRedisClient, type ConnectionInput, type RedisClient } from '../runtime/redis.js';
import { VerdictStore } from '../verdicts/verdict-store.js';

export interface ScanClientOptions {
  /** Redis URL, ioredis options or a client to share. Default: REDIS_URL or redis://127.0.0.1:6379. */
  connection?: ConnectionInput;
  /** Queue key prefix; must match the workers'. Default `{abuse-scan}`. */
  prefix?: string;
  /** Image root the workers use; `{ path }` items outside it are refused here already. Default ABUSE_SCAN_IMAGE_ROOT. */
  imageRoot?: string;
  /** Job size limits. Default DEFAULT_JOB_LIMITS (100 items, 8 KB URLs, 5 MiB inline images). */
  limits?: JobLimits;
  /** Tries per job for transient failures. Default 5. */
  attempts?: number;
  /** First retry delay in ms, doubling. Default 1000. */
  backoffMs?: number;
  /** Seconds finished scan jobs are kept (the contentId dedup window). Default 86400. */
  retentionSeconds?: number;
}

export interface EnqueueOptions {
  /** BullMQ priority: 1 is the highest; unset jobs go before all prioritized ones. */
  priority?: number;
  /**
   * Explicit job id. Default: derived from tenant + contentId, so enqueueing the same content
   * twice yields one job and one verdict. Pass a fresh id to force a rescan.
   */
  jobId?: string;
}

export interface EnqueuedJob {
  jobId: string;
  queue: ScanQueueKind;
}

export interface ScanClient {
  /** Validates and enqueues one job; throws ScanError (invalid_job, payload_too_large, path_outside_root). */
  enqueue(job: ScanJobInput, options?: EnqueueOptions): Promise<EnqueuedJob>;
  /** Validates every job first (nothing is enqueued if one is invalid), then enqueues them in bulk. */
  enqueueBulk(jobs: Array<{ job: ScanJobInput; options?: EnqueueOptions }>): Promise<EnqueuedJob[]>;
  /** The verdict of a job, if it has one yet. */
  getVerdict(jobId: string): Promise<Verdict | undefined>;
  /** Resolves with the job's verdict once stored; throws ScanError `verdict_timeout` after timeoutMs. */
  waitForVerdict(jobId: string, options?: { timeoutMs?: number }): Promise<Verdict>;
  close(): Promise<void>;
}

/** The producer client for upload and send paths. */
export function createScanClient(options: ScanClientOptions = {}): ScanClient {
  const ownsConnection = !isRedisClient(options.connection);
  const connection: RedisClient = createRedis(options.connection);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const validation = { limits: options.limits ?? DEFAULT_JOB_LIMITS, imageRoot: options.imageRoot ?? process.env.ABUSE_SCAN_IMAGE_ROOT };
  const defaultJobOptions = scanJobOptions({
    attempts: options.attempts ?? 5,
    backoffMs: options.backoffMs ?? 1000,
    retentionSeconds: options.retentionSeconds ?? 86_400,
  });
  const queues = Object.fromEntries(
    SCAN_QUEUE_KINDS.map((kind) => [kind, new Queue(kind, { connection, prefix, defaultJobOptions })]),
  ) as Record<ScanQueueKind, Queue>;
  // Reads only: the retention and stream length are the workers' to set.
  const verdicts = new VerdictStore(connection, { prefix, retentionSeconds: 1, streamMaxLength: 1 });
  let subscriber: RedisClient | undefined;
  let subscribed: Promise<unknown> | undefined;
  const waiters = new Map<string, Set<() => void>>();

  function prepare(input: ScanJobInput, enqueueOptions: EnqueueOptions = {}) {
    const job: ScanJob = validateJob(input, validation);
    const jobId = enqueueOptions.jobId ?? jobIdForContent(job.contentId, job.tenant);
    const opts = { jobId, ...(enqueueOptions.priority !== undefined && { priority: enqueueOptions.priority }) };
    return { job, queue: queueForJob(job), opts };
  }

  const getVerdict = (jobId: string) => verdicts.get(jobId);

  /** One subscription per client, shared by every waiter; resolves once SUBSCRIBE is confirmed. */
  function ensureSubscribed(): Promise<unknown> {
    if (!subscribed) {
      subscriber = connection.duplicate();
      subscriber.on('message', (_channel: string, jobIds: string) => {
        for (const jobId of jobIds.split('\n')) waiters.get(jobId)?.forEach((wake) => wake());
      });
      subscribed = subscriber.subscribe(verdicts.keys.channel);
    }
    return subscribed;
  }

  return {
    async enqueue(input, enqueueOptions) {
      const { job, queue, opts } = prepare(input, enqueueOptions);
      await queues[queue].add(SCAN_JOB_NAME, job, opts);
      return { jobId: opts.jobId, queue };
    },

    async enqueueBulk(entries) {
      const prepared = entries.map(({ job, options: o }) => prepare(job, o));
      for (const kind of SCAN_QUEUE_KINDS) {
        const batch = prepared.filter((p) => p.queue === kind);
        if (batch.length) await queues[kind].addBulk(batch.map((p) => ({ name: SCAN_JOB_NAME, data: p.job, opts: p.opts })));
      }
      return prepared.map((p) => ({ jobId: p.opts.jobId, queue: p.queue }));
    },

    getVerdict,

    async waitForVerdict(jobId, { timeoutMs = 30_000 } = {}) {
      await ensureSubscribed();
      // Subscribed before looking, so a verdict stored in between is not missed.
      let wake: () => void = () => {};
      const added = new Promise<void>((resolve) => (wake = resolve));
      const set = waiters.get(jobId) ?? new Set();
      set.add(wake);
      waiters.set(jobId, set);
      let timer: NodeJS.Timeout | undefined;
      try {
        const existing = await getVerdict(jobId);
        if (existing) return existing;
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
        if ((await Promise.race([added, timedOut])) === 'timeout') {
          throw new ScanError('verdict_timeout', `no verdict for job ${jobId} within ${timeoutMs} ms`);
        }
        const verdict = await getVerdict(jobId);
        if (!verdict) throw new ScanError('verdict_timeout', `verdict for job ${jobId} was announced but is gone`);
        return verdict;
      } finally {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) waiters.delete(jobId);
      }
    },

    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      if (subscriber) await subscriber.quit();
      if (ownsConnection) await connection.quit();
    },
  };
}
