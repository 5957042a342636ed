import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ScanError } from '../errors.js';
import { consumedVerdictSchema, type ConsumedVerdict } from '../jobs/verdict-schema.js';
import { DEFAULT_PREFIX } from '../queues/names.js';
import { withConnectionDeadline } from '../runtime/connection-deadline.js';
import { MAX_TIMEOUT_MS, withDeadline } from '../runtime/deadline.js';
import { integerOption } from '../runtime/integer-option.js';
import { runScript } from '../runtime/redis-script.js';
import { createRedis, FAIL_FAST_OPTIONS, isRedisClient, isRedisCluster, unavailabilityOf, type ConnectionInput, type RedisClient } from '../runtime/redis.js';
import { verdictKeys } from './verdict-keys.js';

export interface VerdictDelivery {
  /** The stream entry id; increases with storage order. */
  entryId: string;
  /** True when delivered before without acknowledgement (a restart, or a consumer that died). */
  redelivered: boolean;
}

export interface VerdictConsumerOptions {
  /**
   * Redis URL, ioredis options or a client (duplicated: the consumer blocks on its own). Default
   * REDIS_URL. The consumer's connection fails a command once a reconnect has failed, instead of
   * holding it until Redis is back; the consumer tries again every second.
   */
  connection?: ConnectionInput | undefined;
  /** The workers' prefix. Default `{abuse-scan}`. */
  prefix?: string | undefined;
  /** Consumer group: every group sees every verdict; consumers within a group share them. */
  group: string;
  /** This consumer's name within the group. Default `<hostname>-<pid>`. */
  consumer?: string | undefined;
  /**
   * Where a group that does not exist yet starts: the oldest kept verdict, or new ones only.
   * Default `beginning`. Only when the consumer starts: a group lost later (Redis restarted without
   * its data, the stream deleted) is created again from the oldest kept verdict, and reported
   * (VerdictGroupLostError).
   */
  startFrom?: 'beginning' | 'now' | undefined;
  /** Entries read per call (a positive integer). Default 100. */
  batchSize?: number | undefined;
  /**
   * How long one read waits for new verdicts, in ms (a whole number from 1 to 2147483647).
   * `close()` waits at most this plus 1 s. Default 2000.
   */
  blockMs?: number | undefined;
  /** Entries left unacknowledged this long (their consumer died) are taken over. Default 60000. */
  claimIdleMs?: number | undefined;
  /**
   * Other consumers of the group with no pending entries and idle this long (closed uncleanly,
   * crashed) are deleted from it by claim passes: each process start adds a consumer under the
   * default name. Default 10 x claimIdleMs, at least 300000.
   */
  idleConsumerMs?: number | undefined;
  /**
   * Longest wait in ms for Redis in `start()` and in each command the consumer sends (a read gets
   * `blockMs` on top); a whole number from 1 to 2147483647. Past it `start()` throws ScanError
   * `redis_unavailable`, and the consumer reports the outage to `onError` and tries again; a
   * connection that received nothing meanwhile (its peer went silent) is dropped and reconnects.
   * Default 5000.
   */
  commandTimeoutMs?: number | undefined;
  /** Entries the group's dead-letter stream keeps (the oldest are trimmed), at least 1. Default 10000. */
  deadLetterMaxLength?: number | undefined;
  /**
   * Called once per verdict; the entry is acknowledged when it resolves. When it throws, the
   * entry stays pending and is delivered again after `claimIdleMs` (at-least-once). Verdicts
   * from newer workers may carry error codes and item kinds this version does not know.
   */
  handler: (verdict: ConsumedVerdict, delivery: VerdictDelivery) => Promise<void>;
  /**
   * Told of handler failures and of entries that are not verdicts (those are copied to the
   * group's dead-letter stream, then acknowledged), with the entry's id; and, with entryId `''`,
   * of other failures: a Redis that cannot be reached or does not answer is reported once per
   * outage, as ScanError `redis_unavailable` naming the Redis and the last connection error.
   * Verdicts trimmed from the stream before they were handled come as VerdictsLostError
   * (`verdicts_lost`): with entryId `''` those the group never read, else one pending entry; a
   * group found gone and created again as VerdictGroupLostError (`group_lost`, entryId `''`).
   * What it throws (or an async one rejects with) is ignored, after one process warning: the
   * consumer goes on.
   */
  onError?: ((error: unknown, entryId: string) => void) | undefined;
}

