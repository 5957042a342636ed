import type { RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';
import { ScanError } from '../errors.js';
import { consumedVerdictSchema, VERDICT_SCHEMA_VERSION, type ConsumedVerdict, type Verdict } from '../jobs/verdict-schema.js';
import { verdictKeys, type VerdictKeys } from './verdict-keys.js';

/**
 * Stores a batch of verdicts, each once per jobId: a verdict's key is set only if absent and,
 * only then, the verdict is appended to the results stream. A job that runs twice (a crash after
 * its verdict was stored) therefore adds nothing the second time, within the retention window.
 * Should the append fail (the stream key holds another type), the key is removed again and the
 * call fails, so a retry stores the verdict instead of finding a marker for a verdict never sent.
 * The jobIds stored are announced in one message, newline-separated.
 * KEYS: stream, channel, then one verdict key per verdict.
 * ARGV: retention s, stream max length, then jobId and verdict JSON per verdict.
 * Returns one 1 (stored) or 0 (already there) per verdict.
 */
const STORE_ONCE = `
local stored = {}
local announced = {}
local function announce()
  if #announced > 0 then redis.call('PUBLISH', KEYS[2], table.concat(announced, '\\n')) end
end
for i = 3, #KEYS do
  local jobId = ARGV[1 + (i - 2) * 2]
  local json = ARGV[2 + (i - 2) * 2]
  if redis.call('SET', KEYS[i], json, 'NX', 'EX', ARGV[1]) then
    local appended = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'jobId', jobId, 'verdict', json)
    if type(appended) == 'table' and appended.err then
      redis.call('DEL', KEYS[i])
      announce()
      return redis.error_reply('verdict not appended for ' .. jobId .. ': ' .. appended.err)
    end
    stored[#stored + 1] = 1
    announced[#announced + 1] = jobId
  else
    stored[#stored + 1] = 0
  end
end
announce()
return stored
`;

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
  }

  /** Stores several verdicts in one script call; resolves with whether each was new. */
  async storeAll(verdicts: readonly Verdict[]): Promise<boolean[]> {
    if (verdicts.length === 0) return [];
    const keys = [this.keys.stream, this.keys.channel, ...verdicts.map((v) => this.keys.verdict(v.jobId))];
    const args = [this.options.retentionSeconds, this.options.streamMaxLength, ...verdicts.flatMap((v) => [v.jobId, JSON.stringify(v)])];
    const stored = (await runScript(this.redis, STORE_ONCE, keys, args)) as number[];
    return stored.map((flag) => flag === 1);
  }

  /** Whether each job has a stored verdict, in one round trip. */
  async has(jobIds: readonly string[]): Promise<boolean[]> {
    if (jobIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const jobId of jobIds) pipeline.exists(this.keys.verdict(jobId));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, count]) => {
      if (error) throw error;
      return count === 1;
    });
  }

  /**
   * A stored verdict, read as consumers read them: a newer worker's error codes are accepted. One
   * of another schemaVersion (a newer worker's, mid-deploy) is ScanError
   * `unsupported_schema_version` naming the job, not a parse error of a shape this version cannot know.
   */
  async get(jobId: string): Promise<ConsumedVerdict | undefined> {
    const json = await this.redis.get(this.keys.verdict(jobId));
    if (json === null) return undefined;
    const stored: unknown = JSON.parse(json);
    const schemaVersion = (stored as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (schemaVersion !== VERDICT_SCHEMA_VERSION) {
      throw new ScanError(
        'unsupported_schema_version',
        `the verdict of job ${jobId} has schemaVersion ${String(JSON.stringify(schemaVersion)).slice(0, 40)}; this version reads ${VERDICT_SCHEMA_VERSION}`,
        { jobId, schemaVersion },
      );
    }
    return consumedVerdictSchema.parse(stored);
  }
}
