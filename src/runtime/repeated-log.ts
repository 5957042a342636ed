import type { Logger } from './logger.js';

/** How long identical errors are counted instead of logged, after the first one is logged. */
export const REPEAT_WINDOW_MS = 60_000;
/** Distinct errors tracked at once; past that the others are counted together (OVERFLOW_KEY). */
const MAX_TRACKED = 100;
/** The one key of every error beyond MAX_TRACKED kinds: its first is logged, the rest counted. */
const OVERFLOW_KEY = '\u0000more kinds';

interface Tracked {
  message: string;
  repeats: number;
  /** The fields of the last repeat, logged with the count. */
  last: Record<string, unknown>;
  timer: NodeJS.Timeout;
}

/**
 * Logs an error that repeats (a worker error BullMQ reports on every poll while Redis refuses its
 * commands) once, then once per window with how often it repeated: the first occurrence at once,
 * then, at the end of each window in which it came back, one line with `repeated` (the count since
 * the last line) and the last occurrence's fields. A window without repeats ends the tracking: the
 * next occurrence is logged at once again. Identical means the same key (the caller's choice:
 * the queue, the error's name and message).
 */
export class RepeatedErrorLog {
  private readonly tracked = new Map<string, Tracked>();
  private readonly log: (fields: Record<string, unknown>, message: string) => void;

  /** `level`: what the lines are logged at (`warn` for a degraded path that carries on, such as a cache). */
  constructor(
    logger: Pick<Logger, 'error' | 'warn'>,
    private readonly windowMs = REPEAT_WINDOW_MS,
    level: 'error' | 'warn' = 'error',
  ) {
    this.log = (fields, message) => logger[level](fields, message);
  }

  error(key: string, fields: Record<string, unknown>, message: string): void {
    // Past MAX_TRACKED kinds at once the rest are counted as one: logging each of them once let a
    // burst of distinct errors (one per job) fill the map and every later error, a Redis outage's
    // included, be logged on every occurrence.
    const overflow = !this.tracked.has(key) && this.tracked.size >= MAX_TRACKED;
    const trackedKey = overflow ? OVERFLOW_KEY : key;
    const tracked = this.tracked.get(trackedKey);
    if (tracked) {
      tracked.repeats++;
      tracked.last = fields;
      return;
    }
    this.log(fields, message);
    this.track(trackedKey, overflow ? `${message} and others (more than ${MAX_TRACKED} kinds of error at once)` : message);
  }

  /** Logs the counts not logged yet and stops tracking (at shutdown). */
  flush(): void {
    for (const [key, tracked] of this.tracked) {
      clearTimeout(tracked.timer);
      this.tracked.delete(key);
      if (tracked.repeats > 0) this.logRepeats(tracked);
    }
  }

  private track(key: string, message: string): void {
    const timer = setTimeout(() => {
      const tracked = this.tracked.get(key);
      if (!tracked) return;
      this.tracked.delete(key);
      if (tracked.repeats === 0) return;
      this.logRepeats(tracked);
      this.track(key, message); // keep counting while it goes on
    }, this.windowMs);
    timer.unref();
    this.tracked.set(key, { message, repeats: 0, last: {}, timer });
  }

  private logRepeats(tracked: Tracked): void {
    this.log({ ...tracked.last, repeated: tracked.repeats, windowMs: this.windowMs }, `${tracked.message} (repeated ${tracked.repeats} times in ${Math.round(this.windowMs / 1000)} s)`);
  }
}