/**
 * Where a group's consumers put stream entries they cannot read as verdicts, so that nothing the
 * workers stored disappears unseen. Same hash tag as the stream (one Cluster slot).
 */
export function deadLetterStreamKey(prefix: string, group: string): string {
  return `${verdictKeys(prefix).stream}:dead-letter:${group}`;
}

/**
 * Verdicts this group will never handle: the stream (trimmed to the workers'
 * ABUSE_SCAN_VERDICT_STREAM_MAXLEN) dropped them before the group read them, or before a consumer
 * that had read them acknowledged them (it died or was stuck).
 */
export class VerdictsLostError extends Error {
  readonly code = 'verdicts_lost';

  constructor(
    /** How many verdicts. */
    readonly count: number,
    /** For verdicts the group never read: their ids are after this one (the last id the group read)... */
    readonly after?: string,
    /** ...and before this one (the oldest entry the stream keeps). */
    readonly before?: string,
  ) {
    super(
      after === undefined
        ? 'verdict trimmed from the stream before it was acknowledged: it cannot be delivered again'
        : `${count} verdicts trimmed from the stream before the group read them (ids after ${after}, before ${before})`,
    );
    this.name = 'VerdictsLostError';
  }
}

/**
 * The group was gone (Redis restarted without its data, the stream or the group deleted) and this
 * consumer created it again, from the oldest verdict the stream keeps (whatever `startFrom`):
 * verdicts the group had not handled before are lost to it unless the stream still keeps them,
 * and those it still keeps come again, handled ones included.
 */
export class VerdictGroupLostError extends Error {
  readonly code = 'group_lost';

  constructor(
    readonly group: string,
    /** The verdicts stream's key. */
    readonly stream: string,
  ) {
    super(
      `consumer group ${group} of ${stream} was gone (Redis restarted without its data, or the stream or group was deleted) and was created again from the oldest verdict the stream keeps: verdicts it had not handled before are lost unless still kept, and kept ones are delivered again`,
    );
    this.name = 'VerdictGroupLostError';
  }
}

type StreamEntry = [id: string, fields: string[] | null];

/** Lua helpers: a field of a flat field/value reply; stream id order (decimal strings: ids go past 2^53). */
const LUA_HELPERS = `
local function field(list, name)
  for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
end
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then
    if #am ~= #bm then return #am < #bm end
    return am < bm
  end
  if #as ~= #bs then return #as < #bs end
  return as < bs
end
`;

/**
 * Creates the group with its read counter set (Redis leaves it unknown at '0' on a stream that
 * has entries, and at '$'), so that entries trimmed before the group reads them can be counted.
 * Plain XGROUP CREATE on a Redis before 7 (no counters).
 * KEYS: stream. ARGV: group, '0' or '$'.
 */
const CREATE_GROUP = `${LUA_HELPERS}
local added, length = 0, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local stream = redis.call('XINFO', 'STREAM', KEYS[1])
  added, length = field(stream, 'entries-added'), field(stream, 'length')
end
if not added then return redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM') end
local read = added - length
if ARGV[2] == '$' then read = added end
return redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM', 'ENTRIESREAD', read)
`;

/**
 * Reads new entries for the group, first checking for entries trimmed before the group read them:
 * its last-delivered id is older than the stream's first entry, and fewer entries were read than
 * were added before that first entry. Those are returned ({ count, last-delivered id, first entry
 * id }) and the group's read counter is set past them: Redis 7.0-7.4 would otherwise count them
 * as unread in XINFO's lag for good (redis/redis#13957). Nothing new to read means the group has
 * read every entry: a counter that differs from the stream's (a client that read across such a
 * gap left it) is set right too. One script, so that no consumer of the group reads past a gap
 * between the check and the read.
 * KEYS: stream. ARGV: group, consumer, count. Returns { lost or nil, XREADGROUP reply }.
 */
