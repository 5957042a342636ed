import { Queue, QueueKeys } from 'bullmq';
import { ScanError } from '../errors.js';
import { isWellFormedText, type ScanJob, type ScanJobInput } from '../jobs/job-schema.js';
import { DEFAULT_JOB_LIMITS, type JobLimits } from '../jobs/limits.js';
import { validateJob } from '../jobs/validate-job.js';
import type { ConsumedVerdict } from '../jobs/verdict-schema.js';
import { DEFAULT_PREFIX, SCAN_QUEUE_KINDS, type ScanQueueKind } from '../queues/names.js';
import { REMOVE_FINISHED_JOB } from '../queues/finished-job-removal.js';
import { SCAN_JOB_NAME, jobIdForContent, queueForJob, scanJobOptions } from '../queues/scan-queue.js';
import { MAX_TIMEOUT_MS } from '../runtime/deadline.js';
import { withConnectionDeadline } from '../runtime/connection-deadline.js';
import { integerOption } from '../runtime/integer-option.js';
import { runScript } from '../runtime/redis-script.js';
import { createRedis, FAIL_FAST_OPTIONS, isRedisClient, isRedisCluster, onSubscriberReady, subscriberConnection, unavailabilityOf, type ConnectionInput, type RedisClient } from '../runtime/redis.js';
import { VerdictStore } from '../verdicts/verdict-store.js';

export interface ScanClientOptions {
  /**
   * Redis URL, ioredis options or a client to share. Default: REDIS_URL or redis://127.0.0.1:6379.
   * Connections made from a URL or options fail a command once a reconnect has failed, and are
   * dropped and reconnected when a command gets nothing back within commandTimeoutMs (a peer gone
   * silent); a client passed in is used as configured (its retry settings and error handling stay
   * the caller's, and it is never dropped).
   */
  connection?: ConnectionInput | undefined;
  /** Queue key prefix; must match the workers'. Default `{abuse-scan}`. */
  prefix?: string | undefined;
  /** Image root the workers use; `{ path }` items outside it are refused here already. Default ABUSE_SCAN_IMAGE_ROOT. */
  imageRoot?: string | undefined;
  /**
   * Job size limits checked at enqueue. Default DEFAULT_JOB_LIMITS (100 items, 8 KB URLs, 5 MiB
   * inline images, metadata of at most 64 keys of 128 characters and 16 KiB, 32 MiB per job as
   * JSON). Workers enforce their own (ABUSE_SCAN_MAX_ITEMS and the like): keep these within them.
   */
  limits?: JobLimits | undefined;
  /** Tries per job for transient failures, 1 to 1000 (else createScanClient throws a RangeError). Default 5. */
  attempts?: number | undefined;
  /** First retry delay in ms, doubling; a whole number from 0 to 2147483647. Default 1000. */
  backoffMs?: number | undefined;
  /**
   * Seconds finished scan jobs are kept (for inspection, and as the contentId dedup window together
   * with the workers' ABUSE_SCAN_VERDICT_RETENTION_S: a jobId with a kept job or a stored verdict
   * is a duplicate, except a job whose verdict is gone that completed, or that failed more than
   * retentionSeconds ago, which is replaced); 1 to 31536000. Default 86400.
   */
  retentionSeconds?: number | undefined;
  /**
   * Longest wait in ms for Redis in one client operation (enqueue, enqueueBulk, getVerdict, and
   * each subscribe or read of waitForVerdict); past it the operation throws ScanError
   * `redis_unavailable`; a whole number from 1 to 2147483647 (Node's longest timer). Default 5000.
   */
  commandTimeoutMs?: number | undefined;
}

export interface EnqueueOptions {
  /**
   * BullMQ priority, an integer from 0 to 2097151: 1 is the highest; unset (or 0) jobs go before
   * all prioritized ones. Anything else is refused with `invalid_job`.
   */
  priority?: number | undefined;
  /**
   * Explicit job id. Default: derived from tenant + contentId, so enqueueing the same content
   * twice yields one job and one verdict. Pass a fresh id to force a rescan. It must be non-empty,
   * at most 256 characters, not an integer, and contain no ':' and no whitespace.
   */
  jobId?: string | undefined;
}

