import { hostname } from 'node:os';
import { z } from 'zod';
import { consumedVerdictSchema, type ConsumedVerdict } from '../jobs/verdict-schema.js';
import { DEFAULT_PREFIX } from '../queues/names.js';
import { createRedis, isRedisClient, type ConnectionInput, type RedisClient } from '../runtime/redis.js';
import { verdictKeys } from './verdict-keys.js';

export interface VerdictDelivery {
  /** The stream entry id; increases with storage order. */
  entryId: string;
  /** True when delivered before without acknowledgement (a restart, or a consumer that died). */
  redelivered: boolean;
}

export interface VerdictConsumerOptions {
  /** Redis URL, ioredis options or a client (duplicated: the consumer blocks on its own). Default REDIS_URL. */
  connection?: ConnectionInput;
  /** The workers' prefix. Default `{abuse-scan}`. */
  prefix?: string;
  /** Consumer group: every group sees every verdict; consumers within a group share them. */
  group: string;
  /** This consumer's name within the group. Default `<hostname>-<pid>`. */
  consumer?: string;
  /** Where a group that does not exist yet starts: the oldest kept verdict, or new ones only. Default `beginning`. */
  startFrom?: 'beginning' | 'now';
  /** Entries read per call. Default 100. */
  batchSize?: number;
  /** How long one read waits for new verdicts, in ms (and so the longest `close()` waits). Default 2000. */
  blockMs?: number;
  /** Entries left unacknowledged this long (their consumer died) are taken over. Default 60000. */
  claimIdleMs?: number;
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
   * group's dead-letter stream, then acknowledged).
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

type StreamEntry = [id: string, fields: string[]];

/** Reads the results stream through a consumer group, with recovery of a dead consumer's entries. */
export class VerdictConsumer {
  private readonly redis: RedisClient;
  private readonly stream: string;
  private readonly deadLetterStream: string;
  private readonly consumer: string;
  private closing = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: VerdictConsumerOptions) {
    // Its own connection, because it blocks on reads.
    this.redis = isRedisClient(options.connection) ? options.connection.duplicate() : createRedis(options.connection);
    this.stream = verdictKeys(options.prefix ?? DEFAULT_PREFIX).stream;
    this.deadLetterStream = deadLetterStreamKey(options.prefix ?? DEFAULT_PREFIX, options.group);
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}`;
  }

  /** Creates the group if needed and starts consuming in the background. */
  async start(): Promise<void> {
    await this.ensureGroup();
    this.loop = this.consume();
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.options.group, this.options.startFrom === 'now' ? '$' : '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** Stops reading, lets the verdict being handled finish, and disconnects. */
  async close(): Promise<void> {
    this.closing = true;
    await this.loop;
    await this.redis.quit();
  }

  private async consume(): Promise<void> {
    const batch = this.options.batchSize ?? 100;
    const claimIdleMs = this.options.claimIdleMs ?? 60_000;
    let lastClaim = 0;
    let resumed = false;
    while (!this.closing) {
      try {
        if (!resumed) {
          // What this consumer had read but not acknowledged before a restart comes first.
          await this.handleAll(await this.read('0', batch, undefined), true);
          resumed = true;
        }
        if (Date.now() - lastClaim >= claimIdleMs / 2) {
          lastClaim = Date.now();
          const [, claimed] = (await this.redis.xautoclaim(this.stream, this.options.group, this.consumer, claimIdleMs, '0-0', 'COUNT', batch)) as [string, StreamEntry[]];
          await this.handleAll(claimed, true);
        }
        await this.handleAll(await this.read('>', batch, this.options.blockMs ?? 2000), false);
      } catch (error) {
        // Redis restarted, the stream or group was deleted, a failover: report, wait, carry on.
        if (this.closing) return;
        this.options.onError?.(error, '');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (String(error).includes('NOGROUP') || String(error).includes('no longer exists')) await this.ensureGroup().catch(() => undefined);
      }
    }
  }

  private async read(id: string, count: number, blockMs: number | undefined): Promise<StreamEntry[]> {
    const args = ['GROUP', this.options.group, this.consumer, 'COUNT', count, ...(blockMs ? ['BLOCK', blockMs] : []), 'STREAMS', this.stream, id];
    const result = (await this.redis.call('XREADGROUP', ...args)) as Array<[string, StreamEntry[]]> | null;
    return result?.[0]?.[1] ?? [];
  }

  private async handleAll(entries: StreamEntry[], redelivered: boolean): Promise<void> {
    for (const [entryId, fields] of entries) {
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
        await this.redis.xack(this.stream, this.options.group, entryId);
      } catch (error) {
        this.options.onError?.(error, entryId);
      }
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
      await this.redis.xadd(this.deadLetterStream, 'MAXLEN', '~', maxLength, '*', 'entryId', entryId, 'consumer', this.consumer, 'error', describe(parseError), ...raw);
      await this.redis.xack(this.stream, this.options.group, entryId);
    } catch (error) {
      this.options.onError?.(error, entryId);
    }
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
