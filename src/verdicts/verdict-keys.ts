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
