import type { RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';
import { ScanError } from '../errors.js';
import { consumedVerdictSchema, VERDICT_SCHEMA_VERSION, type ConsumedVerdict, type Verdict } from '../jobs/verdict-schema.js';
import { verdictKeys, type VerdictKeys } from './verdict-keys.js';

/**
 * Field of a failed job's BullMQ hash noting that the job has its verdict (epoch ms of when that
 * was noted): set with the verdict of a job that failed for good (see STORE_ONCE), read by the
 * failed-job sweep. BullMQ ignores fields it does not know; the hash goes with the job.
 */
export const FAILED_JOB_VERDICT_FIELD = 'abuseScanVerdictStoredAt';

/**
 * Stores a batch of verdicts, each once per jobId: a verdict's key is set only if absent and,
 * only then, the verdict is appended to the results stream. A job that runs twice (a crash after
 * its verdict was stored) therefore adds nothing the second time, within the retention window.
 * A verdict given with its job's lock is stored only while that lock still holds the attempt's
 * token: an attempt whose lock expired (its worker froze past the lock duration, and the stalled
 * checker handed the job to another) must not take the place of the verdict of the run that now
 * owns the job; BullMQ would refuse that attempt's completion for the same reason.
 * Should the append fail (the stream key holds another type), the key is removed again and the
 * call fails, so a retry stores the verdict instead of finding a marker for a verdict never sent.
 * The jobIds stored are announced in one message, newline-separated.
 * A verdict given to a failed job (the failed-job path: its job failed for good) is also noted on
 * that job's hash (FAILED_JOB_VERDICT_FIELD), stored or found there already, and only while the
 * hash exists (a job removed meanwhile must not come back as a stub): the verdict key, which has
 * a TTL, may be evicted under a volatile-* maxmemory policy long before the job is removed, and
 * the failed-job sweep must not take the job for one owed a verdict then.
 * KEYS: stream, channel, then per verdict its key, its job's lock key (the verdict key again when
 * it has no lock to check) and its failed job's hash (the verdict key again when it is not a
 * failed job's): every key of a call must lie in the cluster slot of the others.
 * ARGV: retention s, stream max length, now (epoch ms, the note's value), then per verdict jobId,
 * verdict JSON, lock token ('' for none).
 * Returns per verdict 1 (stored), 0 (already there) or -1 (the lock is not the attempt's).
 */
const STORE_ONCE = `
local stored = {}
local announced = {}
local function announce()
  if #announced > 0 then redis.call('PUBLISH', KEYS[2], table.concat(announced, '\\n')) end
end
local function note(key, job)
  if job ~= key and redis.call('EXISTS', job) == 1 then redis.call('HSET', job, '${FAILED_JOB_VERDICT_FIELD}', ARGV[3]) end
end
for n = 1, (#KEYS - 2) / 3 do
  local key, lock, job = KEYS[n * 3], KEYS[n * 3 + 1], KEYS[n * 3 + 2]
  local jobId, json, token = ARGV[n * 3 + 1], ARGV[n * 3 + 2], ARGV[n * 3 + 3]
  if token ~= '' and redis.call('GET', lock) ~= token then
    stored[#stored + 1] = -1
  elseif redis.call('SET', key, json, 'NX', 'EX', ARGV[1]) then
    local appended = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'jobId', jobId, 'verdict', json)
    if type(appended) == 'table' and appended.err then
      redis.call('DEL', key)
      announce()
      return redis.error_reply('verdict not appended for ' .. jobId .. ': ' .. appended.err)
    end
    note(key, job)
    stored[#stored + 1] = 1
    announced[#announced + 1] = jobId
  else
    note(key, job)
    stored[#stored + 1] = 0
  end
end
announce()
return stored
`;

/** A job attempt's hold on its job: BullMQ's lock key and the token the attempt holds it with. */
export interface JobLock {
  key: string;
  token: string;
}

export type StoreOutcome = 'stored' | 'duplicate' | 'stale';

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

  /**
   * Stores several verdicts in one script call; resolves with what became of each: `stored` (new),
   * `duplicate` (the job had one), or `stale` (given with a lock that no longer holds its token).
   * `locks[i]`, when given, is the lock of verdict i's job attempt. `failedJobs[i]`, when given,
   * is the hash of verdict i's job, which failed for good: stored or already there, the verdict is
   * noted there too (FAILED_JOB_VERDICT_FIELD).
   */
  async storeAll(verdicts: readonly Verdict[], locks: ReadonlyArray<JobLock | undefined> = [], failedJobs: ReadonlyArray<string | undefined> = []): Promise<StoreOutcome[]> {
    if (verdicts.length === 0) return [];
    const keys: string[] = [this.keys.stream, this.keys.channel];
    const args: Array<string | number> = [this.options.retentionSeconds, this.options.streamMaxLength, Date.now()];
    verdicts.forEach((verdict, i) => {
      const key = this.keys.verdict(verdict.jobId);
      const lock = locks[i];
      keys.push(key, lock?.key ?? key, failedJobs[i] ?? key);
      args.push(verdict.jobId, JSON.stringify(verdict), lock?.token ?? '');
    });
    const stored = (await runScript(this.redis, STORE_ONCE, keys, args)) as number[];
    return stored.map((flag) => (flag === 1 ? 'stored' : flag === 0 ? 'duplicate' : 'stale'));
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
    let stored: unknown;
    try {
      stored = JSON.parse(json);
    } catch (error) {
      throw new ScanError('invalid_verdict', `the stored verdict of job ${jobId} is not JSON`, { jobId }, { cause: error });
    }
    const schemaVersion = (stored as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (schemaVersion !== VERDICT_SCHEMA_VERSION) {
      throw new ScanError(
        'unsupported_schema_version',
        `the verdict of job ${jobId} has schemaVersion ${String(JSON.stringify(schemaVersion)).slice(0, 40)}; this version reads ${VERDICT_SCHEMA_VERSION}`,
        { jobId, schemaVersion },
      );
    }
    const parsed = consumedVerdictSchema.safeParse(stored);
    if (parsed.success) return parsed.data;
    // Another writer's verdict under this schemaVersion (a decision or item status this version
    // does not know, or a corrupt one): typed and naming the job, as the consumer dead-letters it.
    const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ScanError('invalid_verdict', `the stored verdict of job ${jobId} is not one this version reads (${issues.join('; ')})`, { jobId, issues }, { cause: parsed.error });
  }
}
