import type { Queue } from 'bullmq';
import type { RedisClient } from '../runtime/redis.js';

/** Job states a scan queue reports; `wait` and `prioritized` together are the backlog. */
export const QUEUE_STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/** A consumer group of the results stream and how far behind it is. */
export interface ConsumerGroupBacklog {
  group: string;
  /**
   * Entries in the stream that the group has not read yet (trimmed ones not counted); null when
   * Redis cannot tell (a group set to an arbitrary id or behind a deleted entry, Redis before 7).
   */
  lag: number | null;
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
}

/**
 * Reads the scan queues' job counts and the results stream's length and consumer-group lag.
 * A few O(1) commands per queue, one XINFO STREAM and one XINFO GROUPS: cheap enough to run at
 * every scrape.
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
  try {
    const [streamReply, groupsReply] = await Promise.all([redis.xinfo('STREAM', stream), redis.xinfo('GROUPS', stream)]);
    const ends = parseXinfoStream(streamReply as unknown[]);
    return { entries: ends.length, groups: parseXinfoGroups(groupsReply as unknown[], ends) };
  } catch (error) {
    // No stream yet (no verdict stored so far): no group to report.
    if (error instanceof Error && /no such key/i.test(error.message)) return { entries: 0, groups: [] };
    throw error;
  }
}

/** Length and end ids from XINFO STREAM's flat field/value list (RESP2). */
export function parseXinfoStream(reply: readonly unknown[]): StreamEnds {
  const fields = fieldMap(reply);
  const idOf = (entry: unknown) => (Array.isArray(entry) ? String(entry[0]) : undefined);
  return { length: Number(fields.get('length') ?? 0), firstEntryId: idOf(fields.get('first-entry')), lastEntryId: idOf(fields.get('last-entry')) };
}

/**
 * XINFO GROUPS replies one flat field/value list per group (RESP2). Given the stream's ends, the
 * lag is checked against them: Redis 7.0-7.4 keep counting a group's reads across entries trimmed
 * before it read them, so XINFO's lag then counts the lost entries for good (redis/redis#13957).
 */
export function parseXinfoGroups(reply: readonly unknown[], stream?: StreamEnds): ConsumerGroupBacklog[] {
  return reply.map((group) => {
    const fields = fieldMap(group as unknown[]);
    const lag = fields.get('lag');
    const reported = lag === null || lag === undefined ? null : Number(lag);
    return {
      group: String(fields.get('name')),
      lag: stream ? checkedLag(reported, String(fields.get('last-delivered-id') ?? '0-0'), stream) : reported,
      pending: Number(fields.get('pending') ?? 0),
    };
  });
}

/** A group's lag from where it stands in the stream, when that tells it; XINFO's, at most the length, otherwise. */
function checkedLag(reported: number | null, lastDeliveredId: string, stream: StreamEnds): number | null {
  if (stream.lastEntryId === undefined || compareStreamIds(lastDeliveredId, stream.lastEntryId) >= 0) return 0;
  if (compareStreamIds(lastDeliveredId, stream.firstEntryId!) < 0) return stream.length;
  return reported === null ? null : Math.min(reported, stream.length);
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
