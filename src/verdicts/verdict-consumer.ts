import { hostname } from 'node:os';
import { Cluster } from 'ioredis';
import { z } from 'zod';
import { ScanError } from '../errors.js';
import { consumedVerdictSchema, type ConsumedVerdict } from '../jobs/verdict-schema.js';
import { DEFAULT_PREFIX } from '../queues/names.js';
import { withDeadline } from '../runtime/deadline.js';
import { createRedis, FAIL_FAST_OPTIONS, isRedisClient, unavailabilityOf, type ConnectionInput, type RedisClient } from '../runtime/redis.js';
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
  connection?: ConnectionInput;
  /** The workers' prefix. Default `{abuse-scan}`. */
  prefix?: string;
  /** Consumer group: every group sees every verdict; consumers within a group share them. */
  group: string;
  /** This consumer's name within the group. Default `<hostname>-<pid>`. */
  consumer?: string;
  /** Where a group that does not exist yet starts: the oldest kept verdict, or new ones only. Default `beginning`. */
  startFrom?: 'beginning' | 'now';
  /** Entries read per call (a positive integer). Default 100. */
  batchSize?: number;
  /**
   * How long one read waits for new verdicts, in ms (a positive integer). `close()` waits at most
   * this plus 1 s. Default 2000.
   */
  blockMs?: number;
  /** Entries left unacknowledged this long (their consumer died) are taken over. Default 60000. */
  claimIdleMs?: number;
  /**
   * Longest wait in ms for Redis in `start()` and in each command the consumer sends (a read gets
   * `blockMs` on top). Past it `start()` throws ScanError `redis_unavailable`, and the consumer
   * reports the outage to `onError` and tries again. Default 5000.
   */
  commandTimeoutMs?: number;
  /** Entries the group's dead-letter stream keeps (the oldest are trimmed). Default 10000. */
  deadLetterMaxLength?: number;
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
   */
  onError?: (error: unknown, entryId: string) => void;
}

/**
 * Where a group's consumers put stream entries they cannot read as verdicts, so that nothing the
 * workers stored disappears unseen. Same hash tag as the stream (one Cluster slot).
 */
export function deadLetterStreamKey(prefix: string, group: string): string {
  return `${verdictKeys(prefix).stream}:dead-letter:${group}`;
}

type StreamEntry = [id: string, fields: string[] | null];

/** What close() waits beyond blockMs: a read that just started returns within blockMs. */
const CLOSE_MARGIN_MS = 1000;
/** Pause after a failed round (Redis away, group deleted) before the next one. */
const RETRY_DELAY_MS = 1000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

function checkedInteger(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
  return value;
}

/**
 * The consumer's own connection (it blocks on reads), failing a command once a reconnect has
 * failed: a consumer waiting for Redis forever could neither report the outage nor close.
 */
