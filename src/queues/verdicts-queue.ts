import type { DefaultJobOptions } from 'bullmq';

/** Job name of verdict jobs in the verdicts queue. */
export const VERDICT_JOB_NAME = 'verdict';

/**
 * Verdict jobs carry the scan's jobId as their own, so a scan that runs twice (a crash after the
 * verdict was written) adds nothing the second time. That holds while the first verdict is kept:
 * `retentionSeconds` is the idempotency window, and consumers must not remove verdicts sooner.
 */
export function verdictJobOptions(retentionSeconds: number): DefaultJobOptions {
  return {
    removeOnComplete: { age: retentionSeconds },
    removeOnFail: { age: retentionSeconds },
  };
}
