import type { Logger } from './logger.js';

/** A long-running part of the fleet, started by name from the CLI. */
export interface Runnable {
  run(): Promise<void>;
  /** Stops taking work, finishes what is in flight, releases resources. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Runs until SIGTERM or SIGINT, then shuts down gracefully and exits 0. A second signal while
 * shutting down exits 1 at once (an operator who means it).
 */
export async function runUntilSignalled(runnable: Runnable, logger: Logger, onStopped: () => Promise<void> = async () => {}): Promise<void> {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down gracefully');
    runnable
      .shutdown()
      .then(onStopped)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await runnable.run();
}
