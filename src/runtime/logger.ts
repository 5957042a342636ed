import { format } from 'node:util';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stderr, so that stdout stays free for command output. Every logger of the project
 * comes from here, so none writes a credential: see serializeError and redactUrlCredentials.
 */
export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  name = 'abuse-scan',
  destination: DestinationStream = pino.destination(2),
): Logger {
  return pino({ name, level, serializers: { err: serializeError }, hooks: { streamWrite: redactUrlCredentials } }, destination);
}

/**
 * pino's error serializer, without the command an ioredis error carries: its `args` hold AUTH's
 * and HELLO's password (a reconnect after a password rotation fails on AUTH) and job data. Only
 * the command's name is kept; nested errors (causes of a cluster error, aggregated errors) alike.
 */
export function serializeError(error: unknown, seen = new Set<unknown>()): unknown {
  if (!(error instanceof Error) || seen.has(error)) return error;
  seen.add(error);
  const serialized: Record<string, unknown> = { ...pino.stdSerializers.err(error) };
  for (const [key, value] of Object.entries(serialized)) {
    if (key === 'command') serialized[key] = commandName(value);
    // pino serialized nested errors with its own serializer; redo them from the raw error.
    else if (Array.isArray(value)) serialized[key] = value.map((item) => serializeError(rawError(item), seen));
    else serialized[key] = serializeError(rawError(value), seen);
  }
  return serialized;
}

function rawError(value: unknown): unknown {
  const raw = (value as { raw?: unknown } | null | undefined)?.raw;
  return raw instanceof Error ? raw : value;
}

function commandName(command: unknown): unknown {
  const name = (command as { name?: unknown } | null | undefined)?.name;
  return typeof name === 'string' ? { name } : '[redacted]';
}

// scheme://user:password@ -> scheme://user:[redacted]@, in any field of a line: a REDIS_URL in a
// configuration or an error message quoting a connection URL.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/"]*):[^\s@/"]+@/gi;

export function redactUrlCredentials(line: string): string {
  return line.replace(URL_CREDENTIALS, '$1:[redacted]@');
}

/**
 * Sends what libraries print with console.warn (ioredis warns so of a password the server does
 * not need, on every connection and reconnect) through `logger`, as one JSON line each: a worker's
 * stderr is JSON lines only, which log pipelines parse. For processes that log JSON (the worker);
 * returns the function that restores console.warn.
 */
export function logConsoleWarnings(logger: Logger): () => void {
  const original = console.warn;
  console.warn = (...args: unknown[]) => logger.warn({ source: 'console.warn' }, format(...args));
  return () => {
    console.warn = original;
  };
}
