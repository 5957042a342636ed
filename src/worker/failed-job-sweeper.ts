import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { FleetConfig } from '../config/config.js';
import type { RedisClient } from '../runtime/redis.js';
import { REMOVE_FINISHED_JOB } from '../queues/finished-job-removal.js';
import { runScript } from '../runtime/redis-script.js';
import { verdictJobId } from '../verdicts/verdict-keys.js';
import { FAILED_JOB_VERDICT_FIELD, type VerdictStore } from '../verdicts/verdict-store.js';

/** How far the clocks of two workers may differ (BullMQ stamps a failed job with its worker's clock). */
const CLOCK_SKEW_MS = 60_000;

/**
 * How much longer than the sweep window (the verdict retention) a verdict key must live. A job can
 * fail for good after its verdict was stored: its worker stored the verdict and died before
 * completing it, and the runs after that died too, until the stalled checker failed it. Such a
 * job enters the window only when it failed, so its verdict key must outlive the window by that
 * delay: each of its maxStalledCount + 1 stalls takes at most a lock duration (the lock to expire)
 * and a stalled interval (the checker to see it); clock skew between the worker that failed it
 * and the one sweeping comes on top. (Time a stalled job spent waiting in a backlog is not covered.)
 * Keeping the key longer is simpler than shortening the window, which would leave a small
 * retention no window at all: the window stays the retention, always positive.
 */
export function verdictKeyMarginMs(config: Pick<FleetConfig, 'lockDurationMs' | 'stalledIntervalMs' | 'maxStalledCount'>): number {
  return (config.maxStalledCount + 1) * (config.lockDurationMs + config.stalledIntervalMs) + CLOCK_SKEW_MS;
}

/** Seconds a worker keeps a verdict key: the retention plus the sweep margin (verdictKeyMarginMs). */
export function verdictKeySeconds(config: Pick<FleetConfig, 'verdictRetentionSeconds' | 'lockDurationMs' | 'stalledIntervalMs' | 'maxStalledCount'>): number {
  return config.verdictRetentionSeconds + Math.ceil(verdictKeyMarginMs(config) / 1000);
}

export interface FailedJobSweeperOptions {
  /**
   * How far back failed jobs are owed a verdict: the verdict retention. Verdict keys must live
   * longer than this by verdictKeyMarginMs, or a job failed after its verdict was stored could
   * be found here without it and given a second verdict.
   */
  windowMs: number;
  /** Failed jobs checked per sweep at most; a backlog is worked through over several sweeps. */
  maxPerSweep?: number;
  /** Failed jobs finished this recently are always checked again: other workers' clocks may lag. */
  clockSkewMs?: number;
  /** Failed jobs past their retention removed per removeExpired() at most, in batches of REMOVE_BATCH. */
  maxRemovedPerSweep?: number;
}

/** Gives a failed job its verdict; resolves whether the job now has one, or is owed none (its failure is gone). */
export type GiveVerdict = (job: Job) => Promise<boolean>;

const PAGE = 500;

/**
 * A page of a finished set, failed or completed (ids and scores, alternating, in the set's order) from score ARGV[1],
 * or, past the first page, right after the last job the previous page returned (ARGV[2], at score
 * ARGV[3]). Pages continue from that job, not from an offset: jobs removed meanwhile below it (by
 * BullMQ at each failure, by another worker's removeExpired, by hand) would shift an offset past
 * jobs never checked, and the watermark past jobs that still owe their verdict. If that job left
 * the set meanwhile, the page goes on from its score, after it in the set's order (members of one
 * score are ordered bytewise; Lua's own string comparison follows the server's locale).
 * KEYS: the finished set. ARGV: from, the previous page's last id ('' for the first page), its score, page size.
 */
const FINISHED_PAGE = `
local function after(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local size = tonumber(ARGV[4])
if ARGV[2] == '' then
  return redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, size)
end
local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
if rank then
  return redis.call('ZRANGE', KEYS[1], rank + 1, rank + size, 'WITHSCORES')
end
local page = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], ARGV[3])) do
  if #page == 2 * size then return page end
  if after(id, ARGV[2]) then
    page[#page + 1] = id
    page[#page + 1] = ARGV[3]
  end
end
local rest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf', 'WITHSCORES', 'LIMIT', 0, size - #page / 2)
for _, value in ipairs(rest) do page[#page + 1] = value end
return page
`;
/**
 * Failed jobs removed per Redis call: each removal frees the job's payload (inline images, up to
 * 32 MiB a job) inside one script, which holds Redis meanwhile.
 */
