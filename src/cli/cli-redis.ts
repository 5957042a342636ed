/**
 * The Redis connection of an operator's command (status, verdict, blocklist, hashset). Like the
 * producer client's (src/client/scan-client.ts), it fails fast instead of holding commands until
 * Redis is back as workers do: a command fails once a reconnect has failed, each Redis command
 * has a deadline, and both end as ScanError `redis_unavailable` naming the Redis and the last
 * connection error. Reconnects are finite too, so the process can exit.
 */
import type { RedisOptions } from 'ioredis';
import type { FleetConfig } from '../config/config.js';
import { withDeadline } from '../runtime/deadline.js';
import { createRedis, FAIL_FAST_OPTIONS, unavailabilityOf, type RedisClient } from '../runtime/redis.js';
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

/** Runs `run` with a fail-fast connection to REDIS_URL, closed afterwards whatever happens. */
export async function withRedis<T>(run: (redis: RedisClient, config: FleetConfig) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  const redis = createRedis(config.redisUrl, CLI_REDIS_OPTIONS);
  const unavailability = unavailabilityOf(redis);
  const notAnswered = (cause?: unknown) => unavailability.error(`did not answer within ${CLI_COMMAND_TIMEOUT_MS} ms`, cause);
  try {
    // Connected before any work: an unreachable Redis is one clear error, not a failure halfway
    // through. The deadline also covers a cluster, whose commands wait in its own queue.
    await withDeadline(redis.ping(), CLI_COMMAND_TIMEOUT_MS, () => notAnswered());
    return await run(redis, config);
  } catch (error) {
    // Redis away (on a Cluster also the node serving the fleet's slot, mid-failover) or refusing
    // to serve now: redis_unavailable, as the producer client and the consumer report it.
    if (error instanceof Error && error.message === 'Command timed out') throw notAnswered(error);
    throw unavailability.from(error) ?? error;
  } finally {
    // QUIT lets commands in flight finish; without a connection there is nothing to finish.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  }
}
