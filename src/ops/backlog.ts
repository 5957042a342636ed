import type { Queue } from 'bullmq';
import type { RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';

/** Job states a scan queue reports; `wait` and `prioritized` together are the backlog. */
export const QUEUE_STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/** A consumer group of the results stream and how far behind it is. */
export interface ConsumerGroupBacklog {
  group: string;
  /**
   * Entries in the stream that the group has not read yet (trimmed ones not counted), at most
   * LAG_COUNT_CAP (see lagAtLeast); null when not known (readBacklog always counts it).
   */
  lag: number | null;
  /** Set when the count stopped at LAG_COUNT_CAP: the group is at least `lag` entries behind. */
  lagAtLeast?: true;
  /** Entries delivered to a consumer of the group and not acknowledged yet. */
  pending: number;
}

/** What is waiting on the fleet, as Redis holds it: shared by every worker process. */
export interface Backlog {
  jobs: Array<{ queue: string; state: (typeof QUEUE_STATES)[number]; count: number }>;
  verdictStreamEntries: number;
  consumerGroups: ConsumerGroupBacklog[];
}

/** What of XINFO STREAM the lag is checked against. */
export interface StreamEnds {
  length: number;
  /** Ids of the oldest and newest kept entries; undefined when the stream is empty. */
  firstEntryId: string | undefined;
  lastEntryId: string | undefined;
  /** The newest id XDEL removed (Redis 7 and later). */
  maxDeletedEntryId?: string | undefined;
}

/** A consumer group as XINFO GROUPS describes it. */
export interface GroupInfo {
  group: string;
  /** XINFO's lag: null when Redis cannot tell (a group set to an arbitrary id or behind a deleted entry, Redis before 7). */
  reportedLag: number | null;
  lastDeliveredId: string;
  pending: number;
}

/**
 * The most unread entries counted for one group: one more than the AbuseScanVerdictConsumerBehind
 * threshold (deploy/prometheus/abuse-scan-alerts.yml), so that a group counted up to here still
 * fires it, while a scrape never walks more of the stream than that.
 */
export const LAG_COUNT_CAP = 100_001;
/**
 * Entries one count script walks. Redis copies each entry into Lua (100000 verdicts of 1.5 KB took
 * about 380 ms): a page holds Redis for under 10 ms, and other clients' commands run between pages.
 */
const COUNT_PAGE = 2000;
/**
 * How long a count of more than a page is carried forward through Redis's own counters (see
 * followCount) before the entries are walked again: the walk is what a scrape must not repeat
 * (a group 100000 behind would cost every worker some 400 ms of Redis time per scrape), and the
 * rare change the counters do not show (XGROUP SETID with ENTRIESREAD) is corrected after this.
 */
const RECOUNT_AFTER_MS = 5 * 60_000;

/** A count of more than a page, and where Redis's counters stood when it was made. */
interface CountedLag {
  /** The count: exact, or a lower bound when it reached the cap. */
  lag: number;
  atLeast: boolean;
  reportedLag: number;
  lastDeliveredId: string;
  maxDeletedEntryId: string | undefined;
  countedAt: number;
}

/** Per client, per stream, per group: the large counts still carried forward. */
const countedLags = new WeakMap<RedisClient, Map<string, Map<string, CountedLag>>>();

/**
 * Counts up to ARGV[2] entries after ARGV[1] (excluded: XRANGE's inclusive start, which every
 * Redis 5 and later takes, then skipping that id). A script, so that the entries stay in Redis
 * and only their count travels.
 * KEYS: the stream. Returns { count, id of the last entry counted }.
 */
const COUNT_AFTER = `
local limit = tonumber(ARGV[2])
local page = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', limit + 1)
local first = 1
if page[1] and page[1][1] == ARGV[1] then first = 2 end
local last = math.min(#page, first + limit - 1)
if last < first then return { 0, ARGV[1] } end
return { last - first + 1, page[last][1] }
`;

/**
 * Reads the scan queues' job counts and the results stream's length and consumer-group lag.
 * A few O(1) commands per queue, one XINFO STREAM and one XINFO GROUPS, plus, for a group with
 * unread entries inside the stream, a count of them (see groupLag): cheap enough to run at every
 * scrape.
 */
export async function readBacklog(queues: readonly Queue[], redis: RedisClient, verdictStream: string): Promise<Backlog> {
  const [counts, { entries, groups }] = await Promise.all([
    Promise.all(queues.map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts(...QUEUE_STATES) }))),
    readStream(redis, verdictStream),
  ]);
  return {
    jobs: counts.flatMap(({ queue, counts }) => QUEUE_STATES.map((state) => ({ queue, state, count: counts[state] ?? 0 }))),
    verdictStreamEntries: entries,
    consumerGroups: groups,
  };
}

