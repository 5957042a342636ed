/**
 * Flood protection: an entry that suddenly matches a great many different items is far more likely
 * a bad entry (a near-blank hash, a common template) than a flood of abuse, so once it matches more
 * than `maxItems` distinct items within one window it is quarantined: its matches ask for `review`
 * instead of the set's action until an operator releases it (`hashset release`) or removes it
 * (REMOVE_ENTRIES clears its quarantine and counters: an entry added again under the same id, a
 * corrected hash, starts afresh). A quarantine affects only that entry's own matches: an item that
 * also matches another entry of the set, not quarantined, gets the set's action through the closest
 * such entry (`recordMatchAmong` walks past the quarantined ones).
 *
 * Counting happens only on a match, which is rare: one script call per matched set and item (a
 * second one when its closest entry is quarantined, for the next closest entries, so at most
 * MAX_WALKED_CANDIDATES in all), a HyperLogLog
 * per entry per window (12 KB at most, expiring after two windows), shared by every worker. Windows
 * are fixed, aligned to the epoch. Releasing an entry also clears its counter for the current
 * window (RELEASE_QUARANTINE), else the next match would find it still over `maxItems`.
 *
 * What counts as a distinct item: an image, by the exact hashes of the frame that matched the entry
 * (see the signal type), not the content that carried it: the same image posted under any number of
 * contentIds (a viral repost of known abuse) is one item, so reposting it can neither quarantine its
 * entry nor turn its copies' block into a review. A bad entry still floods, as it matches many
 * different images. Each candidate of a walk counts its own frame's fingerprint (FloodMatch.itemKey).
 *
 * The guard also keeps the counters `hashset stats` shows, in the set's meta hash: `matches` of
 * block and review sets (in RECORD_MATCH) and `suppressions` of negative sets.
 *
 * A worker's replica passes its config with the incarnation it was loaded from (`incarnation`,
 * see HashSetIncarnation): the scripts then count only while the set in Redis is that one. A set
 * deleted and created again restarts its entry numbers at 0, so a match found by a copy of the
 * deleted one, in the moment before the replicas drop it, must not count against (nor quarantine)
 * the new set's entry of that number, nor add to the new set's `matches`.
 */
