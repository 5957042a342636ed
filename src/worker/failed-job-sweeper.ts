import { Job, type Queue } from 'bullmq';
import type { FleetConfig } from '../config/config.js';
import type { RedisClient } from '../runtime/redis.js';
import { verdictJobId } from '../verdicts/verdict-keys.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';

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
}

/** Gives a failed job its verdict; resolves whether the job now has one. */
export type GiveVerdict = (job: Job) => Promise<boolean>;

const PAGE = 500;

/**
 * Finds scan jobs that failed for good without a verdict and has them given one. BullMQ fails a
 * job that stalled more than `maxStalledCount` times (its workers kept crashing) from inside the
 * stalled checker and announces it only on the queue's event stream; a worker can also die
 * between failing a job and storing its verdict, or find Redis refusing the verdict write.
 *
 * Whether a job is owed a verdict is read from Redis (its verdict key is missing), not from what
 * this process saw, so a restarted worker, or one whose writes failed for a while, catches up. Each
 * sweep walks the failed set in finish order from a watermark below which every failed job is
 * known to have its verdict; the watermark never passes a job whose verdict could not be stored.
 */
export class FailedJobSweeper {
  private settledUntil: number | undefined;
  private readonly maxPerSweep: number;
  private readonly clockSkewMs: number;

  constructor(
    private readonly queue: Queue,
    private readonly redis: RedisClient,
    private readonly store: VerdictStore,
    private readonly options: FailedJobSweeperOptions,
  ) {
    this.maxPerSweep = options.maxPerSweep ?? 5_000;
    this.clockSkewMs = options.clockSkewMs ?? CLOCK_SKEW_MS;
  }

  /** Checks failed jobs from the watermark on; returns how many were given a verdict. */
  async sweep(giveVerdict: GiveVerdict): Promise<number> {
    const now = Date.now();
    const from = Math.max(this.settledUntil ?? 0, now - this.options.windowMs);
    let firstUnsettled: number | undefined;
    let lastChecked = from;
    let reachedEnd = false;
    let given = 0;
    for (let offset = 0; offset < this.maxPerSweep; offset += PAGE) {
      const page = await this.redis.zrangebyscore(this.queue.toKey('failed'), from, '+inf', 'WITHSCORES', 'LIMIT', offset, PAGE);
      const ids = page.filter((_, i) => i % 2 === 0);
      const finishedAt = page.filter((_, i) => i % 2 === 1).map(Number);
      // Verdicts go by verdictJobId: a job BullMQ numbered itself by its queue and number.
      const present = await this.store.has(ids.map((id) => verdictJobId(this.queue.name, id)));
      for (const [i, id] of ids.entries()) {
        lastChecked = finishedAt[i]!;
        if (present[i]) continue;
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
}
