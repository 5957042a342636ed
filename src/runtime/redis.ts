import { Redis, type RedisOptions } from 'ioredis';

/** What callers may pass as a connection: a URL, ioredis options, or a live client to share. */
export type ConnectionInput = string | RedisOptions | Redis;

/**
 * An ioredis client for BullMQ. `maxRetriesPerRequest: null` is what BullMQ requires of the
 * connections its workers block on; commands wait for a reconnect instead of failing.
 */
export function createRedis(connection: ConnectionInput = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'): Redis {
  if (connection instanceof Redis) return connection;
  const options: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };
  return typeof connection === 'string' ? new Redis(connection, options) : new Redis({ ...connection, ...options });
}