export interface EnqueuedJob {
  jobId: string;
  /**
   * The scan queue the job is on: for a duplicate, the one it was enqueued on first; for a
   * duplicate whose job is no longer kept (only its verdict is), the one its items route to.
   */
  queue: ScanQueueKind;
  /**
   * True when a scan queue already held this jobId (the same content enqueued before, maybe with
   * other items and so for the other queue, or earlier in the same bulk), or a verdict is stored
   * for it (its job was already removed: BullMQ keeps at most 100,000 completed jobs per queue):
   * nothing was added, and the job that is or was there gives the one verdict. A job whose verdict
   * is no longer stored (expired or evicted) and that completed, or failed more than
   * retentionSeconds ago, is not one: it is replaced by the new job.
   */
  duplicate: boolean;
}

/**
 * Every operation throws ScanError `redis_unavailable` when Redis does not answer within
 * `commandTimeoutMs`. An enqueue that threw it may still land once Redis answers again: retry it
 * with the same jobId (the default one is), and the retry is a no-op if the first one landed.
 */
export interface ScanClient {
  /**
   * Validates and enqueues one job, unless a scan queue already holds its jobId (other than a job
   * whose verdict is gone that completed, or failed more than retentionSeconds ago, which it
   * replaces) or its verdict is stored (`duplicate`);
   * throws ScanError (invalid_job, payload_too_large, path_outside_root), or redis_unavailable,
   * after which the job may still land.
   */
  enqueue(job: ScanJobInput, options?: EnqueueOptions): Promise<EnqueuedJob>;
  /**
   * Validates every job and its options first (nothing is enqueued if one is invalid; the error
   * message starts with `jobs[<index>]: `), then enqueues them in bulk, ENQUEUE_CHUNK at a time,
   * each within its own commandTimeoutMs: a redis_unavailable may come after some chunks landed.
   */
  enqueueBulk(jobs: Array<{ job: ScanJobInput; options?: EnqueueOptions }>): Promise<EnqueuedJob[]>;
  /** The verdict of a job, if it has one yet. */
  getVerdict(jobId: string): Promise<ConsumedVerdict | undefined>;
  /**
   * Resolves with the job's verdict once stored; throws ScanError `verdict_timeout` when none is
   * stored within timeoutMs (default 60000, counted from the call: subscribing and reading use it up too), after
   * one last read that may take up to commandTimeoutMs. timeoutMs must be a number of ms from 0 to
   * 2147483647 (about 24.8 days, the longest timer Node keeps), or the call throws a RangeError.
   * Throws ScanError `redis_unavailable` when subscribing or the first read fails; once it has
   * read once, a read that fails (a failover, a restart) is tried again every second until
   * timeoutMs, and the last read decides (`redis_unavailable` if Redis is still away). Throws
   * `redis_unavailable` at once when the client is closed while it waits.
   */
  waitForVerdict(jobId: string, options?: { timeoutMs?: number }): Promise<ConsumedVerdict>;
  /**
   * Ends every waitForVerdict still waiting (ScanError `redis_unavailable`), lets the enqueues under
   * way finish, then closes the connections (never a connection passed in). Every call after it
   * fails with ScanError `redis_unavailable`, whatever the connection.
   */
  close(): Promise<void>;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
/**
 * waitForVerdict's default: above the workers' default scan deadline (ABUSE_SCAN_JOB_TIMEOUT_MS,
 * 45 s), so a job that takes its whole deadline is still waited for, with time to be picked up.
 */
export const DEFAULT_WAIT_FOR_VERDICT_MS = 60_000;
/** Jobs per round of enqueueBulk (and so at most per addBulk): each round has its own deadline. */
export const ENQUEUE_CHUNK = 1000;
const MAX_JOB_ID_LENGTH = 256;
/** BullMQ's highest priority value (2^21 - 1); it refuses floats and larger values, and negative ones are meaningless. */
const MAX_PRIORITY = 2 ** 21 - 1;
const WAIT_EXPIRED = Symbol('wait expired');
/** Pause before a waitForVerdict whose read failed mid-wait (Redis away, a failover) reads again. */
const WAIT_RETRY_MS = 1000;

/** Why a priority cannot be used, if it cannot. */
function priorityProblem(priority: unknown): string | undefined {
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    return `must be an integer from 0 to ${MAX_PRIORITY}`;
  }
  return undefined;
}

