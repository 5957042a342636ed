import { createHash } from 'node:crypto';
import type { DefaultJobOptions } from 'bullmq';
import type { ScanJob, ScanJobInput } from '../jobs/job-schema.js';
import type { ScanQueueKind } from './names.js';

/** Job name inside the scan queues (BullMQ needs one; routing is by queue, not by name). */
export const SCAN_JOB_NAME = 'scan';

/** The scan queue a job belongs on: any image makes it CPU-bound image work. */
export function queueForJob(job: Pick<ScanJob | ScanJobInput, 'items'>): ScanQueueKind {
  return job.items.some((item) => typeof item !== 'string') ? 'images' : 'links';
}

/**
 * The default jobId: the same content (tenant + contentId) always maps to the same job, so a
 * repeated enqueue is deduplicated by BullMQ and the consumer sees one verdict. BullMQ ids may not
 * contain ':' nor be integers, hence a hash.
 */
export function jobIdForContent(contentId: string, tenant?: string): string {
  const digest = createHash('sha256').update(`${tenant ?? ''}\u0000${contentId}`).digest('hex');
  return `c-${digest.slice(0, 32)}`;
}

export interface ScanQueueOptions {
  attempts: number;
  backoffMs: number;
  /** Seconds a finished scan job stays (for dedup and inspection). */
  retentionSeconds: number;
}

export function scanJobOptions(options: ScanQueueOptions): DefaultJobOptions {
  return {
    attempts: options.attempts,
    backoff: { type: 'exponential', delay: options.backoffMs },
    removeOnComplete: { age: options.retentionSeconds, count: 100_000 },
    removeOnFail: { age: options.retentionSeconds * 7 },
  };
}