async function readStream(redis: RedisClient, stream: string): Promise<{ entries: number; groups: ConsumerGroupBacklog[] }> {
  let ends: StreamEnds;
  let infos: GroupInfo[];
  try {
    const [streamReply, groupsReply] = await Promise.all([redis.xinfo('STREAM', stream), redis.xinfo('GROUPS', stream)]);
    ends = parseXinfoStream(streamReply as unknown[]);
    infos = parseXinfoGroups(groupsReply as unknown[]);
  } catch (error) {
    // No stream yet (no verdict stored so far): no group to report.
    if (error instanceof Error && /no such key/i.test(error.message)) return { entries: 0, groups: [] };
    throw error;
  }
  let streams = countedLags.get(redis);
  if (!streams) countedLags.set(redis, (streams = new Map()));
  const carried = streams.get(stream) ?? new Map<string, CountedLag>();
  // Only the groups counted or carried forward by this read keep a count: a deleted group's goes.
  const kept = new Map<string, CountedLag>();
  const groups = await Promise.all(
    infos.map(async (info) => ({ group: info.group, ...(await groupLag(redis, stream, ends, info, carried.get(info.group), kept)), pending: info.pending })),
  );
  streams.set(stream, kept);
  return { entries: ends.length, groups };
}

/**
 * A group's lag from where it stands in the stream. Redis 7.0-7.4 keep counting a group's reads
 * across entries trimmed before it read them, so XINFO's lag then counts the lost entries for good
 * (redis/redis#13957): a group at the end has nothing to read, one behind the oldest kept entry
 * has every entry to read, and for one inside the stream the entries after it are counted (up to
 * LAG_COUNT_CAP). XINFO's figure is never reported, whatever the version: a server cannot be told
 * apart from one that carries the bug (Redis-compatible servers, backports).
 */
async function groupLag(
  redis: RedisClient,
  stream: string,
  ends: StreamEnds,
  info: GroupInfo,
  counted: CountedLag | undefined,
  kept: Map<string, CountedLag>,
): Promise<Pick<ConsumerGroupBacklog, 'lag' | 'lagAtLeast'>> {
  if (ends.lastEntryId === undefined || compareStreamIds(info.lastDeliveredId, ends.lastEntryId) >= 0) return { lag: 0 };
  if (compareStreamIds(info.lastDeliveredId, ends.firstEntryId!) < 0) return { lag: ends.length };
  const now = Date.now();
  const followed = counted && followCount(counted, info, ends, now);
  if (followed) {
    kept.set(info.group, counted);
    return followed;
  }
  const count = await countAfter(redis, stream, info.lastDeliveredId);
  const atLeast = count >= LAG_COUNT_CAP;
  if (count > COUNT_PAGE && info.reportedLag !== null) {
    kept.set(info.group, { lag: count, atLeast, reportedLag: info.reportedLag, lastDeliveredId: info.lastDeliveredId, maxDeletedEntryId: ends.maxDeletedEntryId, countedAt: now });
  }
  return atLeast ? { lag: LAG_COUNT_CAP, lagAtLeast: true } : { lag: count };
}

