/**
 * The Redis connection of an operator's command (status, verdict, blocklist, hashset). Like the
 * producer client's (src/client/scan-client.ts), it fails fast instead of holding commands until
 * Redis is back as workers do: a command fails once a reconnect has failed, each Redis command
 * has a deadline, and both end as ScanError `redis_unavailable` naming the Redis and the last
 * connection error. Reconnects are finite too, so the process can exit.
 */
import type { RedisOptions } from 'ioredis';
import type { FleetConfig } from '../config/config.js';
import { ScanError } from '../errors.js';
import { createRedis, FAIL_FAST_OPTIONS, redisAddress, type RedisClient } from '../runtime/redis.js';
import { loadCliConfig } from './cli-config.js';

/** Longest wait for one Redis reply (the producer client's default commandTimeoutMs). */
export const CLI_COMMAND_TIMEOUT_MS = 5000;
/** Reconnects tried after the connection drops; then the connection ends and pending commands fail. */
const RECONNECT_ATTEMPTS = 3;

const CLI_REDIS_OPTIONS: RedisOptions = {
  ...FAIL_FAST_OPTIONS,
  commandTimeout: CLI_COMMAND_TIMEOUT_MS,
  retryStrategy: (attempt) => (attempt > RECONNECT_ATTEMPTS ? null : attempt * 100),
  // Disconnecting after a failed connect otherwise keeps the process up for 2 s (ioredis waits
  // that long for the dead socket to close).
  disconnectTimeout: 100,
};

/** ioredis' ways of saying Redis is not there; it exports none of them as a class to test for. */
function isRedisUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return ['MaxRetriesPerRequestError', 'ClusterAllFailedError'].includes(error.name) || ['Command timed out', 'Connection is closed.'].includes(error.message);
}

/** A reply within the deadline, or ScanError `redis_unavailable`: covers a cluster, whose commands wait in its own queue. */
async function withinDeadline<T>(work: Promise<T>, unavailable: (reason: string) => ScanError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(`did not answer within ${CLI_COMMAND_TIMEOUT_MS} ms`)), CLI_COMMAND_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

/** Runs `run` with a fail-fast connection to REDIS_URL, closed afterwards whatever happens. */
export async function withRedis<T>(run: (redis: RedisClient, config: FleetConfig) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  const redis = createRedis(config.redisUrl, CLI_REDIS_OPTIONS);
  // Kept for the message; listening also keeps ioredis from printing every failed reconnect.
  let lastConnectionError: Error | undefined;
  redis.on('error', (error: Error) => void (lastConnectionError = error));
  const unavailable = (reason: string, cause?: unknown) => {
    const last = lastConnectionError ? ` (last connection error: ${lastConnectionError.message})` : '';
    return new ScanError('redis_unavailable', `${redisAddress(redis)} ${reason}${last}`, undefined, { cause });
  };
  try {
    // Connected before any work: an unreachable Redis is one clear error, not a failure halfway through.
    await withinDeadline(redis.ping(), unavailable);
    return await run(redis, config);
  } catch (error) {
    if (!isRedisUnreachable(error)) throw error;
    throw unavailable(error instanceof Error && error.message === 'Command timed out' ? `did not answer within ${CLI_COMMAND_TIMEOUT_MS} ms` : 'could not be reached', error);
  } finally {
    // QUIT lets commands in flight finish; without a connection there is nothing to finish.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  }
}
