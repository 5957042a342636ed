import { ScanError } from '../errors.js';

/** What `JobDeadline.expired` resolves to. */
export const DEADLINE_PASSED: unique symbol = Symbol('scan deadline passed');
/** What `JobDeadline.graceOver` resolves to. */
export const GRACE_OVER: unique symbol = Symbol('matching grace over');

/**
 * One job's scan deadline (ABUSE_SCAN_JOB_TIMEOUT_MS). `signal` aborts when `source` (the worker's
 * abandonment) does, with its reason, or once `error`'s deadline passes, with `error`; `passed`
 * says it was the deadline, so an abandoned job is still handed back, not given a verdict.
 * Its own controller rather than AbortSignal.any: see deadline-signal.ts (nodejs/node#55351).
 */
export class JobDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly forward = () => this.controller.abort(this.source!.reason);
  /** True once the deadline passed before `source` aborted. */
  passed = false;
  /** Resolves when the deadline passes; never, when it does not. */
  readonly expired: Promise<typeof DEADLINE_PASSED>;
  /**
   * Resolves `graceMs` after the deadline passed: how long matching past it (which needs no
   * network, but a signal type may hang) is waited for. Never, when the deadline does not pass.
   */
  readonly graceOver: Promise<typeof GRACE_OVER>;

  constructor(
    private readonly source: AbortSignal | undefined,
    readonly error: ScanError,
    ms: number,
    graceMs = 0,
  ) {
    let resolve!: (value: typeof DEADLINE_PASSED) => void;
    this.expired = new Promise((r) => (resolve = r));
    let endGrace!: (value: typeof GRACE_OVER) => void;
    this.graceOver = new Promise((r) => (endGrace = r));
    // Kept referenced: a scan may wait on nothing else (a decode or a match that ignores the signal).
    this.timer = setTimeout(() => {
      if (this.controller.signal.aborted) return;
      this.passed = true;
      this.graceTimer = setTimeout(() => endGrace(GRACE_OVER), graceMs);
      resolve(DEADLINE_PASSED);
      this.controller.abort(error);
    }, ms);
    if (source?.aborted) this.forward();
    else source?.addEventListener('abort', this.forward, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops the timers and unhooks from `source`: call once the scan is over. */
  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.graceTimer);
    this.source?.removeEventListener('abort', this.forward);
  }
}

/** The error of items a job's scan deadline of `ms` left unfinished (one per pipeline: no stack per job). */
export function scanDeadlineError(ms: number): ScanError {
  return new ScanError('scan_deadline', `the job's scan deadline (${ms} ms, ABUSE_SCAN_JOB_TIMEOUT_MS) passed before this item was scanned`, { jobTimeoutMs: ms });
}