import { isRedisUnreachableError } from '../runtime/redis-errors.js';
import type { RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';
import type { HashSetConfig } from './hash-set-config.js';
import { hashSetKeys } from './hash-set-keys.js';
import type { HashSetMetrics } from './hash-set-metrics.js';
import { incarnationArgs, SAME_INCARNATION } from './hash-set-scripts.js';

/**
 * The most candidates one `recordMatchAmong` call walks: the closest ones, in the order given; the
 * rest are not looked at (a flood of near-blank entries within reach of one image costs a bounded
 * script call, not one key per entry). The signal type walks no more than this in all.
 */
export const MAX_WALKED_CANDIDATES = 32;

export interface FloodMatch {
  entryNo: number;
  /** The entry's string id (what the quarantine list names). */
  id: string;
  /**
   * The item as counted against this entry, when not the call's `itemKey`: an image of several
   * frames is, for each entry, the frame that matched it.
   */
  itemKey?: string;
}

export interface FloodGuard {
  /**
   * Records that an item matched entries of one set, `candidates` closest first: the match stands
   * on the closest one not quarantined. The item is `itemKey`, or the candidate's own (see
   * FloodMatch.itemKey). The walk passes quarantined candidates by (their counters
   * untouched) and counts the item against the first other one; when that count quarantines it in
   * turn, the walk goes on. Resolves the index of the candidate the match stands on, -1 when every
   * one is quarantined (its matches then ask for review). Only the first MAX_WALKED_CANDIDATES
   * are walked: when they are all quarantined it resolves -1. `countSetMatch` (default true) also
   * counts one match of the set for `hashset stats`: false on a second call for the same item.
   * When `set.incarnation` is given (a replica's config) and the set is no longer that incarnation
   * (deleted, or deleted and created again), nothing is recorded or counted and it resolves 0: the
   * match stands on the closest candidate, as described from the incarnation matched (whose
   * quarantines went with it). When Redis answers the guard's script with an error (one of its
   * keys holds another type), the guard cannot tell a quarantine: it reports the error through its
   * `onError` and resolves 0, so a known-bad match is never lost over a counter. Redis out of
   * reach still rejects (the job is retried, as it would be for its verdict anyway).
   */
  recordMatchAmong(set: HashSetConfig, candidates: readonly FloodMatch[], itemKey: string, countSetMatch?: boolean): Promise<number>;
  /**
   * Counts `count` block or review matches hidden by the negative set's entries on one item. Not
   * awaited and never throws: the count is for operators, so a scan neither waits for it nor fails
   * on it (a lost increment only undercounts).
   */
  recordSuppressions(set: HashSetConfig, count: number): void;
}

/**
 * KEYS: quarantine hash, meta, then the window HLL of each candidate (MAX_WALKED_CANDIDATES at most). ARGV: HLL ttl s,
 * maxItems, ISO time, window s, '1' to count the set's match, '1' to check the incarnation ('0':
 * none given), its createdAt and createdStamp, then the id and the item of each candidate.
 * Walks the candidates in order (see FloodGuard.recordMatchAmong), all in one step. Returns
 * { 1-based index of the candidate the match stands on (0: every one quarantined), entries newly
 * quarantined, quarantined entries of the set (-1 when the walk met none) }; { 1, 0, -1 }, having
 * written nothing, when the set is not the incarnation given (SAME_INCARNATION).
 */
const RECORD_MATCH = `${SAME_INCARNATION}
if ARGV[6] == '1' and not same_incarnation(KEYS[2], ARGV[7], ARGV[8]) then return { 1, 0, -1 } end
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[2], 'matches', 1) end
local newly = 0
for i = 1, #KEYS - 2 do
  local id, item = ARGV[7 + 2 * i], ARGV[8 + 2 * i]
  if redis.call('HEXISTS', KEYS[1], id) == 0 then
    redis.call('PFADD', KEYS[2 + i], item)
    redis.call('EXPIRE', KEYS[2 + i], ARGV[1])
    local items = redis.call('PFCOUNT', KEYS[2 + i])
    if items <= tonumber(ARGV[2]) then
      if i == 1 then return { 1, 0, -1 } end
      return { i, newly, redis.call('HLEN', KEYS[1]) }
    end
    redis.call('HSET', KEYS[1], id, cjson.encode({ at = ARGV[3], items = items, windowSeconds = tonumber(ARGV[4]) }))
    newly = newly + 1
  end
end
return { 0, newly, redis.call('HLEN', KEYS[1]) }
`;

/**
 * KEYS: meta. ARGV: count, '1' to check the incarnation ('0': none given), its createdAt and
 * createdStamp. Adds `count` to the negative set's `suppressions`, unless the set is not the
 * incarnation given (SAME_INCARNATION): then nothing. Returns the count added. (A config without
 * an incarnation is counted with a plain HINCRBY.)
 */
const RECORD_SUPPRESSIONS = `${SAME_INCARNATION}
if ARGV[2] == '1' and not same_incarnation(KEYS[1], ARGV[3], ARGV[4]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'suppressions', ARGV[1])
return tonumber(ARGV[1])
`;

/**
 * KEYS: quarantine hash, then the current window's HLL of each released entry still in the set.
 * ARGV: ids. Lifts the quarantine and clears the counters in one step, so no match in between
 * can count against the old total. Returns how many ids were quarantined.
 */
export const RELEASE_QUARANTINE = `
local released = redis.call('HDEL', KEYS[1], unpack(ARGV))
if #KEYS > 1 then redis.call('DEL', unpack(KEYS, 2)) end
return released
`;

/** The fixed window (aligned to the epoch) a match at `nowMs` counts in. */
export function floodWindow(nowMs: number, windowSeconds: number): number {
  return Math.floor(nowMs / 1000 / windowSeconds);
}

/**
 * Told of a script error the guard got over (FloodGuard.recordMatchAmong): the set, and Redis'
 * error. A worker logs it, once a minute per set and message.
 */
export type FloodGuardErrorHandler = (set: string, error: Error) => void;

/**
 * Runs one of the guard's scripts; an error Redis answered with (not one of reaching Redis) goes to
 * `onError` and the result is `fallback`.
 */
async function guarded<T>(set: HashSetConfig, run: () => Promise<T>, fallback: T, onError: FloodGuardErrorHandler | undefined): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'ReplyError' || isRedisUnreachableError(error)) throw error;
    onError?.(set.name, error);
    return fallback;
  }
}

export class RedisFloodGuard implements FloodGuard {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly metrics?: HashSetMetrics,
    private readonly now: () => number = Date.now,
    private readonly onError?: FloodGuardErrorHandler,
  ) {}

  async recordMatchAmong(set: HashSetConfig, all: readonly FloodMatch[], itemKey: string, countSetMatch = true): Promise<number> {
    if (all.length === 0) return -1;
    return guarded(set, () => this.record(set, all, itemKey, countSetMatch), 0, this.onError);
  }

  private async record(set: HashSetConfig, all: readonly FloodMatch[], itemKey: string, countSetMatch: boolean): Promise<number> {
    const candidates = all.slice(0, MAX_WALKED_CANDIDATES);
    const keys = hashSetKeys(this.prefix, set.name);
    const { maxItems, windowSeconds } = set.flood;
    const window = floodWindow(this.now(), windowSeconds);
    const [stands, newly, count] = (await runScript(
      this.redis,
      RECORD_MATCH,
      [keys.quarantine, keys.meta, ...candidates.map((candidate) => keys.flood(candidate.entryNo, window))],
      [
        2 * windowSeconds,
        maxItems,
        new Date(this.now()).toISOString(),
        windowSeconds,
        countSetMatch ? '1' : '0',
        ...incarnationArgs(set.incarnation),
        ...candidates.flatMap((candidate) => [candidate.id, candidate.itemKey ?? itemKey]),
      ],
    )) as [number, number, number];
    if (newly > 0) this.metrics?.quarantines.inc({ set: set.name }, newly);
    if (count >= 0) this.metrics?.quarantined.set({ set: set.name }, count);
    return stands - 1;
  }

  /** Records one entry's match; resolves true when the entry is (now) quarantined. */
  async recordMatch(set: HashSetConfig, match: FloodMatch, itemKey: string): Promise<boolean> {
    return (await this.recordMatchAmong(set, [match], itemKey)) < 0;
  }

  recordSuppressions(set: HashSetConfig, count: number): void {
    // Dropped on failure: an unhandled rejection would end the worker, over a count for operators.
    const { meta } = hashSetKeys(this.prefix, set.name);
    const counted = set.incarnation ? runScript(this.redis, RECORD_SUPPRESSIONS, [meta], [count, ...incarnationArgs(set.incarnation)]) : this.redis.hincrby(meta, 'suppressions', count);
    void counted.catch(() => undefined);
  }
}