const REMOVE_BATCH = 100;
/**
 * How far below the watermark removals stop: jobs finished in the watermark's own millisecond may
 * not all have been checked (a sweep that stopped at maxPerSweep), and Queue.clean reads its own
 * clock for the cut-off it is given as an age, a millisecond or so after ours.
 */
const REMOVE_MARGIN_MS = 1000;

/**
 * The failed-job retention of the jobs a producer adds (the client's retentionSeconds x 7, see
 * scanJobOptions), in ms, as their own options carry it: removeOnFail's `age`, in seconds. Undefined
 * when they carry none (a job added raw, without the client: BullMQ keeps it).
 */
export function failedJobRetentionMs(opts: Pick<JobsOptions, 'removeOnFail'>): number | undefined {
  return keepAgeMs(opts.removeOnFail);
}

/**
 * The completed-job retention of a job (the client's retentionSeconds, see scanJobOptions), in ms,
 * as its own options carry it: removeOnComplete's `age`, in seconds. Undefined when they carry none
 * (kept by count only, or added raw without the client: BullMQ never removes it by age).
 */
export function completedJobRetentionMs(opts: Pick<JobsOptions, 'removeOnComplete'>): number | undefined {
  return keepAgeMs(opts.removeOnComplete);
}

function keepAgeMs(keep: JobsOptions['removeOnComplete']): number | undefined {
  const age = typeof keep === 'object' && keep !== null && 'age' in keep ? keep.age : undefined;
  return typeof age === 'number' && age >= 0 ? age * 1000 : undefined;
}

/**
 * Finds scan jobs that failed for good without a verdict and has them given one. BullMQ fails a
 * job that stalled more than `maxStalledCount` times (its workers kept crashing) from inside the
 * stalled checker and announces it only on the queue's event stream; a worker can also die
 * between failing a job and storing its verdict, or find Redis refusing the verdict write.
 *
 * Whether a job is owed a verdict is read from Redis (its verdict key is missing, and its hash
 * carries no note of a verdict given to it for its current failure: FAILED_JOB_VERDICT_FIELD, the
 * failure's score in the failed set), not from what this process saw, so a restarted worker, or
 * one whose writes failed for a while, catches up. Each sweep walks the failed set in finish order
 * from a watermark below which every failed job is known to have its verdict; the watermark never
 * passes a job whose verdict could not be stored.
 *
 * It also removes failed jobs past their retention (removeExpired): BullMQ applies a job's
 * removeOnFail age only when another job fails on the queue, so after the last failure the failed
 * jobs, and their payloads, stayed for good.
 */
export class FailedJobSweeper {
  private settledUntil: number | undefined;
  private readonly maxPerSweep: number;
  private readonly clockSkewMs: number;
  private readonly maxRemovedPerSweep: number;

  constructor(
    private readonly queue: Queue,
    private readonly redis: RedisClient,
    private readonly store: VerdictStore,
    private readonly options: FailedJobSweeperOptions,
  ) {
    this.maxPerSweep = options.maxPerSweep ?? 5_000;
    this.clockSkewMs = options.clockSkewMs ?? CLOCK_SKEW_MS;
    this.maxRemovedPerSweep = options.maxRemovedPerSweep ?? 1_000;
  }

