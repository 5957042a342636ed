import type { Queue } from 'bullmq';
import type { Verdict } from '../jobs/verdict-schema.js';
import { VERDICT_JOB_NAME, verdictJobOptions } from '../queues/verdicts-queue.js';

interface Pending {
  verdict: Verdict;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Writes verdicts to the verdicts queue. Verdicts finished in the same few milliseconds go out in
 * one `addBulk` (one round trip), which is what keeps the fleet near bare BullMQ throughput; each
 * caller still waits until its own verdict is stored before its scan job completes.
 */
export class VerdictEmitter {
  private batch: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: Queue,
    private readonly options: { retentionSeconds: number; maxBatch?: number; lingerMs?: number },
  ) {}

  emit(verdict: Verdict): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ verdict, resolve, reject });
      if (this.batch.length >= (this.options.maxBatch ?? 200)) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.options.lingerMs ?? 1);
    });
  }

  /** Sends what is batched and waits for every write under way. */
  async flush(): Promise<void> {
    this.flushNow();
    await Promise.allSettled([...this.inFlight]);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const opts = verdictJobOptions(this.options.retentionSeconds);
    const write = this.queue
      .addBulk(batch.map(({ verdict }) => ({ name: VERDICT_JOB_NAME, data: verdict, opts: { ...opts, jobId: verdict.jobId } })))
      .then(
        () => batch.forEach((p) => p.resolve()),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      );
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write));
  }
}