const READ_NEW = `${LUA_HELPERS}
local lost = false
local stream = redis.pcall('XINFO', 'STREAM', KEYS[1])
local group, last, read, added
if not stream.err then
  for _, each in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    if field(each, 'name') == ARGV[1] then group = each end
  end
end
if group then
  last, read, added = field(group, 'last-delivered-id'), field(group, 'entries-read'), field(stream, 'entries-added')
  local first, length = field(stream, 'first-entry'), field(stream, 'length')
  if read and added and first and older(last, first[1]) and added - length > read then
    lost = { added - length - read, last, first[1] }
    read = added - length
    redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last, 'ENTRIESREAD', read)
  end
end
local entries = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not entries and read and added and read ~= added then
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last, 'ENTRIESREAD', added)
end
return { lost, entries }
`;

/**
 * Of the given entries, keeps those still pending for this consumer: their idle time is reset so
 * that no claim pass takes them over. Returns their ids; the others were taken over (or acknowledged).
 * KEYS: stream. ARGV: group, consumer, then the entry ids.
 */
const KEEP_OWNED = `
local owned = {}
for i = 3, #ARGV do
  if redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])[1] then owned[#owned + 1] = ARGV[i] end
end
for i = 1, #owned, 1000 do
  local claim = { 'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0 }
  for j = i, math.min(i + 999, #owned) do claim[#claim + 1] = owned[j] end
  claim[#claim + 1] = 'JUSTID'
  redis.call(unpack(claim))
end
return owned
`;

/**
 * Deletes this consumer from the group unless entries are still pending for it: DELCONSUMER would
 * drop those from the group, and nobody would take them over. KEYS: stream. ARGV: group, consumer.
 * Returns 1 when deleted (or already gone), 0 when kept.
 */
const LEAVE_GROUP = `
if redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])[1] then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * Deletes the group's consumers, other than ARGV[2], that have no pending entries and have been
 * idle for at least ARGV[3] ms; in one script with the check, so none gets entries meanwhile.
 * KEYS: stream. ARGV: group, this consumer, idle ms. Returns how many went.
 */
const PRUNE_IDLE = `${LUA_HELPERS}
-- A stream gone is the claim pass's to find (NOGROUP, the group is created again), not 'no such key'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local pruned = 0
for _, each in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name = field(each, 'name')
  if name ~= ARGV[2] and field(each, 'pending') == 0 and field(each, 'idle') >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    pruned = pruned + 1
  end