/**
 * An earlier count carried forward, or undefined when it must be made again. Whatever XINFO's lag
 * gets wrong, it moves as the true lag does (up by each entry added, down by each entry the group
 * reads) as long as the group does not read across a trimmed gap and no entry is deleted: so the
 * count moves by what XINFO's lag moved since. Refused when the group went back (XGROUP SETID),
 * the stream was trimmed past where the group stood (it may have read across the gap since), an
 * entry was deleted, or the result cannot be (below 0, over the stream's length).
 */
function followCount(counted: CountedLag, info: GroupInfo, ends: StreamEnds, now: number): Pick<ConsumerGroupBacklog, 'lag' | 'lagAtLeast'> | undefined {
  if (info.reportedLag === null || now - counted.countedAt >= RECOUNT_AFTER_MS) return undefined;
  if (compareStreamIds(info.lastDeliveredId, counted.lastDeliveredId) < 0) return undefined;
  if (compareStreamIds(ends.firstEntryId!, counted.lastDeliveredId) > 0) return undefined;
  if (ends.maxDeletedEntryId !== counted.maxDeletedEntryId) return undefined;
  const lag = counted.lag + info.reportedLag - counted.reportedLag;
  if (lag < 0 || lag > ends.length) return undefined;
  if (!counted.atLeast) return { lag };
  // A lower bound still at the cap says enough; below it, only a new count tells.
  return lag >= LAG_COUNT_CAP ? { lag: LAG_COUNT_CAP, lagAtLeast: true } : undefined;
}

/** Entries after `id` in the stream, counted up to LAG_COUNT_CAP a page per script call. */
async function countAfter(redis: RedisClient, stream: string, id: string): Promise<number> {
  let count = 0;
  let after = id;
  while (count < LAG_COUNT_CAP) {
    const limit = Math.min(COUNT_PAGE, LAG_COUNT_CAP - count);
    const [found, last] = (await runScript(redis, COUNT_AFTER, [stream], [after, limit])) as [number, string];
    count += found;
    if (found < limit) break;
    after = last;
  }
  return count;
}

/** Length and end ids from XINFO STREAM's flat field/value list (RESP2). */
export function parseXinfoStream(reply: readonly unknown[]): StreamEnds {
  const fields = fieldMap(reply);
  const idOf = (entry: unknown) => (Array.isArray(entry) ? String(entry[0]) : undefined);
  const maxDeleted = fields.get('max-deleted-entry-id');
  return {
    length: Number(fields.get('length') ?? 0),
    firstEntryId: idOf(fields.get('first-entry')),
    lastEntryId: idOf(fields.get('last-entry')),
    maxDeletedEntryId: maxDeleted === undefined || maxDeleted === null ? undefined : String(maxDeleted),
  };
}

/** XINFO GROUPS replies one flat field/value list per group (RESP2). */
export function parseXinfoGroups(reply: readonly unknown[]): GroupInfo[] {
  return reply.map((group) => {
    const fields = fieldMap(group as unknown[]);
    const lag = fields.get('lag');
    return {
      group: String(fields.get('name')),
      reportedLag: lag === null || lag === undefined ? null : Number(lag),
      lastDeliveredId: String(fields.get('last-delivered-id') ?? '0-0'),
      pending: Number(fields.get('pending') ?? 0),
    };
  });
}

/** Orders stream ids (`<ms>-<seq>`, both up to 2^64: compared as decimal strings, not numbers). */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = '', aSeq = ''] = a.split('-');
  const [bMs = '', bSeq = ''] = b.split('-');
  return compareDecimal(aMs, bMs) || compareDecimal(aSeq, bSeq);
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function fieldMap(list: readonly unknown[]): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < list.length; i += 2) fields.set(String(list[i]), list[i + 1]);
  return fields;
}
