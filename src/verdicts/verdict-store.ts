import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../runtime/redis.js';
import { verdictSchema, type Verdict } from '../jobs/verdict-schema.js';
import { verdictKeys, type VerdictKeys } from './verdict-keys.js';

/**
 * Stores a verdict once per jobId: the per-job key is set only if absent, and only then is the
 * verdict appended to the results stream and announced. A job that runs twice (a crash after its
 * verdict was stored) therefore adds nothing the second time, within the retention window.
 * KEYS: verdict key, stream, channel. ARGV: verdict JSON, jobId, retention s, stream max length.
 * Returns 1 when stored, 0 when a verdict for the job already existed.
 */
const STORE_ONCE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'jobId', ARGV[2], 'verdict', ARGV[1])
  redis.call('PUBLISH', KEYS[3], ARGV[2])
  return 1
end
return 0
`;

interface StoreOnceCommands {
  storeVerdictOnce(verdictKey: string, stream: string, channel: string, json: string, jobId: string, retention: number, maxLen: number): Promise<number>;
}
type WithStoreOnce<T> = T & {
  storeVerdictOnce(...args: Parameters<StoreOnceCommands['storeVerdictOnce']>): T;
};

export interface VerdictStoreOptions {
  prefix: string;
  /** Seconds a stored verdict is kept for lookup and as the jobId idempotency marker. */
  retentionSeconds: number;
  /** Approximate cap on stream entries; consumers further behind than this lose the oldest. */
  streamMaxLength: number;
}

/** Reads and writes verdicts: the stream for consumers, one key per job for lookups. */
export class VerdictStore {
  readonly keys: VerdictKeys;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: VerdictStoreOptions,
  ) {
    this.keys = verdictKeys(options.prefix);
    if (!('storeVerdictOnce' in redis)) redis.defineCommand('storeVerdictOnce', { numberOfKeys: 3, lua: STORE_ONCE });
  }

  /** Stores several verdicts in one round trip; resolves with whether each was new. */
  async storeAll(verdicts: readonly Verdict[]): Promise<boolean[]> {
    const pipeline = this.redis.pipeline() as WithStoreOnce<ChainableCommander>;
    for (const verdict of verdicts) {
      pipeline.storeVerdictOnce(
        this.keys.verdict(verdict.jobId),
        this.keys.stream,
        this.keys.channel,
        JSON.stringify(verdict),
        verdict.jobId,
        this.options.retentionSeconds,
        this.options.streamMaxLength,
      );
    }
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, stored]) => {
      if (error) throw error;
      return stored === 1;
    });
  }

  async get(jobId: string): Promise<Verdict | undefined> {
    const json = await this.redis.get(this.keys.verdict(jobId));
    return json === null ? undefined : verdictSchema.parse(JSON.parse(json));
  }
}