/**
 * The names of BullMQ's own keys in a queue (`wait`, `meta`, `completed`, `id`...), read from BullMQ
 * itself so that its version's list is the one refused: a job's key is `<prefix>:<queue>:<jobId>`,
 * so a jobId among them names one of them. Added where none exists yet (`completed` on a fresh
 * queue), the job's hash takes its place and every later completion fails with WRONGTYPE.
 */
const BULLMQ_QUEUE_KEYS: ReadonlySet<string> = new Set(Object.keys(new QueueKeys().getKeys('')));

/** Why an explicit jobId cannot be used, if it cannot. */
function jobIdProblem(jobId: string): string | undefined {
  if (typeof jobId !== 'string' || jobId === '') return 'must be a non-empty string';
  if (jobId.length > MAX_JOB_ID_LENGTH) return `is longer than ${MAX_JOB_ID_LENGTH} characters`;
  // BullMQ's scripts and ioredis would write it as two different keys: the job would never move.
  if (!isWellFormedText(jobId)) return 'is not well-formed Unicode (it holds a lone UTF-16 surrogate)';
  // BullMQ refuses integer ids (its own ids are integers) and ids with ':' (its key separator).
  if (/^-?\d+$/.test(jobId)) return 'is an integer (BullMQ keeps those for its own ids)';
  if (jobId.includes(':')) return "contains ':' (BullMQ's key separator)";
  // Verdict announcements are newline-separated jobIds.
  if (/\s/.test(jobId)) return 'contains whitespace';
  if (BULLMQ_QUEUE_KEYS.has(jobId)) return `is the name of one of BullMQ's own keys in a queue (${[...BULLMQ_QUEUE_KEYS].filter(Boolean).join(', ')})`;
  return undefined;
}

/**
 * Where each jobId of an enqueue chunk is taken, in one atomic step. Workers complete a job only
 * after storing its verdict, so a completed job without a verdict key had its verdict expire (the
 * workers' retention shorter than the client's) or evicted: it would hold its jobId verdictless
 * until its own retention ends, so it is removed here as BullMQ's age trim removes one (a child of
 * a flow stays: its parent's bookkeeping is BullMQ's). A failed job without a verdict key that
 * failed before the cut-off (the client's retentionSeconds ago, its dedup window) is removed alike:
 * the workers' failed-job sweep, which owes a failed job its verdict, looks back only as far as the
 * verdict retention (by default as far as retentionSeconds): past that nothing would ever give the
 * job one, yet BullMQ keeps it 7 x retentionSeconds.
 * A job in any other state is kept: one waiting, active or delayed gives its verdict, and one that
 * failed within the window may still be owed its verdict by the sweep (and a job that fails every
 * time is not scanned again on every enqueue).
 * KEYS: each scan queue's completed set, then each one's failed set, then per job its key in each
 * scan queue and its verdict key (all under the prefix, one Cluster slot). ARGV: the number of scan
 * queues, the cut-off (ms since the epoch), then per job its jobId.
 * Returns per job the 1-based index of the first scan queue still holding it, else the number of
 * queues + 1 when its verdict is stored, else 0.
 */
