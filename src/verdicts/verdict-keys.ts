/**
 * Where verdicts live in Redis. Every key starts with the fleet prefix, whose braces are a Redis
 * Cluster hash tag, so the stream, the per-job keys and the scan queues share one slot and the
 * store-once script may touch them together.
 */
export interface VerdictKeys {
  /** The results stream: one entry per verdict, read by consumer groups. */
  stream: string;
  /** Pub/sub channel announcing each stored verdict's jobId (wakes `waitForVerdict`). */
  channel: string;
  /** The stored verdict of one job: the idempotency marker and the lookup by jobId. */
  verdict(jobId: string): string;
}

export function verdictKeys(prefix: string): VerdictKeys {
  return {
    stream: `${prefix}:verdicts`,
    channel: `${prefix}:verdicts:stored`,
    verdict: (jobId) => `${prefix}:verdict:${jobId}`,
  };
}

/**
 * The identity a job's verdict goes by: its jobId, unless BullMQ numbered the job itself (added
 * raw to a queue without a jobId, it gets the queue's counter: "1", "2", ...). Each queue counts
 * on its own, so the first such job of `links` and of `images` are both "1"; their verdicts go by
 * `links:1` and `images:1` instead. No other jobId collides with that: the client refuses
 * all-digit ids and any ':', and BullMQ itself accepts a ':' in a custom id only twice over
 * (`a:b:c`), never once, as here (queue names cannot hold one). Every place that names a job's
 * verdict (its `jobId` field, its key, its stream entry, its announcement, the failed-job sweep's
 * lookups) goes through this.
 */
export function verdictJobId(queue: string, jobId: string): string {
  return /^\d+$/.test(jobId) ? `${queue}:${jobId}` : jobId;
}
