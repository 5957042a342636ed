import { Cluster, Redis, type ClusterNode, type ClusterOptions, type Command, type RedisOptions } from 'ioredis';
import { ScanError } from '../errors.js';
import { redisUnavailability } from './redis-errors.js';

/** A connection to a single Redis or to a Redis Cluster; the fleet's keys work on both. */
export type RedisClient = Redis | Cluster;

/**
 * A live client by its shape, as isRedisClient tells one: a client made by the application's own
 * copy of ioredis (another version) is one, though TypeScript takes it for no instance of ours
 * (ioredis' classes have private members, so only the same copy's are assignable).
 */
export interface RedisClientLike {
  readonly status: string;
  duplicate(...args: never[]): unknown;
  sendCommand(...args: never[]): unknown;
  disconnect(...args: never[]): unknown;
}

/**
 * What callers may pass as a connection: a URL, ioredis options, or a live client to share.
 * A URL naming several nodes, `redis://10.0.0.1:6379,redis://10.0.0.2:6379`, or the scheme
 * `redis-cluster://10.0.0.1:6379,10.0.0.2:6379`, connects to a Redis Cluster through those
 * startup nodes.
 */
export type ConnectionInput = string | RedisOptions | RedisClient | RedisClientLike;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

// BullMQ requires `maxRetriesPerRequest: null` of the connections its workers block on:
// commands wait for a reconnect instead of failing.
const CLIENT_OPTIONS: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };

/**
 * TCP keepalive after this much idle time (the OS default is two hours), so a connection whose
 * peer vanished (a failed-over VIP, a NAT or conntrack entry dropped) is found and reconnected.
 * A connection with a command waiting is left to the worker's liveness watchdog
 * (src/ops/redis-liveness.ts): keepalive probes only run on idle sockets.
 */
export const KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/** A (re)connect that has not reached Redis by then fails and is retried (ioredis' retryStrategy). */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * While Redis refused commands for its role (see reconnectActionFor) in the last
 * ROLE_REFUSAL_WINDOW_MS, reconnects wait at least ROLE_REFUSAL_RECONNECT_DELAY_MS: a node that
 * stays a replica for a while is asked about once a second per connection, not twenty times.
 */
export const ROLE_REFUSAL_WINDOW_MS = 10_000;
export const ROLE_REFUSAL_RECONNECT_DELAY_MS = 1000;

/**
 * Replies that mean "this node cannot take commands now" after a failover: READONLY (a demoted
 * primary, now a replica), MASTERDOWN (a replica that lost its primary), LOADING (a node still
 * loading its dataset). A connection that keeps its socket would get them forever, so ioredis
 * reconnects it (to wherever the address now leads: the new primary behind a VIP, DNS name or
 * Sentinel) and, for 2, sends the refused command again once connected.
 *
 * Resending is safe because Redis refuses these before running the command: it had no effect. A
 * Lua script (BullMQ's, our store-once verdict script) cannot have written part of its work on
 * a replica either: a replica refuses every write, so the script stops at its first one with
 * nothing written. A command queued inside MULTI is not run alone by the resend: ioredis aborts
 * the transaction's fragments when the connection closes (EXEC fails), which
 * test/integration/worker-redis-failover.test.ts checks. Any other error: no reconnect.
 */
export function reconnectActionFor(error: Error): false | 1 | 2 {
  // A script's refused write reaches the caller as the reply itself (Redis 7) or, before Redis 7,
  // quoted in "ERR Error running script ...: -READONLY ...".
  return /(?:^|-)(?:READONLY|MASTERDOWN|LOADING)\b/.test(error.message) ? 2 : false;
}

/**
 * reconnectOnError and retryStrategy of one createRedis connection and the connections ioredis
 * duplicates from it (BullMQ's worker and blocking connections copy its options, these functions
 * and their shared memory of the last refusal included).
 */