  /** Checks failed jobs from the watermark on; returns how many were given a verdict. */
  async sweep(giveVerdict: GiveVerdict): Promise<number> {
    const now = Date.now();
    const from = Math.max(this.settledUntil ?? 0, now - this.options.windowMs);
    let firstUnsettled: number | undefined;
    let lastChecked = from;
    let reachedEnd = false;
    let given = 0;
    let after = ['', ''];
    for (let read = 0; read < this.maxPerSweep; read += PAGE) {
      const page = (await runScript(this.redis, FINISHED_PAGE, [this.queue.toKey('failed')], [from, after[0]!, after[1]!, PAGE])) as string[];
      if (page.length > 0) after = page.slice(-2);
      const ids = page.filter((_, i) => i % 2 === 0);
      const finishedAt = page.filter((_, i) => i % 2 === 1).map(Number);
      // Verdicts go by verdictJobId: a job BullMQ numbered itself by its queue and number.
      const present = await this.store.has(ids.map((id) => verdictJobId(this.queue.name, id)));
      for (const [i, id] of ids.entries()) {
        lastChecked = finishedAt[i]!;
        if (present[i]) continue;
        // Given its verdict for this failure, whose key is gone (evicted: volatile-* maxmemory
        // policies evict keys with a TTL first): the job carries the note of this failure's score,
        // and is owed nothing more. A note of an earlier failure (the job retried by hand since,
        // BullMQ keeps the field, and failed again) does not count.
        const note = await this.redis.hget(this.queue.toKey(id), FAILED_JOB_VERDICT_FIELD);
        if (note !== null && Number(note) === finishedAt[i]) continue;
        const job = await Job.fromId(this.queue, id);
        // Gone (removed meanwhile) or moved on (retried by hand): nothing is owed.
        if (!job || !(await job.isFailed())) continue;
        if (await giveVerdict(job)) {
          given++;
          continue;
        }
        // A write that failed (Redis refusing writes) would fail for the rest too: the next sweep
        // starts again from here, instead of three round trips and a failure per failed job now.
        firstUnsettled = finishedAt[i]!;
        break;
      }
      if (firstUnsettled !== undefined) break;
      if (ids.length < PAGE) {
        reachedEnd = true;
        break;
      }
    }
    const checkedUpTo = firstUnsettled !== undefined ? firstUnsettled - 1 : reachedEnd ? now : lastChecked;
    this.settledUntil = Math.min(checkedUpTo, now - this.clockSkewMs);
    return given;
  }

  /**
   * Removes failed jobs older than the failed-job retention, oldest first, at most
   * maxRemovedPerSweep; returns how many. The retention is the one BullMQ would apply if a job
   * failed now: the removeOnFail age of the most recently failed job (failedJobRetentionMs; none,
   * nothing is removed). Only jobs below this sweeper's watermark go (less a margin): those a
   * sweep found with their verdict, gave one, or found outside the window (owed none), so a job
   * that still owes a verdict is never removed; the watermark trails the clock by the clock skew,
   * so a job goes a minute after it failed at the earliest. Call it after sweep(); before any
   * sweep it removes nothing. BullMQ's Queue.clean removes the jobs (their keys and payloads) in
   * one script per batch, only jobs still in the failed set then (not one retried meanwhile).
   */
  async removeExpired(): Promise<number> {
    if (this.settledUntil === undefined) return 0;
    const failed = this.queue.toKey('failed');
    const [newest] = await this.redis.zrevrange(failed, 0, 0);
    if (newest === undefined) return 0;
    const retentionMs = failedJobRetentionMs(parseOpts(await this.redis.hget(this.queue.toKey(newest), 'opts')));
    if (retentionMs === undefined) return 0;
    const cutoff = Math.min(Date.now() - retentionMs, this.settledUntil - REMOVE_MARGIN_MS);
    let removed = 0;
    while (removed < this.maxRemovedPerSweep) {
      const batch = Math.min(REMOVE_BATCH, this.maxRemovedPerSweep - removed);
      // Queue.clean takes an age: jobs finished at `cutoff` or before (it reads the clock again).
      const ids = await this.queue.clean(Date.now() - cutoff, batch, 'failed');
      removed += ids.length;
      if (ids.length < batch) break;
    }
    return removed;
  }
}

/** A job's options as BullMQ stores them; none when they do not parse (a hash written by hand). */
function parseOpts(raw: string | null): JobsOptions {
  try {
    return Job.optsFromJSON(raw ?? undefined);
  } catch {
    return {};
  }
}

export interface CompletedJobSweeperOptions {
  /** Completed jobs removed per removeExpired() at most, in batches of REMOVE_BATCH. */
  maxRemovedPerSweep?: number;
  /** Completed jobs whose options are read per removeExpired() at most; the next call goes on from there. */
  maxCheckedPerSweep?: number;
}

/**
 * Removes the completed jobs the sweep found past their own retention. KEYS: the completed set, then
 * each job's key (under the prefix, one Cluster slot). ARGV: per job its id and the score (finish
 * time) it was found at. Only a job still completed at that score goes: one retried since, or
 * replaced by the client and completed again, is another run; removed as REMOVE_FINISHED_JOB
 * removes one (a child of a flow stays). Returns how many went.
 */
