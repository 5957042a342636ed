import type { Job, Queue } from 'bullmq';

/**
 * Finds scan jobs that failed for good since the last sweep. BullMQ fails a job that stalled more
 * than `maxStalledCount` times (its workers kept crashing) from inside the stalled checker, and
 * announces it only on the queue's event stream; following that stream would cost every worker a
 * parse of every event of every job. A periodic look at the newest failed jobs costs nothing while
 * nothing fails.
 */
export class FailedJobSweeper {
  private since: number;

  constructor(
    private readonly queue: Queue,
    /** Failed jobs examined per sweep at most. */
    private readonly maxPerSweep = 500,
    startedAt = Date.now(),
  ) {
    this.since = startedAt;
  }

  /** Jobs that reached the failed state since the previous call, newest first. */
  async sweep(): Promise<Job[]> {
    const now = Date.now();
    const found: Job[] = [];
    for (let start = 0; start < this.maxPerSweep; start += 100) {
      const page = await this.queue.getFailed(start, start + 99);
      const recent = page.filter((job) => (job.finishedOn ?? 0) >= this.since);
      found.push(...recent);
      if (page.length < 100 || recent.length < page.length) break;
    }
    // Overlap by a second so a job failed during this sweep is not skipped; repeats are harmless.
    this.since = now - 1000;
    return found;
  }
}