const DEDUP_LOOKUP = `${REMOVE_FINISHED_JOB}
local queues = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local stride = queues + 1
local found = {}
for n = 1, #ARGV - 2 do
  local base = 2 * queues + (n - 1) * stride
  local jobId = ARGV[n + 2]
  local scanned = redis.call('EXISTS', KEYS[base + stride]) == 1
  local holder = 0
  for q = 1, queues do
    local jobKey = KEYS[base + q]
    if redis.call('EXISTS', jobKey) == 1 then
      local replaced = false
      if not scanned then
        if redis.call('ZSCORE', KEYS[q], jobId) then
          replaced = remove_finished_job(KEYS[q], jobId, jobKey)
        else
          local failedAt = redis.call('ZSCORE', KEYS[queues + q], jobId)
          if failedAt and tonumber(failedAt) <= cutoff then
            replaced = remove_finished_job(KEYS[queues + q], jobId, jobKey)
          end
        end
      end
      if not replaced and holder == 0 then
        holder = q
      end
    end
  end
  if holder == 0 and scanned then holder = stride end
  found[n] = holder
end
return found
`;

/** The producer client for upload and send paths. */
export function createScanClient(options: ScanClientOptions = {}): ScanClient {
  // Checked before anything is opened: Infinity, NaN or a value past Node's longest timer would
  // make every command time out at once (a timer that long fires after 1 ms), and a negative backoff
  // turns BullMQ's retries off.
  const commandTimeoutMs = integerOption('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
  const retentionSeconds = integerOption('retentionSeconds', options.retentionSeconds, 86_400, 1, 365 * 86_400);
  const defaultJobOptions = scanJobOptions({
    attempts: integerOption('attempts', options.attempts, 5, 1, 1_000),
    backoffMs: integerOption('backoffMs', options.backoffMs, 1000, 0, MAX_TIMEOUT_MS),
    retentionSeconds,
  });
  const ownsConnection = !isRedisClient(options.connection);
  // Connections the client creates fail a command once a reconnect has failed: a producer would
  // rather fail than block an upload, and a command it stopped waiting for should not run much
  // later. The operation deadline covers the rest: a Redis that accepts connections but does not
  // answer, and BullMQ waiting for its connection to become ready.
  const connection: RedisClient = createRedis(options.connection, FAIL_FAST_OPTIONS);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const validation = { limits: options.limits ?? DEFAULT_JOB_LIMITS, imageRoot: options.imageRoot ?? envImageRoot() };
  // Only a connection the client owns is listened to: a caller's keeps its own error handling.
  const unavailability = unavailabilityOf(connection, { listen: ownsConnection });
  const queues = Object.fromEntries(
    SCAN_QUEUE_KINDS.map((kind) => [kind, new Queue(kind, { connection, prefix, defaultJobOptions }).on('error', unavailability.remember)]),
  ) as Record<ScanQueueKind, Queue>;
  // Reads only: the retention and stream length are the workers' to set.
  const verdicts = new VerdictStore(connection, { prefix, retentionSeconds: 1, streamMaxLength: 1 });
  let subscriber: RedisClient | undefined;
  let subscribed: Promise<unknown> | undefined;
  const waiters = new Map<string, Set<() => void>>();
  /** What close() calls to end each waitForVerdict still waiting. */
  const pendingWaits = new Set<() => void>();
  /** Enqueues under way: close() lets them finish before it closes the connection they use. */
  const enqueuesInFlight = new Set<Promise<unknown>>();
  let closed = false;

  /** ScanError `redis_unavailable` once close() was called: every call after it fails alike, typed. */
  function ensureOpen(what: string): void {
    if (closed) throw new ScanError('redis_unavailable', `the scan client is closed: ${what}`);
  }

  /** Runs an enqueue, counted in enqueuesInFlight until it settles. */
  async function enqueueing<T>(work: () => Promise<T>): Promise<T> {
    ensureOpen('nothing can be enqueued');
    const running = work();
    enqueuesInFlight.add(running);
    try {
      return await running;
    } finally {
      enqueuesInFlight.delete(running);
    }
  }

  type Prepared = ReturnType<typeof prepare>;

  function prepare(input: ScanJobInput, enqueueOptions: EnqueueOptions = {}) {
    const job: ScanJob = validateJob(input, validation);
    const problem = enqueueOptions.jobId === undefined ? undefined : jobIdProblem(enqueueOptions.jobId);
    if (problem) throw new ScanError('invalid_job', `jobId: ${JSON.stringify(String(enqueueOptions.jobId).slice(0, 80))} ${problem}`);
    const priorityIssue = enqueueOptions.priority === undefined ? undefined : priorityProblem(enqueueOptions.priority);
    if (priorityIssue) throw new ScanError('invalid_job', `priority: ${String(enqueueOptions.priority).slice(0, 80)} ${priorityIssue}`);
    const jobId = enqueueOptions.jobId ?? jobIdForContent(job.contentId, job.tenant);
    const opts = { jobId, ...(enqueueOptions.priority !== undefined && { priority: enqueueOptions.priority }) };
    return { job, queue: queueForJob(job), opts };
  }

  /**
   * `work` (commands on `on`), or ScanError `redis_unavailable` once commandTimeoutMs passes or the
   * connection gives up on it. A connection of the client's own that went silent is dropped and
   * reconnects (see withConnectionDeadline); a caller's is left as configured, and so is the
   * subscriber duplicated from it.
   */
  async function redisCall<T>(work: Promise<T>, on: RedisClient = connection): Promise<T> {
    try {
      const expired = () => unavailability.error(`did not answer within ${commandTimeoutMs} ms`);
      return await withConnectionDeadline(on, work, commandTimeoutMs, expired, () => ownsConnection && !closed);
    } catch (error) {
      // Redis away (a Cluster's node too, mid-failover), or answering that it refuses to serve now
      // (out of memory, loading, a replica, a cluster reconfiguring): as transient for the caller
      // as an outage, and typed like one.
      throw unavailability.from(error) ?? error;
    }
  }

  const readVerdict = (jobId: string) => redisCall(verdicts.get(jobId));

  /**
   * Adds the jobs whose jobId no scan queue holds yet and that have no stored verdict. The default
   * jobId is the content's, and content enqueued again with an image added routes to the other
   * queue: BullMQ only dedups within a queue, so the other queue's job key is looked up first.
   * The verdict key is looked up too: completed jobs are trimmed to 100,000 per queue (minutes or
   * seconds of a busy fleet, far less than retentionSeconds), and a job added again after that
   * would be scanned again for a verdict store-once drops. A job whose verdict is gone (expired or
   * evicted) that completed, or failed more than retentionSeconds ago, is removed and the job added
   * anew (see DEDUP_LOOKUP). Not atomically with the add: a producer adding the same jobId to the
   * other queue in between still makes two jobs (the verdict stored first counts); within one
   * queue BullMQ's add stays a no-op.
   */
  async function enqueueChunk(chunk: readonly Prepared[]): Promise<EnqueuedJob[]> {
    const keys = [...SCAN_QUEUE_KINDS.map((kind) => queues[kind].toKey('completed')), ...SCAN_QUEUE_KINDS.map((kind) => queues[kind].toKey('failed'))];
    for (const { opts } of chunk) {
      for (const kind of SCAN_QUEUE_KINDS) keys.push(queues[kind].toKey(opts.jobId));
      keys.push(verdicts.keys.verdict(opts.jobId));
    }
    // Failed jobs that finished before this are past the dedup window (see DEDUP_LOOKUP).
    const cutoff = Date.now() - retentionSeconds * 1000;
    const args = [SCAN_QUEUE_KINDS.length, cutoff, ...chunk.map(({ opts }) => opts.jobId)];
    const found = (await runScript(connection, DEDUP_LOOKUP, keys, args)) as number[];
    const placed = new Map<string, ScanQueueKind>();
    const results = chunk.map(({ opts, queue }, index): EnqueuedJob => {
      const holder = found[index] ?? 0;
      const existing = SCAN_QUEUE_KINDS[holder - 1] ?? placed.get(opts.jobId);
      if (existing) return { jobId: opts.jobId, queue: existing, duplicate: true };
      // Its job is gone but its verdict is kept: nothing to add (a later entry of the chunk with
      // this jobId is the same duplicate).
      const scanned = holder === SCAN_QUEUE_KINDS.length + 1;
      placed.set(opts.jobId, queue);
      return { jobId: opts.jobId, queue, duplicate: scanned };
    });
    for (const kind of SCAN_QUEUE_KINDS) {
      const batch = chunk.filter((_, index) => !results[index]!.duplicate && results[index]!.queue === kind);
      if (batch.length) await queues[kind].addBulk(batch.map((p) => ({ name: SCAN_JOB_NAME, data: p.job, opts: p.opts })));
    }
    return results;
  }

  function wakeAll(): void {
    for (const set of waiters.values()) set.forEach((wake) => wake());
  }

  /** One subscription per client, shared by every waiter: its connection, and a promise resolved once SUBSCRIBE is confirmed. */
  function ensureSubscribed(): { subscriber: RedisClient; subscribed: Promise<unknown> } {
    if (!subscriber) {
      const created = subscriberConnection(connection);
      subscriber = created;
      created.on('error', unavailability.remember);
      created.on('message', (_channel: string, jobIds: string) => {
        for (const jobId of jobIds.split('\n')) waiters.get(jobId)?.forEach((wake) => wake());
      });
      // Subscribed again after a reconnect (subscriberConnection: ioredis does not), and, since
      // announcements made while the subscriber was away are lost, every waiter looks anew.
      onSubscriberReady(created, () => {
        // A Cluster's subscriber resubscribes by itself: subscribed here only to wake the waiters after.
        if (waiters.size || !isRedisCluster(created)) created.subscribe(verdicts.keys.channel).then(wakeAll, () => undefined);
      });
    }
    // A failed SUBSCRIBE (Redis unreachable) is tried again by the next waiter.
    subscribed ??= subscriber.subscribe(verdicts.keys.channel).catch((error: unknown) => {
      subscribed = undefined;
      throw error;
    });
    return { subscriber, subscribed };
  }

  return {
    async enqueue(input, enqueueOptions) {
      const prepared = prepare(input, enqueueOptions);
      const [enqueued] = await enqueueing(() => redisCall(enqueueChunk([prepared])));
      return enqueued!;
    },

    async enqueueBulk(entries) {
      // Every job is checked before any is sent; the error names the job it is about.
      const prepared = entries.map(({ job, options: o }, index) => {
        try {
          return prepare(job, o);
        } catch (error) {
          if (error instanceof ScanError) throw new ScanError(error.code, `jobs[${index}]: ${error.message}`, { ...error.detail, job: index }, { cause: error });
          throw error;
        }
      });
      // In chunks, each with its own deadline: one deadline for 150,000 jobs ran out on a healthy
      // Redis. A later chunk finds the jobs of an earlier one in the queues, so duplicates across
      // chunks are found too.
      return enqueueing(async () => {
        const enqueued: EnqueuedJob[] = [];
        for (let start = 0; start < prepared.length; start += ENQUEUE_CHUNK) {
          enqueued.push(...(await redisCall(enqueueChunk(prepared.slice(start, start + ENQUEUE_CHUNK)))));
        }
        return enqueued;
      });
    },

    async getVerdict(jobId) {
      ensureOpen(`the verdict of job ${jobId} cannot be read`);
      return readVerdict(jobId);
    },

    async waitForVerdict(jobId, { timeoutMs = DEFAULT_WAIT_FOR_VERDICT_MS } = {}) {
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
        throw new RangeError(`timeoutMs: ${String(timeoutMs).slice(0, 80)} must be a number of milliseconds from 0 to ${MAX_TIMEOUT_MS} (the longest timer Node keeps)`);
      }
      ensureOpen(`no verdict for job ${jobId} can be awaited`);
      // One deadline from the call on: a subscribe or read still running when it passes is not
      // waited for, the last read below decides.
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<typeof WAIT_EXPIRED>((resolve) => (timer = setTimeout(() => resolve(WAIT_EXPIRED), timeoutMs)));
      // close() ends the wait at once, whatever it is waiting for (the last read included).
      let end: () => void = () => {};
      const ended = new Promise<never>((_, reject) => {
        end = () => {
          clearTimeout(timer);
          reject(new ScanError('redis_unavailable', `the scan client was closed while waiting for the verdict of job ${jobId}`));
        };
      });
      ended.catch(() => undefined);
      pendingWaits.add(end);
      let wake: () => void = () => {};
      let woken = new Promise<void>((resolve) => (wake = resolve));
      const waiter = () => wake();
      const set = waiters.get(jobId) ?? new Set();
      set.add(waiter);
      waiters.set(jobId, set);
      try {
        // Subscribed before the first read, so a verdict stored in between still wakes us.
        const subscribing = ensureSubscribed();
        if ((await Promise.race([redisCall(subscribing.subscribed, subscribing.subscriber), expired, ended])) !== WAIT_EXPIRED) {
          let answered = false;
          for (;;) {
            let verdict: Awaited<ReturnType<typeof readVerdict>> | typeof WAIT_EXPIRED;
            try {
              verdict = await Promise.race([readVerdict(jobId), expired, ended]);
            } catch (error) {
              // Redis went away once the wait was under way (a failover, a restart): the wait goes
              // on, reading again every WAIT_RETRY_MS or on an announcement, and the last read at
              // timeoutMs decides. Unavailable from the start, the caller hears of it at once.
              if (closed || !answered || !(error instanceof ScanError && error.code === 'redis_unavailable')) throw error;
              let retryTimer: NodeJS.Timeout | undefined;
              const retry = new Promise<void>((resolve) => (retryTimer = setTimeout(resolve, WAIT_RETRY_MS)));
              try {
                if ((await Promise.race([woken, retry, expired, ended])) === WAIT_EXPIRED) break;
              } finally {
                clearTimeout(retryTimer);
              }
              woken = new Promise<void>((resolve) => (wake = resolve));
              continue;
            }
            answered = true;
            if (verdict === WAIT_EXPIRED) break;
            if (verdict) return verdict;
            if ((await Promise.race([woken, expired, ended])) === WAIT_EXPIRED) break;
            // Armed again before the next read, so a wake during that read is not lost.
            woken = new Promise<void>((resolve) => (wake = resolve));
          }
        }
        // Also catches a verdict whose announcement never reached us.
        const verdict = await Promise.race([readVerdict(jobId), ended]);
        if (verdict) return verdict;
        throw new ScanError('verdict_timeout', `no verdict for job ${jobId} within ${timeoutMs} ms`);
      } finally {
        clearTimeout(timer);
        pendingWaits.delete(end);
        set.delete(waiter);
        if (set.size === 0) waiters.delete(jobId);
      }
    },

    async close() {
      closed = true;
      // Waiters end now, not at their timeouts: their reads would fail on the closed connection anyway.
      for (const end of [...pendingWaits]) end();
      pendingWaits.clear();
      // Enqueues under way finish (each bounded by commandTimeoutMs a chunk): a job half-added
      // would be lost to the caller, who was not told it failed.
      await Promise.allSettled([...enqueuesInFlight]);
      await Promise.all(Object.values(queues).map((q) => q.close()));
      // A subscriber has nothing to finish; disconnecting also drops a SUBSCRIBE still waiting for Redis.
      subscriber?.disconnect();
      // QUIT lets commands in flight finish, unless Redis does not answer.
      if (ownsConnection) await redisCall(connection.quit()).catch(() => connection.disconnect());
    },
  };
}

/** ABUSE_SCAN_IMAGE_ROOT as workers read it: blank is unset (' ' was taken for a root, accepting path items workers refuse). */
function envImageRoot(): string | undefined {
  const root = process.env.ABUSE_SCAN_IMAGE_ROOT;
  return root !== undefined && root.trim() !== '' ? root : undefined;
}