const REMOVE_COMPLETED = `${REMOVE_FINISHED_JOB}
local removed = 0
for i = 2, #KEYS do
  local id, score, job = ARGV[2 * i - 3], ARGV[2 * i - 2], KEYS[i]
  local at = redis.call('ZSCORE', KEYS[1], id)
  if at and tonumber(at) == tonumber(score) and remove_finished_job(KEYS[1], id, job) then removed = removed + 1 end
end
return removed
`;

/**
 * Removes completed jobs past their retention: BullMQ applies a job's removeOnComplete age only
 * when another job completes on the queue, so on a queue gone quiet the completed jobs, and their
 * payloads (inline images, up to 32 MiB a job), stayed long past it.
 *
 * Queue.clean does not fit: it removes every job finished before one cut-off, whatever the job's
 * own options say, so it would remove jobs kept by count only (or kept longer).
 */
export class CompletedJobSweeper {
  /** Where the next removeExpired() goes on: after this job, at this score; unset, from the oldest. */
  private after: [id: string, score: string] | undefined;
  private readonly maxRemovedPerSweep: number;
  private readonly maxCheckedPerSweep: number;

  constructor(
    private readonly queue: Queue,
    private readonly redis: RedisClient,
    options: CompletedJobSweeperOptions = {},
  ) {
    this.maxRemovedPerSweep = options.maxRemovedPerSweep ?? 1_000;
    this.maxCheckedPerSweep = options.maxCheckedPerSweep ?? 5_000;
  }

  /**
   * Removes completed jobs past their own removeOnComplete age (completedJobRetentionMs; none,
   * kept), oldest first, at most maxRemovedPerSweep; returns how many. It looks at the jobs that
   * BullMQ's trim would remove if a job completed now (those finished longer ago than the most
   * recently completed job's age; when that job has none, all), so a busy queue, which BullMQ trims
   * itself, costs three reads. A job of a shorter age than that one's waits till then, as under
   * BullMQ's trim. Kept jobs among them (by count only, or a longer age) are read again only after
   * the rest: each call goes on where the last one stopped, from the oldest once through.
   */
  async removeExpired(): Promise<number> {
    const completed = this.queue.toKey('completed');
    const [newest] = await this.redis.zrevrange(completed, 0, 0);
    if (newest === undefined) return 0;
    const now = Date.now();
    const newestAge = completedJobRetentionMs(parseOpts(await this.redis.hget(this.queue.toKey(newest), 'opts')));
    const upTo = now - (newestAge ?? 0);
    let removed = 0;
    for (let checked = 0; checked < this.maxCheckedPerSweep && removed < this.maxRemovedPerSweep; checked += PAGE) {
      const [afterId, afterScore] = this.after ?? ['', ''];
      const page = (await runScript(this.redis, FINISHED_PAGE, [completed], ['-inf', afterId, afterScore, PAGE])) as string[];
      const jobs: Array<[id: string, score: string]> = [];
      for (let i = 0; i + 1 < page.length && Number(page[i + 1]) <= upTo; i += 2) jobs.push([page[i]!, page[i + 1]!]);
      const opts = await this.readOpts(jobs.map(([id]) => id));
      const expired = jobs.filter(([, score], i) => {
        const retentionMs = completedJobRetentionMs(opts[i]!);
        return retentionMs !== undefined && Number(score) <= now - retentionMs;
      });
      const taken = expired.slice(0, this.maxRemovedPerSweep - removed);
      for (let from = 0; from < taken.length; from += REMOVE_BATCH) {
        const batch = taken.slice(from, from + REMOVE_BATCH);
        const keys = [completed, ...batch.map(([id]) => this.queue.toKey(id))];
        removed += (await runScript(this.redis, REMOVE_COMPLETED, keys, batch.flat())) as number;
      }
      if (taken.length < expired.length) {
        // Stopped at the cap: the next call goes on right after the last job removed.
        this.after = taken.at(-1);
        return removed;
      }
      if (jobs.length < PAGE) {
        this.after = undefined; // through (the end, or jobs too recent): from the oldest next time
        return removed;
      }
      this.after = jobs.at(-1);
    }
    return removed;
  }

  /** Each job's options, in one round trip. */
  private async readOpts(ids: readonly string[]): Promise<JobsOptions[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.queue.toKey(id), 'opts');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, raw]) => {
      if (error) throw error;
      return parseOpts(raw as string | null);
    });
  }
}
