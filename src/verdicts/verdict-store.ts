import type { RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';
import { ScanError } from '../errors.js';
import { consumedVerdictSchema, VERDICT_SCHEMA_VERSION, type ConsumedVerdict, type Verdict } from '../jobs/verdict-schema.js';
import { verdictKeys, type VerdictKeys } from './verdict-keys.js';

/** A failed job's verdict mode (STORE_ONCE): stored only while the failure is in the failed set. */
const STRICT = 'strict';
/** A failed job's verdict mode (STORE_ONCE): as STRICT, but also stored (unnoted) once the job's hash is gone. */
const KEEP_IF_REMOVED = 'keep-if-removed';

/**
 * Field of a failed job's BullMQ hash noting that the job has its verdict for the failure it is
 * in: its value is that failure's score in the queue's failed set (BullMQ's finishedOn, when it
 * moved the job to failed). Set with the verdict of a job that failed for good (see STORE_ONCE),
 * read by the failed-job sweep, which skips a job only while the note is its current failure's: a
 * job retried by hand (BullMQ keeps unknown fields) that fails again is owed a verdict anew.
 * BullMQ ignores fields it does not know; the hash goes with the job.
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
 * A verdict given to a failed job (the failed-job path: its job failed for good) is bound to that
 * failure: it is stored, and noted on the job's hash (FAILED_JOB_VERDICT_FIELD, the failure's
 * score), only while the job is still in its queue's failed set at the score it failed at. The
 * verdict key, which has a TTL, may be evicted under a volatile-* maxmemory policy long before the
 * job is removed, and the failed-job sweep must not take the job for one owed a verdict then. A
 * job no longer there at that score was replaced (a producer re-adding its content past the dedup
 * window: the new job gives its own verdict, and its producer was told it is no duplicate),
 * retried by hand, or removed: that failure is owed nothing more (-2), and nothing is written (no
 * verdict for the new job, no note on its hash). Only a job whose options let BullMQ trim it from
 * the failed set by count (KEEP_IF_REMOVED) is given its verdict, unnoted, when its hash is gone
 * too: trimmed by later failures before its verdict was given.
 * KEYS: stream, channel, then per verdict its key, its job's lock key (the verdict key again when
 * it has no lock to check), its failed job's hash and its queue's failed set (both the verdict key
 * again when it is not a failed job's verdict): every key of a call must lie in the cluster slot of
 * the others.
 * ARGV: retention s, stream max length, then per verdict jobId, verdict JSON, lock token ('' for
 * none), the failed job's id in its failed set, the failure's score, the failed job's mode ('' when
 * not a failed job's verdict; STRICT or KEEP_IF_REMOVED).
 * Returns per verdict 1 (stored), 0 (already there), -1 (the lock is not the attempt's) or -2
 * (the failure is no longer there: nothing stored or noted).
 */
const STORE_ONCE = `
local stored = {}
local announced = {}
local function announce()
  if #announced > 0 then redis.call('PUBLISH', KEYS[2], table.concat(announced, '\\n')) end
end
for n = 1, (#KEYS - 2) / 4 do
  local key, lock, job, failed = KEYS[n * 4 - 1], KEYS[n * 4], KEYS[n * 4 + 1], KEYS[n * 4 + 2]
  local a = n * 6 - 3
  local jobId, json, token, member, score, mode = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local note = false
  local gone = false
  if mode ~= '' then
    local at = redis.call('ZSCORE', failed, member)
    if at and tonumber(at) == tonumber(score) then
      note = true
    elseif mode ~= '${KEEP_IF_REMOVED}' or redis.call('EXISTS', job) == 1 then
      gone = true
    end
  end
  if gone then
    stored[#stored + 1] = -2
  elseif token ~= '' and redis.call('GET', lock) ~= token then
    stored[#stored + 1] = -1
  elseif redis.call('SET', key, json, 'NX', 'EX', ARGV[1]) then
    local appended = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'jobId', jobId, 'verdict', json)
    if type(appended) == 'table' and appended.err then
      redis.call('DEL', key)
      announce()
      return redis.error_reply('verdict not appended for ' .. jobId .. ': ' .. appended.err)
    end
    if note then redis.call('HSET', job, '${FAILED_JOB_VERDICT_FIELD}', score) end
    stored[#stored + 1] = 1
    announced[#announced + 1] = jobId
  else
    if note then redis.call('HSET', job, '${FAILED_JOB_VERDICT_FIELD}', score) end
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

/**
 * The failure a failed-job verdict covers: the job's BullMQ hash, its queue's failed set, its id
 * there, and the score it entered the set with (BullMQ's finishedOn, written as the score).
 */
export interface JobFailure {
  /** BullMQ's hash of the job (under the prefix: the slot of the verdict keys). */
  key: string;
  /** The job's queue's failed set. */
  failedSet: string;
  /** The job's id in the failed set (BullMQ's job id, not the verdict's jobId). */
  id: string;
  /** The job's score in the failed set when it failed: its finishedOn. */
  finishedOn: number;
  /**
   * The job's options let BullMQ trim it from the failed set by count (removeOnFail a count): a
   * job whose hash is gone too was trimmed by later failures, still owed its verdict (stored,
   * unnoted). Unset, a job no longer failed at finishedOn is owed nothing (replaced, retried,
   * removed).
   */
  mayBeTrimmed?: boolean;
}

/**
 * `gone`: a failed-job verdict whose failure is no longer there (the job was replaced, retried by
 * hand or removed): nothing stored, nothing owed.
 */
export type StoreOutcome = 'stored' | 'duplicate' | 'stale' | 'gone';

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
   * `duplicate` (the job had one), `stale` (given with a lock that no longer holds its token) or
   * `gone` (given for a failure no longer there). `locks[i]`, when given, is the lock of verdict
   * i's job attempt. `failures[i]`, when given, is the failure of verdict i's job, which failed for
   * good: the verdict is stored, and noted on the job's hash (FAILED_JOB_VERDICT_FIELD, stored or
   * already there), only while the job is in its failed set at that failure's score (STORE_ONCE).
   */
  async storeAll(verdicts: readonly Verdict[], locks: ReadonlyArray<JobLock | undefined> = [], failures: ReadonlyArray<JobFailure | undefined> = []): Promise<StoreOutcome[]> {
    if (verdicts.length === 0) return [];
    const keys: string[] = [this.keys.stream, this.keys.channel];
    const args: Array<string | number> = [this.options.retentionSeconds, this.options.streamMaxLength];
    verdicts.forEach((verdict, i) => {
      const key = this.keys.verdict(verdict.jobId);
      const lock = locks[i];
      const failure = failures[i];
      keys.push(key, lock?.key ?? key, failure?.key ?? key, failure?.failedSet ?? key);
      args.push(verdict.jobId, JSON.stringify(verdict), lock?.token ?? '');
      if (failure) args.push(failure.id, failure.finishedOn, failure.mayBeTrimmed ? KEEP_IF_REMOVED : STRICT);
      else args.push('', '', '');
    });
    const stored = (await runScript(this.redis, STORE_ONCE, keys, args)) as number[];
    return stored.map((flag) => (flag === 1 ? 'stored' : flag === 0 ? 'duplicate' : flag === -2 ? 'gone' : 'stale'));
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