/**
 * KEYS: quarantine hash, meta. ARGV: '1' to check the incarnation ('0': none given), its
 * createdAt and createdStamp, then the candidates' ids. RECORD_MATCH's walk without its writes:
 * the 1-based index of the first candidate not quarantined, 0 when every one is; 1 when the set
 * is not the incarnation given, as RECORD_MATCH answers.
 */
const FIRST_NOT_QUARANTINED = `${SAME_INCARNATION}
if ARGV[1] == '1' and not same_incarnation(KEYS[2], ARGV[2], ARGV[3]) then return 1 end
for i = 4, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then return i - 3 end
end
return 0
`;

/**
 * The fleet's quarantines, only read (`abuse-scan scan --fleet`): a match stands on the closest
 * candidate the fleet has not quarantined (-1 when it quarantined every one walked, so the match
 * asks for review as on a worker), and nothing is counted. A match that would take an entry over
 * its flood limit on a worker therefore still stands here.
 */
export class ReadOnlyFloodGuard implements FloodGuard {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly onError?: FloodGuardErrorHandler,
  ) {}

  async recordMatchAmong(set: HashSetConfig, all: readonly FloodMatch[]): Promise<number> {
    if (all.length === 0) return -1;
    const candidates = all.slice(0, MAX_WALKED_CANDIDATES);
    const keys = hashSetKeys(this.prefix, set.name);
    const firstNotQuarantined = () => runScript(this.redis, FIRST_NOT_QUARANTINED, [keys.quarantine, keys.meta], [...incarnationArgs(set.incarnation), ...candidates.map((candidate) => candidate.id)]) as Promise<number>;
    return (await guarded(set, firstNotQuarantined, 1, this.onError)) - 1;
  }

  recordSuppressions(): void {}
}

/** The same rule in one process's memory, for the embedded scan (exact counts, no Redis). */
export class MemoryFloodGuard implements FloodGuard {
  private readonly windows = new Map<string, { window: number; items: Set<string> }>();
  /** Quarantined entries by set name, then id, with when. */
  readonly quarantined = new Map<string, Map<string, { at: string; items: number }>>();

  constructor(
    private readonly metrics?: HashSetMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  async recordMatchAmong(set: HashSetConfig, candidates: readonly FloodMatch[], itemKey: string): Promise<number> {
    const quarantined = this.quarantined.get(set.name) ?? new Map<string, { at: string; items: number }>();
    this.quarantined.set(set.name, quarantined);
    for (let i = 0; i < Math.min(candidates.length, MAX_WALKED_CANDIDATES); i++) {
      const { id } = candidates[i]!;
      if (quarantined.has(id)) continue;
      const window = floodWindow(this.now(), set.flood.windowSeconds);
      const key = `${set.name}\n${id}`;
      let counted = this.windows.get(key);
      if (!counted || counted.window !== window) this.windows.set(key, (counted = { window, items: new Set() }));
      counted.items.add(candidates[i]!.itemKey ?? itemKey);
      if (counted.items.size <= set.flood.maxItems) return i;
      quarantined.set(id, { at: new Date(this.now()).toISOString(), items: counted.items.size });
      this.windows.delete(key);
      this.metrics?.quarantines.inc({ set: set.name });
      this.metrics?.quarantined.set({ set: set.name }, quarantined.size);
    }
    return -1;
  }

  /** Records one entry's match; resolves true when the entry is (now) quarantined. */
  async recordMatch(set: HashSetConfig, match: FloodMatch, itemKey: string): Promise<boolean> {
    return (await this.recordMatchAmong(set, [match], itemKey)) < 0;
  }

  /** Nothing to do: directory sets have no `hashset stats`, and their matches are not counted either. */
  recordSuppressions(): void {}
}
