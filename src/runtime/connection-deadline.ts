import type { Redis } from 'ioredis';
import { withDeadline } from './deadline.js';
import { isRedisCluster, type RedisClient } from './redis.js';

/** Statuses with a socket: `connect` is a TCP connection whose ready check has not been answered. */
export const SOCKET_STATUSES = new Set(['ready', 'connect']);

/**
 * `work` (commands on `redis`), or the error `expired()` makes once `ms` have passed; and then, if
 * `mayDrop()`, the connection is dropped so that ioredis reconnects, when nothing at all came in
 * on its socket since the call. A socket whose peer went silent without closing it (a NAT or
 * conntrack entry dropped, a failover behind a VIP, a half-open partition) stays open until the
 * kernel gives up on it, some 15 minutes, and every later command would queue behind the
 * unanswered one. A socket that received anything meanwhile is alive (a slow reply) and kept.
 * Once per stall: the first command past its deadline drops the socket, and the commands sent on
 * it before do not drop the one that replaces it. Connections to a Redis Cluster are not dropped
 * (no single socket to look at): only the deadline applies.
 */
export async function withConnectionDeadline<T>(redis: RedisClient, work: Promise<T>, ms: number, expired: () => Error, mayDrop: () => boolean): Promise<T> {
  const single = isRedisCluster(redis) ? undefined : redis;
  const socket = single?.stream;
  const readBefore = socket?.bytesRead;
  let missed = false;
  try {
    return await withDeadline(work, ms, () => {
      missed = true;
      return expired();
    });
  } catch (error) {
    if (missed && single && socket) {
      // Timers run before the event loop reads its sockets: after the loop was blocked past the
      // deadline, the reply may be waiting unread. Look once the loop has polled; and before the
      // caller hears of it, so that what it sends next goes to the new connection.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const silent = single.stream === socket && !socket.destroyed && socket.bytesRead === readBefore;
      if (silent && SOCKET_STATUSES.has(single.status) && mayDrop()) dropConnection(single, socket, expired());
    }
    throw error;
  }
}

/**
 * What ioredis does after a fatal error (fail the commands waiting on the connection, then
 * reconnect), with `destroy()` rather than `disconnect(true)`, whose graceful close waits for a
 * peer that may never answer. Without the failing, ioredis would send those commands again once
 * reconnected, and a blocking read the owner gave up on would hold up the commands behind it.
 */
export function dropConnection(redis: Redis, socket: { destroy(): void }, error: Error): void {
  // Private to ioredis; without it the commands are sent again, which the owners cope with.
  const flushQueue = (redis as unknown as { flushQueue?: (error: Error) => void }).flushQueue;
  if (typeof flushQueue === 'function') flushQueue.call(redis, error);
  socket.destroy();
}
