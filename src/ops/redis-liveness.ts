import { SOCKET_STATUSES } from '../runtime/connection-deadline.js';
import { withDeadline } from '../runtime/deadline.js';
import type { Logger } from '../runtime/logger.js';

/** Default of how long Redis may leave the worker's probes unanswered before /healthz fails. */
export const DEFAULT_REDIS_HEALTH_TIMEOUT_MS = 20_000;

/** What the watchdog needs of an ioredis client (BullMQ's proxies over ioredis included). */
export interface ProbedClient {
  status: string;
  ping(): Promise<unknown>;
  role?(): Promise<unknown>;
  exists?(key: string): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  /** ioredis' connect (a Cluster with no node connection left is reconnected with it). */
  connect?(): Promise<unknown>;
  /** ioredis' socket while it has one. */
  stream?: { destroy(): void } | undefined;
  /** A Cluster client's connections to its nodes. */
  nodes?(): ProbedClient[];
}

/**
 * A connection the watchdog probes, and connections reset along with it when it does not answer:
 * BullMQ's blocking connection cannot be probed (a PING waits behind its BZPOPMIN) and shares the
 * network path of the worker connection it belongs to.
 */
export interface LivenessTarget {
  /** Fixed for the connection: what its state is kept under from round to round. */
  name: string;
  /** `Redis at host:port`, for messages (a Cluster's changes as its client reconnects). */
  address: string;
  client: ProbedClient;
  companions?: ProbedClient[];
  /** Probe with PING only. */
  pingOnly?: boolean;
  /**
   * A Cluster client: probe with EXISTS of this key, which ioredis sends to the node serving the
   * key's slot. Give a key under the fleet's hash tag: that node holds every key the worker uses,
   * while ROLE or PING would ask an arbitrary node, healthy while the one that matters is not.
   */
  probeKey?: string;
}

export interface RedisLivenessOptions {
  /** The connections to probe; read every round (BullMQ makes its connections as it starts). */
  targets: () => Promise<LivenessTarget[]> | LivenessTarget[];
  /** /healthz fails once a connection has not answered for this long. */
  unhealthyAfterMs: number;
  logger: Pick<Logger, 'warn' | 'info'>;
  /** Probe period and deadline; default a quarter of unhealthyAfterMs, between 250 ms and 5 s. */
  intervalMs?: number;
  now?: () => number;
}

export type LivenessHealth = { healthy: true } | { healthy: false; reason: string };

interface TargetState {
  /** The target's address as of its last round, for messages. */
  address: string;
  /** When the connection last answered as a primary (or the watchdog started). */
  answeredAt: number;
  /** The probe sent and not answered yet: no second one is queued behind it. */
  inFlight: boolean;
  sentAt: number;
  /** Why the last answer did not count: a replica. */
  refusal?: string;
  /** ROLE or EXISTS failed with a reply (ACL, a Redis-compatible server without it): PING instead. */
  pingOnly: boolean;
}

/** How a probe past its deadline settles; shared, so a missed deadline captures no stack. */
const PROBE_DEADLINE = new Error('liveness probe deadline');

/**
 * The worker's Redis liveness watchdog. ioredis holds a command as long as its socket is open
 * (workers need `maxRetriesPerRequest: null`), and a socket whose peer stopped answering without
 * closing it (a NAT or conntrack entry dropped, a failover behind a VIP, a half-open partition)
 * stays open for the OS' TCP timeouts: the worker would wait forever, silently. So every
 * interval it asks each connection's server for its ROLE (PING where ROLE is refused; on a
 * Cluster, whether the probe key exists, from the node serving the fleet's slot) with the
 * interval as deadline:
 *
 * - no answer in time on a connection with a socket: its socket is destroyed (and those of its
 *   companions), which makes ioredis reconnect and send its unanswered commands again (what it
 *   does after any connection loss; BullMQ's scripts are written for it: a job whose fetch
 *   was answered but lost keeps its lock until it expires, then the stalled checker hands it out);
 *   a connection still connecting or waiting to reconnect is left to ioredis;
 * - `health()` is unhealthy, with a reason, while a connection has not answered for
 *   `unhealthyAfterMs`, or has answered only as a replica (a demoted primary refuses the worker's
 *   writes) for that long; healthy again at the first answer from a primary.
 */
export class RedisLiveness {
  /** By target name: an address can change while the connection stays the same (a Cluster's node list). */
  private readonly states = new Map<string, TargetState>();
  /** Names probed before: one that comes back counts its silence from then, not from the start. */
  private readonly seen = new Set<string>();
  /** Companions seen in `connect` (handshake unanswered), since when: see watchHandshake. */
  private readonly handshakes = new WeakMap<ProbedClient, number>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private readonly intervalMs: number;
  private readonly now: () => number;
  private startedAt = 0;