function reconnectPolicy(): Pick<RedisOptions, 'reconnectOnError' | 'retryStrategy'> {
  let refusedAt = Number.NEGATIVE_INFINITY;
  return {
    reconnectOnError(error: Error) {
      const action = reconnectActionFor(error);
      if (action) refusedAt = Date.now();
      return action;
    },
    retryStrategy(times: number) {
      const delay = Math.min(times * 50, 2000); // ioredis' default
      return Date.now() - refusedAt < ROLE_REFUSAL_WINDOW_MS ? Math.max(delay, ROLE_REFUSAL_RECONNECT_DELAY_MS) : delay;
    },
  };
}

/**
 * How a Redis Cluster made here rides out a failover of a primary (its replica takes over after
 * cluster-node-timeout). Meanwhile the command is redirected again and again: its connection to
 * the dead node closes, the other nodes answer MOVED to the dead node, then CLUSTERDOWN, then
 * MOVED to the new primary. ioredis' defaults (16 redirections, MOVED followed at once) give up
 * after about a second with "Too many Cluster redirections". Here a MOVED is followed after
 * 100 ms, as ioredis already waits on CLUSTERDOWN, TRYAGAIN and a closed connection, and a
 * command gets 50 of them: some 5 s of a failover, the default commandTimeoutMs of the producer
 * client and the consumer, whose own deadlines still end the wait. A resharding or a manual
 * failover, whose new primary answers at once, costs one pause.
 */
export const CLUSTER_OPTIONS = { retryDelayOnMoved: 100, maxRedirections: 50 } as const satisfies Omit<ClusterOptions, 'redisOptions'>;

/** Defaults a caller's own RedisOptions may replace (unlike CLIENT_OPTIONS, which BullMQ needs). */
function connectionDefaults(): RedisOptions {
  return { keepAlive: KEEPALIVE_INITIAL_DELAY_MS, connectTimeout: CONNECT_TIMEOUT_MS, ...reconnectPolicy() };
}

/**
 * For connections whose caller would rather fail than wait (producers, operators' commands): a
 * command fails once a reconnect has failed, instead of being held until Redis is back. Pass as
 * `overrides` to createRedis; never for BullMQ workers.
 */
export const FAIL_FAST_OPTIONS: RedisOptions = { maxRetriesPerRequest: 1 };

/**
 * Whether a connection input is a live client. By shape, as BullMQ tells them: a client made by
 * another copy of ioredis (the application's own version) is no instance of our classes, and
 * taken for options it would silently connect to 127.0.0.1:6379 instead.
 */
export function isRedisClient(value: unknown): value is RedisClient {
  if (value instanceof Redis || value instanceof Cluster) return true;
  const client = value as Record<string, unknown> | null | undefined;
  return ['duplicate', 'sendCommand', 'disconnect'].every((name) => typeof client?.[name] === 'function') && typeof client?.status === 'string';
}

/** Whether a client is a Redis Cluster, whichever copy of ioredis made it. */
export function isRedisCluster(value: unknown): value is Cluster {
  return value instanceof Cluster || (isRedisClient(value) && value.isCluster === true);
}

/**
 * Unlinks every key whose name starts with `prefix`, found by SCAN from the client in batches (on
 * every primary of a Cluster), so Redis keeps serving between them: for keys named at run time
 * (staged imports, flood counters), which no script can name. It walks the whole keyspace, and a
 * key written under the prefix meanwhile may be missed.
 */