end
return pruned
`;

/** Idle time past which other empty consumers are pruned, at the least (see idleConsumerMs). */
const MIN_IDLE_CONSUMER_MS = 300_000;

/** What close() waits beyond blockMs: a read that just started returns within blockMs. */
const CLOSE_MARGIN_MS = 1000;
/** Pause after a failed round (Redis away, group deleted) before the next one. */
const RETRY_DELAY_MS = 1000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * The consumer's own connection (it blocks on reads), failing a command once a reconnect has
 * failed: a consumer waiting for Redis forever could neither report the outage nor close.
 */
function ownConnection(connection: ConnectionInput | undefined): RedisClient {
  if (isRedisCluster(connection)) return connection.duplicate([], { redisOptions: { ...connection.options.redisOptions, ...FAIL_FAST_OPTIONS } });
  // Not a Cluster (above): a single node's client, whichever copy of ioredis made it.
  if (isRedisClient(connection)) return (connection as Redis).duplicate(FAIL_FAST_OPTIONS);
  return createRedis(connection, FAIL_FAST_OPTIONS);
}

/**
 * The options TypeScript types but plain JavaScript callers may get wrong, refused before
 * connecting: an unset group (`process.env.GROUP`) would be the group `""` (or "undefined"),
 * silently sharing its verdicts with any other service so misconfigured; a misspelt `startFrom`
 * would replay every verdict kept; a missing handler would leave every verdict pending.
 */
function checkShapes(options: VerdictConsumerOptions): void {
  const { group, consumer, startFrom, handler, onError } = options as Partial<Record<keyof VerdictConsumerOptions, unknown>>;
  if (typeof group !== 'string' || group === '') throw new TypeError(`group: must be a non-empty string, got ${describeValue(group)}`);
  if (consumer !== undefined && (typeof consumer !== 'string' || consumer === '')) throw new TypeError(`consumer: must be a non-empty string when given, got ${describeValue(consumer)}`);
  if (startFrom !== undefined && startFrom !== 'beginning' && startFrom !== 'now') throw new TypeError(`startFrom: must be 'beginning' or 'now', got ${describeValue(startFrom)}`);
  if (typeof handler !== 'function') throw new TypeError(`handler: must be a function, got ${describeValue(handler)}`);
  if (onError !== undefined && typeof onError !== 'function') throw new TypeError(`onError: must be a function when given, got ${describeValue(onError)}`);
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'function' ? 'a function' : String(value);
}

/** Reads the results stream through a consumer group, with recovery of a dead consumer's entries. */
export class VerdictConsumer {
  private readonly redis: RedisClient;
  private readonly unavailability: ReturnType<typeof unavailabilityOf>;
  private readonly stream: string;
  private readonly deadLetterStream: string;
  private readonly consumer: string;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly claimIdleMs: number;
  private readonly idleConsumerMs: number;
  /** How long entries read and not handled yet are left idle before they are kept from claim passes. */
  private readonly keepMs: number;
  private readonly commandTimeoutMs: number;
  private readonly deadLetterMaxLength: number;
  private closing = false;
  private closed: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  /** Set once an outage is reported, so that it is reported once; cleared when Redis answers again. */
  private outage = false;
  /** Ends the pause between failed rounds early (close). */
  private wake: () => void = () => {};
  /** Set once an onError that threw has been warned about. */
  private warnedOnError = false;

  constructor(private readonly options: VerdictConsumerOptions) {
    checkShapes(options);
    // Checked before connecting. BLOCK 0 would wait forever, and no BLOCK not at all (a busy loop);
    // a timer past Node's longest fires after 1 ms; a dead-letter MAXLEN below 0 or not whole fails
    // every copy, and 0 keeps none.
    this.batchSize = integerOption('batchSize', options.batchSize, 100, 1, Number.MAX_SAFE_INTEGER);
    this.blockMs = integerOption('blockMs', options.blockMs, 2000, 1, MAX_TIMEOUT_MS);
    this.claimIdleMs = integerOption('claimIdleMs', options.claimIdleMs, 60_000, 0, Number.MAX_SAFE_INTEGER);
    this.keepMs = this.claimIdleMs / 4;
    const idleConsumerMs = Math.min(Math.max(10 * this.claimIdleMs, MIN_IDLE_CONSUMER_MS), Number.MAX_SAFE_INTEGER);
    this.idleConsumerMs = integerOption('idleConsumerMs', options.idleConsumerMs, idleConsumerMs, 0, Number.MAX_SAFE_INTEGER);
    this.commandTimeoutMs = integerOption('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    this.deadLetterMaxLength = integerOption('deadLetterMaxLength', options.deadLetterMaxLength, 10_000, 1, Number.MAX_SAFE_INTEGER);
    this.redis = ownConnection(options.connection);
    // Listening also keeps ioredis from printing every failed reconnect.
    this.unavailability = unavailabilityOf(this.redis);
    this.redis.on('error', (error: Error) => this.reportOutage(this.unavailability.error('could not be reached', error)));
    this.redis.on('ready', () => (this.outage = false));
    this.stream = verdictKeys(options.prefix ?? DEFAULT_PREFIX).stream;
    this.deadLetterStream = deadLetterStreamKey(options.prefix ?? DEFAULT_PREFIX, options.group);
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}`;
  }

  /**
   * Creates the group if needed and starts consuming in the background. Throws ScanError
   * `redis_unavailable` when Redis cannot be reached or does not answer within commandTimeoutMs
   * (call it again later, or close()).
   */
  async start(): Promise<void> {
    if (this.loop || this.closing) return;
    try {
      await this.command(this.ensureGroup(this.options.startFrom === 'now' ? '$' : '0'));
    } catch (error) {
      throw this.unavailable(error) ?? error;
    }
    this.outage = false;
    if (this.loop || this.closing) return;
    this.loop = this.consume();
  }

  /** Creates the group unless it exists; true when this call created it. */
  private async ensureGroup(from: '0' | '$'): Promise<boolean> {
    try {
      await runScript(this.redis, CREATE_GROUP, [this.stream], [this.options.group, from]);
      return true;
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
      return false;
    }
  }

  /**
   * Creates again a group that is gone. From the stream's first entry even for `startFrom: 'now'`:
   * a stream that lost the group lost what came before with it (Redis restarted without its data,
   * the key deleted), so what it holds now was stored since, and '$' would skip it unseen.
   */
  private async recreateGroup(): Promise<void> {
    try {
      if (await this.command(this.ensureGroup('0'))) this.report(new VerdictGroupLostError(this.options.group, this.stream), '');
    } catch (error) {
      // Tried again after the next failed round.
      this.reportFailure(error);
    }
  }

  /**
   * Stops reading, lets the verdict being handled finish, leaves the group (unless entries are still
   * pending for it) and disconnects; waits at most blockMs + 1 s (also while Redis is away).
   * Entries read but not handled yet stay pending: this consumer handles them first when it starts
   * again, another one takes them over after claimIdleMs. A handler still running at the deadline
   * is not waited for (nor acknowledged).
   */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    this.wake();
    const deadline = Date.now() + this.blockMs + CLOSE_MARGIN_MS;
    const expired = () => new Error('close deadline');
    // Within Node's longest timer even for the longest blockMs.
    const left = () => Math.min(deadline - Date.now(), MAX_TIMEOUT_MS);
    const stopped = !this.loop || (await withDeadline(this.loop, left(), expired).then(() => true, () => false));
    if (stopped && this.redis.status === 'ready') {
      // Each start under the default name adds a consumer to the group: this one goes when empty.
      // Best effort: one left behind is pruned by the others' claim passes (PRUNE_IDLE).
      if (this.loop) await withDeadline(runScript(this.redis, LEAVE_GROUP, [this.stream], [this.options.group, this.consumer]), left(), expired).catch(() => undefined);
      // The loop is done: a clean QUIT, unless Redis does not answer it before the deadline.
      await withDeadline(this.redis.quit(), left(), expired).catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
  }

  private async consume(): Promise<void> {
    let lastClaim = 0;
    // Where the claim pass in progress goes on; '0-0' when none is.
    let claimCursor = '0-0';
    let resumed = false;
    while (!this.closing) {
      try {
        if (!resumed) {
          // What this consumer had read but not acknowledged before a restart (or before a reply
          // lost to a dropped connection) comes first.
          await this.handleOwnPending();
          resumed = true;
        }
        // A claim pass every claimIdleMs / 2, following XAUTOCLAIM's cursor until it is back to 0-0.
        if (claimCursor !== '0-0' || Date.now() - lastClaim >= this.claimIdleMs / 2) {
          if (claimCursor === '0-0') {
            lastClaim = Date.now();
            await this.pruneIdleConsumers();
          }
          claimCursor = await this.claimPage(claimCursor);
        }
        if (this.closing) return;
        // One page of a claim pass per read: while the pass goes on, reads do not wait for new
        // verdicts (the pass would take a blockMs per page) but new verdicts are not starved either.
        const readAt = Date.now();
        const entries = await this.readNew(claimCursor === '0-0' ? this.blockMs : undefined);
        this.outage = false;
        await this.handleAll(entries, false, readAt);
      } catch (error) {
        // Redis restarted or is away, the stream or group was deleted, a failover: report, wait, carry on.
        if (this.closing) return;
        // A group that is gone is reported once created again (VerdictGroupLostError), not as the
        // NOGROUP of every command that finds it missing.
        const groupGone = String(error).includes('NOGROUP') || String(error).includes('no longer exists');
        if (!groupGone || this.unavailable(error)) this.reportFailure(error);
        resumed = false;
        await this.pause(RETRY_DELAY_MS);
        if (groupGone && !this.closing) await this.recreateGroup();
      }
    }
  }

  /** Pages through this consumer's pending entries, oldest first, until none is left. */
  private async handleOwnPending(): Promise<void> {
    let after = '0';
    while (!this.closing) {
      const readAt = Date.now();
      const entries = await this.read(after, undefined);
      const last = entries.at(-1);
      if (!last) return;
      await this.handleAll(entries, true, readAt);
      after = last[0];
    }
  }

  /** Deletes the group's other consumers that are empty and idle for idleConsumerMs (see PRUNE_IDLE), once per claim pass. */
  private async pruneIdleConsumers(): Promise<void> {
    await this.command(runScript(this.redis, PRUNE_IDLE, [this.stream], [this.options.group, this.consumer, this.idleConsumerMs]));
  }

  /** One page of a claim pass: takes over entries idle for claimIdleMs; returns the cursor ('0-0' once the pass is done). */
  private async claimPage(cursor: string): Promise<string> {
    const claimedAt = Date.now();
    const [next, claimed, deleted = []] = (await this.command(
      this.redis.xautoclaim(this.stream, this.options.group, this.consumer, this.claimIdleMs, cursor, 'COUNT', this.batchSize),
    )) as [string, StreamEntry[], string[]?];
    // Entries trimmed while pending: XAUTOCLAIM (Redis 7) drops them from the group.
    for (const entryId of deleted) this.report(new VerdictsLostError(1), entryId);
    await this.handleAll(claimed, true, claimedAt);
    return next;
  }

  /**
   * Reads new verdicts, reporting those trimmed before the group read them (see READ_NEW). When
   * there are none yet, waits up to blockMs for some: the group has then read every entry, and
   * what comes is added after this check.
   */
  private async readNew(blockMs: number | undefined): Promise<StreamEntry[]> {
    const [lost, reply] = (await this.command(runScript(this.redis, READ_NEW, [this.stream], [this.options.group, this.consumer, this.batchSize]))) as [
      [count: number, after: string, before: string] | null,
      Array<[string, StreamEntry[]]> | null,
    ];
    if (lost) this.report(new VerdictsLostError(...lost), '');
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length > 0 || blockMs === undefined || this.closing) return entries;
    return this.read('>', blockMs);
  }

  private async read(id: string, blockMs: number | undefined): Promise<StreamEntry[]> {
    const args = ['GROUP', this.options.group, this.consumer, 'COUNT', this.batchSize, ...(blockMs === undefined ? [] : ['BLOCK', blockMs]), 'STREAMS', this.stream, id];
    const result = (await this.command(this.redis.call('XREADGROUP', ...args), blockMs ?? 0)) as Array<[string, StreamEntry[]]> | null;
    return result?.[0]?.[1] ?? [];
  }

  /**
   * Handles entries in order until closing; the rest stay pending (see close). An acknowledgement
   * that fails ends the batch: the loop reports it, and the entry is delivered again.
   * Entries wait their turn pending and idle, and another consumer's claim pass takes over those
   * idle for claimIdleMs: every claimIdleMs / 4 the rest of the batch is kept (idle time reset),
   * and those already taken over are skipped. A handler slower than that is a stuck consumer: the
   * rest of its batch goes to the others. `deliveredAt`: when the entries were read or claimed.
   */
  private async handleAll(entries: StreamEntry[], redelivered: boolean, deliveredAt: number): Promise<void> {
    let keptAt = deliveredAt;
    let owned: Set<string> | undefined;
    for (const [index, [entryId, fields]] of entries.entries()) {
      if (this.closing) return;
      if (Date.now() - keptAt >= this.keepMs) {
        keptAt = Date.now();
        owned = new Set(await this.keepOwned(entries.slice(index).map(([id]) => id)));
      }
      if (owned && !owned.has(entryId)) continue; // another consumer has it
      if (!fields) {
        // Trimmed from the stream while pending: report it, and drop it from the group.
        this.report(new VerdictsLostError(1), entryId);
        await this.command(this.redis.xack(this.stream, this.options.group, entryId));
        continue;
      }
      let verdict: ConsumedVerdict;
      try {
        verdict = consumedVerdictSchema.parse(JSON.parse(fieldValue(fields, 'verdict') ?? 'null'));
      } catch (error) {
        await this.deadLetter(entryId, fields, error);
        continue;
      }
      try {
        await this.options.handler(verdict, { entryId, redelivered });
      } catch (error) {
        this.report(error, entryId);
        continue;
      }
      await this.command(this.redis.xack(this.stream, this.options.group, entryId));
    }
  }

  /** Resets the idle time of those of `entryIds` still pending for this consumer; returns their ids. */
  private async keepOwned(entryIds: string[]): Promise<string[]> {
    return (await this.command(runScript(this.redis, KEEP_OWNED, [this.stream], [this.options.group, this.consumer, ...entryIds]))) as string[];
  }

  /**
   * Copies an entry that is not a verdict to the group's dead-letter stream (its id, the parse
   * error, and its fields verbatim as `raw:<field>`), then acknowledges it. Only once the copy is
   * stored: if Redis refuses it, the entry stays pending and comes back like a failed handler's.
   */
  private async deadLetter(entryId: string, fields: string[], parseError: unknown): Promise<void> {
    this.report(parseError, entryId);
    try {
      const raw = fields.map((part, i) => (i % 2 === 0 ? `raw:${part}` : part));
      await this.command(this.redis.xadd(this.deadLetterStream, 'MAXLEN', '~', this.deadLetterMaxLength, '*', 'entryId', entryId, 'consumer', this.consumer, 'error', describe(parseError), ...raw));
      await this.command(this.redis.xack(this.stream, this.options.group, entryId));
    } catch (error) {
      this.report(error, entryId);
    }
  }

  /**
   * A command to Redis, given up on after commandTimeoutMs (+ extraMs) as `redis_unavailable`;
   * a connection that went silent is dropped then and reconnects, unless closing (see
   * withConnectionDeadline). What was in flight on it is failed, not sent again: a read whose
   * reply was lost left its entries pending, and the next round starts with them
   * (handleOwnPending).
   */
  private command<T>(work: Promise<T>, extraMs = 0): Promise<T> {
    const ms = Math.min(this.commandTimeoutMs + extraMs, MAX_TIMEOUT_MS);
    return withConnectionDeadline(this.redis, work, ms, () => this.unavailability.error(`did not answer within ${ms} ms`), () => !this.closing);
  }

  /** The `redis_unavailable` error for a failure that comes from not reaching Redis, else undefined. */
  private unavailable(error: unknown): ScanError | undefined {
    // A Cluster stays 'ready' while the node serving the stream's slot is down or failing over:
    // the error itself tells (isRedisUnreachableError). A connection that is not ready failed the
    // command for that, whatever the error.
    const unavailable = this.unavailability.from(error);
    if (unavailable) return unavailable;
    if (this.redis.status !== 'ready') return this.unavailability.error('could not be reached', error);
    return undefined;
  }

  /** A failed round's error: an outage (reported once), or anything else. */
  private reportFailure(error: unknown): void {
    const unavailable = this.unavailable(error);
    if (unavailable) this.reportOutage(unavailable);
    else this.report(error, '');
  }

  private reportOutage(error: ScanError): void {
    // Before start() has succeeded the outage is start()'s to report (it throws): told to onError
    // as well, a service alerting from both counted one failure twice.
    if (this.outage || this.closing || !this.loop) return;
    this.outage = true;
    this.report(error, '');
  }

  /**
   * Tells onError. One that throws (a logger failing) must neither stop the consumer nor leave an
   * entry undead-lettered: it is ignored, after one process warning so that it is not unseen.
   */
  private report(error: unknown, entryId: string): void {
    let result: unknown;
    try {
      result = this.options.onError?.(error, entryId);
    } catch (thrown) {
      this.warnOnErrorFailed(thrown);
      return;
    }
    // Typed void, but an async function fits too: its rejection would end the process.
    if (result instanceof Promise) result.catch((thrown: unknown) => this.warnOnErrorFailed(thrown));
  }

  private warnOnErrorFailed(thrown: unknown): void {
    if (this.warnedOnError) return;
    this.warnedOnError = true;
    process.emitWarning(`verdict consumer ${this.consumer} (group ${this.options.group}): onError threw, ignored now and from now on: ${String(thrown)}`, {
      code: 'ABUSE_SCAN_ON_ERROR_THREW',
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** A parse error as ops read it on the dead-letter stream: zod's issues one per line, with their paths. */
function describe(error: unknown): string {
  return error instanceof z.ZodError ? z.prettifyError(error) : String(error);
}

/** The value of a stream entry's field (entries are flat field/value lists). */
function fieldValue(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export function createVerdictConsumer(options: VerdictConsumerOptions): VerdictConsumer {
  return new VerdictConsumer(options);
}
