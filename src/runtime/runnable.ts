import { ScanError } from '../errors.js';
import { serializeError, type Logger } from './logger.js';

/** A long-running part of the fleet, started by name from the CLI. */
export interface Runnable {
  /**
   * Stops taking work, finishes what is in flight, releases resources. Idempotent. Resolves with
   * `gaveUpWork` when some of the work in flight could not be finished (and runs again elsewhere).
   */
  shutdown(): Promise<ShutdownOutcome | void>;
  /**
   * The shutdown took too long: stop what is still in flight and log what was given up, so that
   * the process can exit without it. It may first try to hand that work back (Redis may be down):
   * the process exits once it settles, or ABANDON_TIMEOUT_MS after it was called, whichever comes
   * first.
   */
  abandon(): Promise<void> | void;
}

/**
 * How long abandon() may take before the process exits anyway: past the shutdown timeout, exit is
 * at most this much later (a Redis that does not answer cannot hold it).
 */
export const ABANDON_TIMEOUT_MS = 1000;

/** What a shutdown left undone. */
export interface ShutdownOutcome {
  /** Work in flight was given up during the drain (it runs again elsewhere): exit 75, not 0. */
  gaveUpWork: boolean;
}

/** How a runnable process ends (README, Shutdown). */
export const EXIT_CODES = {
  /** Stopped by a signal: drained, or stopped before it took any work. */
  stopped: 0,
  /** Start-up or shutdown failed, or a second signal. */
  failed: 1,
  /**
   * Draining outlasted the shutdown timeout, or lost work in flight (Redis stalled past the locks):
   * that work was given up (EX_TEMPFAIL: it runs again elsewhere).
   */
  shutdownTimedOut: 75,
} as const;

export interface RunOptions {
  /** How long the shutdown may take before the work still in flight is given up. */
  shutdownTimeoutMs: number;
}

/**
 * Runs `start` (which builds the runnable and starts its work) until SIGTERM or SIGINT, then
 * shuts it down and exits. The handlers come first: a signal during start-up exits 0 before any
 * work is taken (there is nothing to drain), instead of being lost (node as PID 1 ignores a
 * SIGTERM it has no handler for) or killing the process midway. After start-up a signal drains
 * the runnable: exit 0, or 75 past `shutdownTimeoutMs` (once abandon() settles, at most
 * ABANDON_TIMEOUT_MS later, whatever the shutdown does meanwhile). A second signal, a failed
 * start-up or a failed shutdown exit 1; errors are logged through the logger, which redacts
 * credentials.
 */
export async function runUntilSignalled(start: () => Promise<Runnable>, logger: Logger, options: RunOptions): Promise<void> {
  let runnable: Runnable | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      // Waits only for a model call in flight, which no exit can cut short (SessionPool's exit hook).
      process.exit(EXIT_CODES.failed);
    }
    stopping = true;
    if (!runnable) {
      logger.info({ signal }, 'signal during start-up: exiting before taking any work');
      process.exit(EXIT_CODES.stopped);
    }
    const running = runnable;
    /** Past the shutdown timeout: the exit is abandon()'s (75), whatever the shutdown does meanwhile. */
    let abandoning = false;
    logger.info({ signal, shutdownTimeoutMs: options.shutdownTimeoutMs }, 'shutting down gracefully');
    // Not unref'd: a shutdown stuck on a promise alone must still end here, not in a silent exit.
    setTimeout(() => {
      abandoning = true;
      logger.error({ shutdownTimeoutMs: options.shutdownTimeoutMs }, 'shutdown timed out: giving up the work in flight');
      const exit = () => process.exit(EXIT_CODES.shutdownTimedOut);
      // abandon() bounds itself; this bounds one that does not.
      setTimeout(() => {
        logger.error({ abandonTimeoutMs: ABANDON_TIMEOUT_MS }, 'giving up the work in flight took too long: exiting');
        exit();
      }, ABANDON_TIMEOUT_MS);
      // A throw as well as a rejection ends in the exit.
      Promise.resolve()
        .then(() => running.abandon())
        .then(exit, (error: unknown) => {
          logger.error({ err: error }, 'giving up the work in flight failed');
          exit();
        });
    }, options.shutdownTimeoutMs);
    running.shutdown().then(
      (outcome) => {
        if (!abandoning) process.exit(outcome?.gaveUpWork ? EXIT_CODES.shutdownTimedOut : EXIT_CODES.stopped);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        if (!abandoning) process.exit(EXIT_CODES.failed);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  logger.info('starting');
  try {
    runnable = await start();
  } catch (error) {
    logger.error({ err: withoutStackIfOperational(error) }, 'start-up failed');
    process.exit(EXIT_CODES.failed);
  }
}

/**
 * A start-up failure of the machine's state (a file, a port, Redis: a ScanError, or a system error,
 * which has an errno or a syscall) is told by its message, which names what to fix; its stack would
 * only bury that line. A programming error keeps its stack, Node's own (`ERR_INVALID_ARG_TYPE`,
 * `ERR_ASSERTION`) included.
 */
export function withoutStackIfOperational(error: unknown): unknown {
  const { errno, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  const operational = error instanceof ScanError || (error instanceof Error && (typeof errno === 'number' || typeof syscall === 'string'));
  if (!operational) return error;
  const { stack: _stack, ...serialized } = serializeError(error) as Record<string, unknown>;
  return serialized;
}
