import type { Verdict } from '../jobs/verdict-schema.js';
import type { JobFailure, JobLock, StoreOutcome, VerdictStore } from './verdict-store.js';

interface Pending {
  verdict: Verdict;
  lock: JobLock | undefined;
  failure: JobFailure | undefined;
  resolve: (outcome: StoreOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes verdicts through the store. Verdicts finished in the same event-loop turn share one
 * pipelined round trip; each caller still waits until its own verdict is stored before its scan
 * job completes, so a crash can repeat a verdict write (deduplicated) but never skip one.
 */
export class VerdictEmitter {
  private batch: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: VerdictStore,
    private readonly maxBatch = 200,
  ) {}

  /**
   * Resolves `stored`, `duplicate` (the job already had a verdict), `stale` (`lock`, the
   * attempt's hold on its job, was lost: nothing stored) or `gone` (`failure`, the failure of the
   * verdict's job, failed for good, is no longer there: nothing stored). Given `failure`, the
   * verdict is stored, and noted on the job's hash, only while the job is still failed at that
   * failure's score (VerdictStore.storeAll).
   */
  emit(verdict: Verdict, lock?: JobLock, failure?: JobFailure): Promise<StoreOutcome> {
    return new Promise<StoreOutcome>((resolve, reject) => {
      this.batch.push({ verdict, lock, failure, resolve, reject });
      if (this.batch.length >= this.maxBatch) this.flushNow();
      else this.scheduled ??= setImmediate(() => this.flushNow());
    });
  }

  /** Sends what is batched and waits for every write under way. */
  async flush(): Promise<void> {
    this.flushNow();
    await Promise.allSettled([...this.inFlight]);
  }

  private flushNow(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const write = this.store.storeAll(
      batch.map((p) => p.verdict),
      batch.map((p) => p.lock),
      batch.map((p) => p.failure),
    ).then(
      (outcomes) => batch.forEach((p, i) => p.resolve(outcomes[i] ?? 'duplicate')),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write));
  }
}
