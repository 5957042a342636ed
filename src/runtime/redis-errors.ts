/**
 * How an error from a Redis command reads: Redis out of reach or refusing for now (transient), or
 * a bad command. Pure logic on ioredis' errors, by name and message, so that modules of pure logic
 * (the flood guard's callers) can classify errors without loading a Redis client.
 */

/**
 * Error replies of a Redis that cannot serve now but will: out of memory (OOM), loading, a
 * read-only replica, a replica without its primary, a busy script, too few replicas, a cluster
 * down or reconfiguring (CLUSTERDOWN, TRYAGAIN; MOVED or ASK that ioredis could not follow: the
 * slot's primary died and its replica has not taken over yet).
 */
export const REFUSING_REPLY = /^(?:OOM|LOADING|READONLY|MASTERDOWN|BUSY|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/;

/** How ioredis quotes the last reply when a Cluster gives up on a command after maxRedirections. */
const WRAPPED_REPLY = 'Last error: ReplyError: ';

/**
 * How an error from Redis is unavailability, if it is: `refused` (Redis answered with a
 * REFUSING_REPLY) or `unreachable` (anything else: no answer at all).
 */
export function redisUnavailability(error: unknown): 'unreachable' | 'refused' | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'ReplyError') return REFUSING_REPLY.test(error.message) ? 'refused' : undefined;
  // ioredis exports none of these as a class to test for.
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'ClusterAllFailedError') return 'unreachable';
  // A connection that dropped or was never up (a Cluster's node, a connection whose offline queue
  // is off), and a command past the commandTimeout of a connection configured with one.
  if (error.message === 'Connection is closed.' || error.message === 'Command timed out') return 'unreachable';
  // A Cluster gave up following a command: the node serving its slot died and the cluster has not
  // failed over yet (ping-pong of "Connection is closed." and MOVED to the dead node), the
  // cluster is down (CLUSTERDOWN), or reconfiguring (TRYAGAIN).
  if (error.message.startsWith('Too many Cluster redirections')) return 'unreachable';
  const at = error.message.indexOf(WRAPPED_REPLY);
  if (at >= 0 && REFUSING_REPLY.test(error.message.slice(at + WRAPPED_REPLY.length))) return 'unreachable';
  return undefined;
}

/**
 * Whether an error from a Redis command means Redis cannot be reached or cannot serve now (a
 * transient outage, typed `redis_unavailable` for callers), rather than a bad command: on a single
 * Redis and on a Cluster, whose failover fails commands with other errors than a single Redis'.
 */
export function isRedisUnreachableError(error: unknown): boolean {
  return redisUnavailability(error) !== undefined;
}
