/**
 * Flood protection: an entry that suddenly matches a great many different items is far more likely
 * a bad entry (a near-blank hash, a common template) than a flood of abuse, so once it matches more
 * than `maxItems` distinct items within one window it is quarantined: its matches ask for `review`
 * instead of the set's action until an operator releases it (`hashset release`).
 *
 * Counting happens only on a match, which is rare: one script call per matched entry, a HyperLogLog
 * per entry per window (12 KB at most, expiring after two windows), shared by every worker. Windows
 * are fixed, aligned to the epoch. Releasing an entry also clears its counter for the current
 * window (RELEASE_QUARANTINE), else the next match would find it still over `maxItems`.
 *
 * What counts as a distinct item: the item's own image fingerprint (see the signal type), since a
 * signal type sees the prepared item, not the job's contentId.
 *
 * The guard also keeps the counters `hashset stats` shows, in the set's meta hash: `matches` of
 * block and review sets (in RECORD_MATCH) and `suppressions` of negative sets.
 */
import type { RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';
import type { HashSetConfig } from './hash-set-config.js';
import { hashSetKeys } from './hash-set-keys.js';
import type { HashSetMetrics } from './hash-set-metrics.js';

export interface FloodMatch {
  entryNo: number;
  /** The entry's string id (what the quarantine list names). */
  id: string;
}

export interface FloodGuard {
  /** Records that the entry matched `itemKey`; resolves true when the entry is (now) quarantined. */
  recordMatch(set: HashSetConfig, match: FloodMatch, itemKey: string): Promise<boolean>;
  /**
   * Counts `count` block or review matches hidden by the negative set's entries on one item. Not
   * awaited and never throws: the count is for operators, so a scan neither waits for it nor fails
   * on it (a lost increment only undercounts).
   */
  recordSuppressions(set: HashSetConfig, count: number): void;
}

/**
 * KEYS: window HLL, quarantine hash, meta. ARGV: item, HLL ttl s, maxItems, id, ISO time, window s.
 * Returns { quarantined 0/1, newly quarantined 0/1, quarantined entries of the set }.
 */
const RECORD_MATCH = `
redis.call('HINCRBY', KEYS[3], 'matches', 1)
if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return { 1, 0, redis.call('HLEN', KEYS[2]) } end
redis.call('PFADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local items = redis.call('PFCOUNT', KEYS[1])
if items > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[2], ARGV[4], cjson.encode({ at = ARGV[5], items = items, windowSeconds = tonumber(ARGV[6]) }))
  return { 1, 1, redis.call('HLEN', KEYS[2]) }
end
return { 0, 0, -1 }
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

export class RedisFloodGuard implements FloodGuard {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly metrics?: HashSetMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  async recordMatch(set: HashSetConfig, match: FloodMatch, itemKey: string): Promise<boolean> {
    const keys = hashSetKeys(this.prefix, set.name);
    const { maxItems, windowSeconds } = set.flood;
    const window = floodWindow(this.now(), windowSeconds);
    const [quarantined, newly, count] = (await runScript(
      this.redis,
      RECORD_MATCH,
      [keys.flood(match.entryNo, window), keys.quarantine, keys.meta],
      [itemKey, 2 * windowSeconds, maxItems, match.id, new Date(this.now()).toISOString(), windowSeconds],
    )) as [number, number, number];
    if (newly) this.metrics?.quarantines.inc({ set: set.name });
    if (count >= 0) this.metrics?.quarantined.set({ set: set.name }, count);
    return quarantined === 1;
  }

  recordSuppressions(set: HashSetConfig, count: number): void {
    // Dropped on failure: an unhandled rejection would end the worker, over a count for operators.
    void this.redis.hincrby(hashSetKeys(this.prefix, set.name).meta, 'suppressions', count).catch(() => undefined);
  }
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

  async recordMatch(set: HashSetConfig, match: FloodMatch, itemKey: string): Promise<boolean> {
    const quarantined = this.quarantined.get(set.name) ?? new Map<string, { at: string; items: number }>();
    this.quarantined.set(set.name, quarantined);
    if (quarantined.has(match.id)) return true;
    const window = floodWindow(this.now(), set.flood.windowSeconds);
    const key = `${set.name}\n${match.id}`;
    let counted = this.windows.get(key);
    if (!counted || counted.window !== window) this.windows.set(key, (counted = { window, items: new Set() }));
    counted.items.add(itemKey);
    if (counted.items.size <= set.flood.maxItems) return false;
    quarantined.set(match.id, { at: new Date(this.now()).toISOString(), items: counted.items.size });
    this.windows.delete(key);
    this.metrics?.quarantines.inc({ set: set.name });
    this.metrics?.quarantined.set({ set: set.name }, quarantined.size);
    return true;
  }

  /** Nothing to do: directory sets have no `hashset stats`, and their matches are not counted either. */
  recordSuppressions(): void {}
}