export async function unlinkKeysByPrefix(redis: RedisClient, prefix: string): Promise<void> {
  if (isRedisCluster(redis)) {
    for (const node of redis.nodes('master')) await unlinkKeysByPrefix(node, prefix);
    return;
  }
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Calls `onReady` whenever a subscriber connection is (back) in subscriber mode after connecting,
 * so its owner can look for what was announced while it was away. A Redis says so with 'ready'.
 * A Cluster subscribes through one connection of its own, which ioredis replaces (maybe on another
 * node) when it drops and resubscribes, with no event on the Cluster: the replacement is followed
 * here from the 'end' of the one before (ioredis picks it in its own 'end' listener, registered
 * first) and from the Cluster's 'ready' and '+node' (a Cluster reconnected, a first node found).
 */
/**
 * A connection of its own for SUBSCRIBE, from `connection`. A plain Redis one does not subscribe
 * again by itself after a reconnect: ioredis' own resubscription leaves its SUBSCRIBE's rejection
 * unhandled when the connection drops again before the reply, and an unhandled rejection ends the
 * process (a Redis that goes away twice in quick succession, or a replica closed during a
 * reconnect). Its owner subscribes again on 'ready' (onSubscriberReady), catching the failure. A
 * Cluster's subscriber resubscribes by itself, with its failures caught.
 */
export function subscriberConnection(connection: RedisClient): RedisClient {
  return isRedisCluster(connection) ? connection.duplicate() : (connection as Redis).duplicate({ autoResubscribe: false });
}

/**
 * Subscribes a subscriberConnection to `channel` again after a reconnect, its failure caught
 * (the connection dropped again: the next 'ready' tries anew). A Cluster's subscriber resubscribes
 * by itself: nothing to do.
 */
export function resubscribe(subscriber: RedisClient, channel: string): Promise<void> {
  if (isRedisCluster(subscriber)) return Promise.resolve();
  return subscriber.subscribe(channel).then(
    () => undefined,
    () => undefined,
  );
}

export function onSubscriberReady(subscriber: RedisClient, onReady: () => void): void {
  subscriber.on('ready', onReady);
  if (!isRedisCluster(subscriber)) return;
  // Private to ioredis (ClusterSubscriber); without it only the Cluster's own 'ready' is seen.
  const inner = (subscriber as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber;
  if (typeof inner?.getInstance !== 'function') return;
  let followed: Redis | null = null;
  const follow = () => {
    const current = inner.getInstance!();
    if (!current || current === followed) return;
    followed = current;
    current.once('ready', onReady);
    current.once('end', follow);
  };
  subscriber.on('ready', follow);
  subscriber.on('+node', follow);
  follow();
}

/** The Redis a connection talks to, for `redis_unavailable` messages: host:port or socket path, or a cluster's known nodes. */
export function redisAddress(redis: RedisClient): string {
  if (isRedisCluster(redis)) return `Redis Cluster ${redis.nodes().map((node) => `${node.options.host}:${node.options.port}`).join(',')}`.trim();
  return `Redis at ${redis.options.path ?? `${redis.options.host}:${redis.options.port}`}`;
}

/**
 * Builds `redis_unavailable` errors for a connection: they name the Redis and the last connection
 * error, which it keeps by listening (listening also keeps ioredis from printing every failed
 * reconnect). `listen` adds emitters whose errors count too (BullMQ queues on the connection).
 */
export function unavailabilityOf(redis: RedisClient, options: { listen?: boolean } = {}) {
  let lastConnectionError: Error | undefined;
  const remember = (error: Error) => void (lastConnectionError = error);
  if (options.listen ?? true) redis.on('error', remember);
  return {
    remember,
    error,
    /**
     * The `redis_unavailable` error for a command's failure that is Redis being unavailable (see
     * redisUnavailability; one already typed is returned as is), else undefined.
     */
    from(failure: unknown): ScanError | undefined {
      if (failure instanceof ScanError && failure.code === 'redis_unavailable') return failure;
      const kind = redisUnavailability(failure);
      if (!kind) return undefined;
      const { name, message } = failure as Error;
      if (kind === 'refused') return error(`refused the command: ${message}`, failure);
      // MaxRetriesPerRequestError's own message adds nothing to the last connection error.
      return error(name === 'MaxRetriesPerRequestError' ? 'could not be reached' : `could not be reached: ${message}`, failure);
    },
  };
  function error(reason: string, cause?: unknown): ScanError {
    const last = lastConnectionError ? ` (last connection error: ${lastConnectionError.message})` : '';
    return new ScanError('redis_unavailable', `${redisAddress(redis)} ${reason}${last}`, undefined, { cause });
  }
}

const CLUSTER_SCHEME = /^redis-cluster:\/\//i;
/** One node of a cluster URL, its userinfo removed: a redis(s) URL of a host and port only, or host:port. */
const CLUSTER_NODE = /^(?:rediss?:\/\/(?:[^@/]*@)?)?(?:\[[0-9a-f:.]+\]|[\w.-]+)(?::\d+)?\/?$/i;

/**
 * A URL's userinfo (a password may hold ',') and the URL without it: "a comma-separated list of
 * nodes" is only told apart from a single node once the userinfo is set aside.
 */
function splitUserinfo(url: string): { userinfo: string | undefined; rest: string } {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i.exec(url);
  return match ? { userinfo: match[2], rest: match[1] + url.slice(match[0].length) } : { userinfo: undefined, rest: url };
}

/** The nodes a URL lists (scheme `redis-cluster://` removed), or undefined when one is no node. */
function listedNodes(url: string): string[] | undefined {
  const parts = splitUserinfo(url).rest.replace(CLUSTER_SCHEME, '').split(',').map((part) => part.trim()).filter(Boolean);
  return parts.length && parts.every((part) => CLUSTER_NODE.test(part)) ? parts : undefined;
}

/**
 * Whether a URL names a cluster: the redis-cluster scheme, or several comma-separated nodes
 * (host:port or redis:// URLs). A comma elsewhere (a password's, a query's) leaves it one node.
 */
export function isClusterUrl(url: string): boolean {
  if (CLUSTER_SCHEME.test(url)) return true;
  return splitUserinfo(url).rest.includes(',') && listedNodes(url) !== undefined;
}

/**
 * Startup nodes of a cluster URL; credentials and TLS come from the first node's URL. Its errors
 * never quote the URL: it may hold a password.
 */
export function clusterNodes(url: string): { nodes: ClusterNode[]; options: RedisOptions } {
  const parts = listedNodes(url);
  if (!parts) throw new Error('the Redis Cluster URL names a node that is neither host:port nor a redis:// URL of one (URL not shown: it may hold a password)');
  const { userinfo } = splitUserinfo(url);
  let credentials: URL | undefined;
  try {
    credentials = userinfo === undefined ? undefined : new URL(`redis://${userinfo}@localhost`);
  } catch {
    throw new Error('the Redis Cluster URL has userinfo that is not user:password (URL not shown: it may hold a password)');
  }
  const options: RedisOptions = {
    ...(credentials?.username && { username: decodeURIComponent(credentials.username) }),
    ...(credentials?.password && { password: decodeURIComponent(credentials.password) }),
    ...(/^rediss:/i.test(url) && { tls: {} }),
  };
  const nodes = parts.map((part) => {
    const node = new URL(/^[a-z]+:\/\//i.test(part) ? part.replace(/\/\/[^@/]*@/, '//') : `redis://${part}`);
    return { host: node.hostname.replace(/^\[|\]$/g, ''), port: Number(node.port || 6379) };
  });
  return { nodes, options };
}

/**
 * Why a Redis URL cannot be connected to as meant, or undefined; its messages never quote the URL
 * (it may hold a password). ioredis takes a scheme other than redis(s), and the path of a URL
 * without one, for a socket path (`tcp://h:6379` was retried forever on ENOENT), and a database
 * that is no whole number for SELECT NaN (a crash) or its leading digits (`?db=1x`: 1).
 */
export function redisUrlProblem(url: string): string | undefined {
  if (isClusterUrl(url)) {
    try {
      clusterNodes(url);
      return undefined;
    } catch (error) {
      // clusterNodes says what is wrong without quoting the URL; what else it throws (a node URL's
      // parse error) is summed up rather than passed on unchecked.
      return error instanceof Error && /Redis Cluster URL/.test(error.message) ? error.message : 'not a Redis Cluster URL';
    }
  }
  const single = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(single)?.[1]?.toLowerCase();
  if ((scheme !== undefined && scheme !== 'redis' && scheme !== 'rediss') || single.startsWith('//')) {
    return `${scheme === undefined ? 'a URL without a scheme' : `${scheme}://`} is not a Redis URL: use redis://, rediss:// (TLS), redis-cluster://, host:port or a socket path`;
  }
  let query: URLSearchParams;
  if (single.startsWith('/')) {
    // A socket path, read as ioredis reads it: up to a `?`, then options.
    const at = single.indexOf('?');
    query = new URLSearchParams(at < 0 ? '' : single.slice(at + 1));
  } else {
    const text = scheme === undefined ? `redis://${single}` : single;
    if (!URL.canParse(text)) return 'not a Redis URL';
    const parsed = new URL(text);
    // ioredis reads the path of a redis(s) URL as the database number (`/db1` was SELECT NaN),
    // and that of host:port as a socket path.
    if (scheme === undefined && !/^\/?$/.test(parsed.pathname)) return 'a database number needs the redis:// scheme (redis://host:6379/2); host:port takes no path';
    if (!/^(?:\/\d*)?$/.test(parsed.pathname)) return 'the path of a Redis URL is the database number (redis://host:6379/0)';
    query = parsed.searchParams;
  }
  if (query.getAll('db').some((db) => !/^\d+$/.test(db))) return 'the db parameter of a Redis URL must be a whole number (?db=2)';
  return undefined;
}

/**
 * A single Redis whose database (the URL's, or the `db` option) Redis refused: ioredis only emits
 * the failed SELECT as an error and carries on in database 0, where the fleet's keys would land.
 * Then every command fails with `redis_unavailable` naming the database, and the connection ends
 * (a reconnect would be refused alike). Its duplicates (BullMQ's connections) are checked too.
 */
class DatabaseCheckedRedis extends Redis {
  private databaseRefusal: ScanError | undefined;

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    if (this.databaseRefusal) {
      command.reject(this.databaseRefusal);
      return command.promise;
    }
    if (this.status !== 'ready') {
      // Commands waiting for the connection fail with the refusal, not "Connection is closed.".
      const reject = command.reject;
      command.reject = (error) => reject(this.databaseRefusal ?? error);
    }
    // While connecting, a SELECT is ioredis' own, of the configured database.
    const connecting = command.name === 'select' && this.status === 'connect';
    const sent = super.sendCommand(command, stream);
    if (!connecting) return sent;
    // The first reaction to the reply, so the refusal is known before the ready check's reply
    // releases the commands waiting for the connection; ioredis emits this error as 'error'.
    return command.promise.catch((error: unknown) => {
      throw this.refuseDatabase(command.args[0], error);
    });
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new DatabaseCheckedRedis({ ...this.options, ...override });
  }

  private refuseDatabase(database: unknown, error: unknown): unknown {
    // Only a refusal by Redis: a SELECT lost with its connection is sent again on the next one.
    if (!(error instanceof Error) || error.name !== 'ReplyError') return error;
    this.databaseRefusal = new ScanError('redis_unavailable', `${redisAddress(this)}: database ${String(database)} not available (${error.message}); fix the database number of the Redis URL (REDIS_URL)`);
    this.disconnect();
    return this.databaseRefusal;
  }
}

/**
 * A client for BullMQ and the fleet's own keys; a live client passed in is returned as is.
 * `overrides` replace the defaults above on a connection created here (the producer client's
 * connections fail fast instead of waiting for Redis forever). A URL redisUrlProblem refuses
 * throws a TypeError (URL not shown).
 */
export function createRedis(connection: ConnectionInput = process.env.REDIS_URL ?? DEFAULT_REDIS_URL, overrides: RedisOptions = {}): RedisClient {
  if (isRedisClient(connection)) return connection;
  const clientOptions = { ...CLIENT_OPTIONS, ...overrides };
  if (typeof connection !== 'string') return new DatabaseCheckedRedis({ ...connectionDefaults(), ...connection, ...clientOptions });
  const problem = redisUrlProblem(connection);
  if (problem) throw new TypeError(`Redis URL: ${problem} (URL not shown: it may hold a password)`);
  // Read as validated: ioredis throws Invalid URL on a leading blank.
  const url = connection.trim();
  if (isClusterUrl(url)) {
    const { nodes, options } = clusterNodes(url);
    return new Cluster(nodes, { ...CLUSTER_OPTIONS, redisOptions: { ...connectionDefaults(), ...options, ...clientOptions } });
  }
  return new DatabaseCheckedRedis(url, { ...connectionDefaults(), ...clientOptions });
}