function ownConnection(connection: ConnectionInput | undefined): RedisClient {
  if (connection instanceof Cluster) return connection.duplicate([], { redisOptions: { ...connection.options.redisOptions, ...FAIL_FAST_OPTIONS } });
  if (isRedisClient(connection)) return connection.duplicate(FAIL_FAST_OPTIONS);
  return createRedis(connection, FAIL_FAST_OPTIONS);
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
  private readonly commandTimeoutMs: number;
  private closing = false;
  private closed: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  /** Set once an outage is reported, so that it is reported once; cleared when Redis answers again. */
  private outage = false;
  /** Ends the pause between failed rounds early (close). */
  private wake: () => void = () => {};

  constructor(private readonly options: VerdictConsumerOptions) {
    // Checked before connecting. BLOCK 0 would wait forever, and no BLOCK not at all (a busy loop).
    this.batchSize = checkedInteger('batchSize', options.batchSize ?? 100, 1);
    this.blockMs = checkedInteger('blockMs', options.blockMs ?? 2000, 1);
    this.claimIdleMs = checkedInteger('claimIdleMs', options.claimIdleMs ?? 60_000, 0);
    this.commandTimeoutMs = checkedInteger('commandTimeoutMs', options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, 1);
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
      await this.command(this.ensureGroup());
    } catch (error) {
      throw this.unavailable(error) ?? error;
    }
    this.outage = false;
    if (this.loop || this.closing) return;
    this.loop = this.consume();
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.options.group, this.options.startFrom === 'now' ? '$' : '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /**
   * Stops reading, lets the verdict being handled finish, and disconnects; waits at most
   * blockMs + 1 s (also while Redis is away). Entries read but not handled yet stay pending: this
   * consumer handles them first when it starts again, another one takes them over after
   * claimIdleMs. A handler still running at the deadline is not waited for (nor acknowledged).
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
    const stopped = !this.loop || (await withDeadline(this.loop, deadline - Date.now(), expired).then(() => true, () => false));
    if (stopped && this.redis.status === 'ready') {
      // The loop is done: a clean QUIT, unless Redis does not answer it before the deadline.
      await withDeadline(this.redis.quit(), deadline - Date.now(), expired).catch(() => this.redis.disconnect());
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
          if (claimCursor === '0-0') lastClaim = Date.now();
          claimCursor = await this.claimPage(claimCursor);
        }
        if (this.closing) return;
        // One page of a claim pass per read: while the pass goes on, reads do not wait for new
        // verdicts (the pass would take a blockMs per page) but new verdicts are not starved either.
        const entries = await this.read('>', claimCursor === '0-0' ? this.blockMs : undefined);
        this.outage = false;
        await this.handleAll(entries, false);
      } catch (error) {
        // Redis restarted or is away, the stream or group was deleted, a failover: report, wait, carry on.
        if (this.closing) return;
        const unavailable = this.unavailable(error);
        if (unavailable) this.reportOutage(unavailable);
        else this.options.onError?.(error, '');
        resumed = false;
        await this.pause(RETRY_DELAY_MS);
        if (String(error).includes('NOGROUP') || String(error).includes('no longer exists')) await this.command(this.ensureGroup()).catch(() => undefined);
      }
    }
  }

  /** Pages through this consumer's pending entries, oldest first, until none is left. */
  private async handleOwnPending(): Promise<void> {
    let after = '0';
    while (!this.closing) {
      const entries = await this.read(after, undefined);
      const last = entries.at(-1);
      if (!last) return;
      await this.handleAll(entries, true);
      after = last[0];
    }
  }

  /** One page of a claim pass: takes over entries idle for claimIdleMs; returns the cursor ('0-0' once the pass is done). */
  private async claimPage(cursor: string): Promise<string> {
    const [next, claimed] = (await this.command(
      this.redis.xautoclaim(this.stream, this.options.group, this.consumer, this.claimIdleMs, cursor, 'COUNT', this.batchSize),
    )) as [string, StreamEntry[]];
    await this.handleAll(claimed, true);
    return next;
  }

  private async read(id: string, blockMs: number | undefined): Promise<StreamEntry[]> {
    const args = ['GROUP', this.options.group, this.consumer, 'COUNT', this.batchSize, ...(blockMs === undefined ? [] : ['BLOCK', blockMs]), 'STREAMS', this.stream, id];
    const result = (await this.command(this.redis.call('XREADGROUP', ...args), blockMs ?? 0)) as Array<[string, StreamEntry[]]> | null;
    return result?.[0]?.[1] ?? [];
  }

  /**
   * Handles entries in order until closing; the rest stay pending (see close). An acknowledgement
   * that fails ends the batch: the loop reports it, and the entry is delivered again.
   */
  private async handleAll(entries: StreamEntry[], redelivered: boolean): Promise<void> {
    for (const [entryId, fields] of entries) {
      if (this.closing) return;
      if (!fields) continue; // deleted by trimming while pending
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
        this.options.onError?.(error, entryId);
        continue;
      }
      await this.command(this.redis.xack(this.stream, this.options.group, entryId));
    }
  }

  /**
   * Copies an entry that is not a verdict to the group's dead-letter stream (its id, the parse
   * error, and its fields verbatim as `raw:<field>`), then acknowledges it. Only once the copy is
   * stored: if Redis refuses it, the entry stays pending and comes back like a failed handler's.
   */
  private async deadLetter(entryId: string, fields: string[], parseError: unknown): Promise<void> {
    this.options.onError?.(parseError, entryId);
    try {
      const raw = fields.map((part, i) => (i % 2 === 0 ? `raw:${part}` : part));
      const maxLength = this.options.deadLetterMaxLength ?? 10_000;
      await this.command(this.redis.xadd(this.deadLetterStream, 'MAXLEN', '~', maxLength, '*', 'entryId', entryId, 'consumer', this.consumer, 'error', describe(parseError), ...raw));
      await this.command(this.redis.xack(this.stream, this.options.group, entryId));
    } catch (error) {
      this.options.onError?.(error, entryId);
    }
  }

  /** A command to Redis, given up on after commandTimeoutMs (+ extraMs) as `redis_unavailable`. */
  private command<T>(work: Promise<T>, extraMs = 0): Promise<T> {
    const ms = this.commandTimeoutMs + extraMs;
    return withDeadline(work, ms, () => this.unavailability.error(`did not answer within ${ms} ms`));
  }

  /** The `redis_unavailable` error for a failure that comes from not reaching Redis, else undefined. */
  private unavailable(error: unknown): ScanError | undefined {
    if (error instanceof ScanError && error.code === 'redis_unavailable') return error;
    // ioredis does not export the class of this error.
    if ((error instanceof Error && error.name === 'MaxRetriesPerRequestError') || this.redis.status !== 'ready') {
      return this.unavailability.error('could not be reached', error);
    }
    return undefined;
  }

  private reportOutage(error: ScanError): void {
    if (this.outage || this.closing) return;
    this.outage = true;
    this.options.onError?.(error, '');
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
