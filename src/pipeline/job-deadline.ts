import { ScanError } from '../errors.js';

/** What `JobDeadline.expired` resolves to. */
export const DEADLINE_PASSED: unique symbol = Symbol('scan deadline passed');

/**
 * One job's scan deadline (ABUSE_SCAN_JOB_TIMEOUT_MS). `signal` aborts when `source` (the worker's
 * abandonment) does, with its reason, or once `error`'s deadline passes, with `error`; `passed`
 * says it was the deadline, so an abandoned job is still handed back, not given a verdict.
 * Its own controller rather than AbortSignal.any: see deadline-signal.ts (nodejs/node#55351).
 */
export class JobDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly forward = () => this.controller.abort(this.source!.reason);
  /** True once the deadline passed before `source` aborted. */
  passed = false;
  /** Resolves when the deadline passes; never, when it does not. */
  readonly expired: Promise<typeof DEADLINE_PASSED>;

  constructor(
    private readonly source: AbortSignal | undefined,
    readonly error: ScanError,
    ms: number,
  ) {
    let resolve!: (value: typeof DEADLINE_PASSED) => void;
    this.expired = new Promise((r) => (resolve = r));
    // Kept referenced: a scan may wait on nothing else (a decode or a match that ignores the signal).
    this.timer = setTimeout(() => {
      if (this.controller.signal.aborted) return;
      this.passed = true;
      resolve(DEADLINE_PASSED);
      this.controller.abort(error);
    }, ms);
    if (source?.aborted) this.forward();
    else source?.addEventListener('abort', this.forward, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops the timer and unhooks from `source`: call once the scan is over. */
  dispose(): void {
    clearTimeout(this.timer);
    this.source?.removeEventListener('abort', this.forward);
  }
}

/** The error of items a job's scan deadline of `ms` left unfinished (one per pipeline: no stack per job). */
export function scanDeadlineError(ms: number): ScanError {
  return new ScanError('scan_deadline', `the job's scan deadline (${ms} ms, ABUSE_SCAN_JOB_TIMEOUT_MS) passed before this item was scanned`, { jobTimeoutMs: ms });
}
