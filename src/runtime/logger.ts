import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stderr, so that stdout stays free for command output. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'abuse-scan'): Logger {
  return pino({ name, level }, pino.destination(2));
}
