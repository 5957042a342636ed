import type { Queue } from 'bullmq';
import type { RedisClient } from '../runtime/redis.js';

/** Job states a scan queue reports; `wait` and `prioritized` together are the backlog. */
export const QUEUE_STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/** A consumer group of the results stream and how far behind it is. */
export interface ConsumerGroupBacklog {
  group: string;
  /** Entries added to the stream that the group has not read yet; null when Redis cannot tell (after trimming or XSETID). */
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

/**
 * Reads the scan queues' job counts and the results stream's length and consumer-group lag.
 * A few O(1) commands per queue and one XINFO GROUPS: cheap enough to run at every scrape.
 */
export async function readBacklog(queues: readonly Queue[], redis: RedisClient, verdictStream: string): Promise<Backlog> {
  const [counts, entries, groups] = await Promise.all([
    Promise.all(queues.map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts(...QUEUE_STATES) }))),
    redis.xlen(verdictStream),
    readGroups(redis, verdictStream),
  ]);
  return {
    jobs: counts.flatMap(({ queue, counts }) => QUEUE_STATES.map((state) => ({ queue, state, count: counts[state] ?? 0 }))),
    verdictStreamEntries: entries,
    consumerGroups: groups,
  };
}

async function readGroups(redis: RedisClient, stream: string): Promise<ConsumerGroupBacklog[]> {
  try {
    return parseXinfoGroups((await redis.xinfo('GROUPS', stream)) as unknown[]);
  } catch (error) {
    // No stream yet (no verdict stored so far): no group to report.
    if (error instanceof Error && /no such key/i.test(error.message)) return [];
    throw error;
  }
}

/** XINFO GROUPS replies one flat field/value list per group (RESP2). */
export function parseXinfoGroups(reply: readonly unknown[]): ConsumerGroupBacklog[] {
  return reply.map((group) => {
    const fields = new Map<string, unknown>();
    const list = group as unknown[];
    for (let i = 0; i + 1 < list.length; i += 2) fields.set(String(list[i]), list[i + 1]);
    const lag = fields.get('lag');
    return {
      group: String(fields.get('name')),
      lag: lag === null || lag === undefined ? null : Number(lag),
      pending: Number(fields.get('pending') ?? 0),
    };
  });
}