  constructor(private readonly options: RedisLivenessOptions) {
    this.intervalMs = options.intervalMs ?? Math.min(5000, Math.max(250, Math.round(options.unhealthyAfterMs / 4)));
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = this.now();
    this.timer = setInterval(() => {
      this.round = this.probeAll().catch((error: unknown) => this.options.logger.warn({ err: error }, 'Redis liveness probe failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  health(): LivenessHealth {
    const now = this.now();
    for (const [name, state] of this.states) {
      const silentMs = now - state.answeredAt;
      if (silentMs < this.options.unhealthyAfterMs) continue;
      const why = state.refusal ?? 'has not answered';
      return { healthy: false, reason: `${name} (${state.address}): ${why} for ${Math.round(silentMs / 1000)} s` };
    }
    return { healthy: true };
  }

  /** One round: probes every target; resolves once each has answered or missed its deadline. */
  async probeAll(): Promise<void> {
    const targets = await this.options.targets();
    // A connection no longer watched would otherwise keep its last silence in health() for good.
    const names = new Set(targets.map((target) => target.name));
    for (const name of this.states.keys()) if (!names.has(name)) this.states.delete(name);
    await Promise.all(targets.map((target) => this.probe(target)));
    for (const target of targets) for (const companion of target.companions ?? []) this.watchHandshake(target, companion);
  }

  /**
   * A companion (a blocking connection) is never probed: it is busy with its blocking read. One
   * that reconnected while Redis was silent can sit in `connect` for good, its ready check never
   * answered (ioredis bounds the TCP connect, not the check), while its target answers again and
   * is not reset any more: the worker looked healthy and took no job. Past a deadline in
   * `connect`, it is reset on its own.
   */
  private watchHandshake(target: LivenessTarget, companion: ProbedClient): void {
    if (isEmptyReadyCluster(companion)) {
      // Never a passing state (see reviveEmptyCluster): at once, before BullMQ's own watchdog
      // disconnects it, which then waits for good for a close that an empty pool never makes.
      this.options.logger.warn(
        { connection: target.name, address: target.address },
        "a blocking Cluster connection is ready with no node connection (its commands wait for good): reconnecting it",
      );
      reviveEmptyCluster(companion);
      return;
    }
    if (companion.status !== 'connect') {
      this.handshakes.delete(companion);
      return;
    }
    const since = this.handshakes.get(companion);
    if (since === undefined) {
      this.handshakes.set(companion, this.now());
      return;
    }
    if (this.now() - since < this.intervalMs) return;
    this.handshakes.delete(companion);
    this.options.logger.warn(
      { connection: target.name, address: target.address, deadlineMs: this.intervalMs },
      "Redis did not answer a blocking connection's handshake in time: reconnecting it",
    );
    resetSocket(companion);
  }

  private async probe(target: LivenessTarget): Promise<void> {
    const key = target.name;
    let state = this.states.get(key);
    if (!state) {
      const canAsk = target.probeKey === undefined ? typeof target.client.role === 'function' : typeof target.client.exists === 'function';
      const answeredAt = this.seen.has(key) ? this.now() : this.startedAt || this.now();
      state = { address: target.address, answeredAt, inFlight: false, sentAt: 0, pingOnly: target.pingOnly === true || !canAsk };
      this.states.set(key, state);
      this.seen.add(key);
    }
    state.address = target.address;
    if (state.inFlight) {
      // The last probe is still unanswered: past its deadline, reset the socket (once per deadline).
      if (this.now() - state.sentAt >= this.intervalMs) await this.resetUnlessAnswered(target, key, state);
      return;
    }
    state.inFlight = true;
    state.sentAt = this.now();
    const answer = this.ask(target, state).then(
      (role) => {
        state.inFlight = false;
        if (role === 'master' || role === undefined) {
          if (state.refusal !== undefined || this.now() - state.answeredAt >= this.options.unhealthyAfterMs) {
            this.options.logger.info({ connection: key, address: target.address }, 'Redis answers the worker again');
          }
          state.answeredAt = this.now();
          state.refusal = undefined;
        } else {
          state.refusal = `answers as a ${role}, not as the primary`;
        }
      },
      () => {
        // A failed reply still proves the socket is alive; it is not an answer from a primary.
        state.inFlight = false;
      },
    );
    // The probe's deadline; past it (or once answered) the state tells which.
    await withDeadline(answer, this.intervalMs, () => PROBE_DEADLINE).catch(() => undefined);
    if (state.inFlight) await this.resetUnlessAnswered(target, key, state);
  }

  /**
   * Resets a connection whose probe is past its deadline, unless the answer is already waiting in
   * its socket. Timers run before the loop polls its sockets: after the event loop was blocked
   * (a long synchronous job, a GC pause) for longer than the deadline, the deadline fires before
   * the reply that arrived meanwhile is read. So first let the loop poll once (setImmediate runs
   * right after the poll phase), then look again. A deadline and the next round's check can both
   * come due after one stall: only the first of them resets (once per deadline).
   */
  private async resetUnlessAnswered(target: LivenessTarget, key: string, state: TargetState): Promise<void> {
    const sentAt = state.sentAt;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (state.inFlight && state.sentAt === sentAt) this.reset(target, key, state);
  }

  /**
   * ROLE's first element (`master`, `slave`, `sentinel`), or undefined when the answer says no
   * role: PING's, or EXISTS' from the node serving the probe key's slot (ioredis sends keyed
   * commands to primaries).
   */
  private async ask(target: LivenessTarget, state: TargetState): Promise<string | undefined> {
    const { client, probeKey } = target;
    if (state.pingOnly) {
      await client.ping();
      return undefined;
    }
    try {
      if (probeKey !== undefined) {
        await client.exists!(probeKey);
        return undefined;
      }
      const reply = (await client.role!()) as unknown[];
      return String(reply[0]);
    } catch (error) {
      // The server refused the command itself (ACL, unknown command): it answered; PING from now
      // on. Other refusals (CLUSTERDOWN, LOADING) are no answer: the worker's commands fail too.
      if (error instanceof Error && error.name === 'ReplyError' && (probeKey === undefined || /^(NOPERM|ERR unknown command)/.test(error.message))) {
        state.pingOnly = true;
        return undefined;
      }
      throw error;
    }
  }

  private reset(target: LivenessTarget, key: string, state: TargetState): void {
    if (!SOCKET_STATUSES.has(target.client.status)) return; // ioredis is reconnecting it already
    state.sentAt = this.now(); // the next reset waits for another deadline
    this.options.logger.warn(
      { connection: key, address: target.address, deadlineMs: this.intervalMs, status: target.client.status },
      'Redis did not answer the liveness probe in time: reconnecting the connection',
    );
    for (const client of [target.client, ...(target.companions ?? [])]) resetSocket(client);
  }
}

/**
 * Drops a connection's socket so that ioredis reconnects at once: `destroy()` rather than
 * `disconnect(true)`, whose graceful close waits for a peer that may never answer.
 */
function resetSocket(client: ProbedClient): void {
  if (!SOCKET_STATUSES.has(client.status)) return;
  if (client.nodes) return resetCluster(client, client.nodes());
  if (client.stream) client.stream.destroy();
  else client.disconnect(true);
}

/**
 * A Cluster client has a socket per node and none of its own: disconnect(true) closes them all and
 * reconnects once the last one has closed. Only a ready one is reset. In `connect` it is running
 * its own connect (slots read, its ready check under way), which a disconnect does not stop: the
 * check answered later made it ready again with no node connection, and the disconnect after that
 * waited for a node to close for good (seen with ioredis 5.11 while a node was frozen), leaving
 * every command queued. A ready one with no node connection is reconnected (reviveEmptyCluster).
 */
function resetCluster(client: ProbedClient, nodes: readonly ProbedClient[]): void {
  if (client.status !== 'ready') return;
  if (nodes.length > 0) client.disconnect(true);
  else reviveEmptyCluster(client);
}

/** A Cluster client `ready` with no node connection: see reviveEmptyCluster. */
function isEmptyReadyCluster(client: ProbedClient): boolean {
  return client.status === 'ready' && client.nodes !== undefined && client.nodes().length === 0;
}

/**
 * ioredis 5.11 can leave a Cluster client `ready` with no node connection: a ready check sent by
 * an earlier connect, to a node that was frozen, is answered as it thaws, after a failed check of
 * a later connect emptied the pool and scheduled a reconnect; the client turns ready, and the
 * scheduled connect() then refuses to run ("already connected"). It is never a passing state (a
 * pool that empties turns the client `close` at once): every command waits in its offline queue
 * for good, and a disconnect() waits for good too (only the last node closing ends it), as
 * BullMQ's blocking-command watchdog does: the worker took no job again while /healthz said
 * healthy. So it is taken out of `ready` (disconnect(true): a pool with nothing to close changes
 * nothing else) and connected again, as BullMQ reconnects a blocking Cluster client whose pool is
 * empty; its queued commands go out once it is ready. Not disconnect(false): a connect failing
 * after it would end the client for good instead of retrying.
 */
function reviveEmptyCluster(client: ProbedClient): void {
  if (!isEmptyReadyCluster(client) || !client.connect) return;
  client.disconnect(true);
  client.connect().catch(() => undefined); // "already connecting" at worst; a failed one is retried by ioredis
}
