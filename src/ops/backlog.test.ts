import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Queue } from 'bullmq';
import { removeTestKeys, testRedis, uniquePrefix } from '../../test/harness/redis.js';
import { startPrivateRedis, type PrivateRedis } from '../../test/harness/private-redis.js';
import type { RedisClient } from '../runtime/redis.js';
import { LAG_COUNT_CAP, readBacklog, parseXinfoGroups, type Backlog } from './backlog.js';
import { BACKLOG_READ_TIMEOUT_MS, FleetMetrics } from './metrics.js';

describe('parseXinfoGroups', () => {
  it('reads name, lag, last-delivered id and pending from RESP2 field lists; a nil lag stays unknown', () => {
    const reply = [
      ['name', 'moderation', 'consumers', 2, 'pending', 3, 'last-delivered-id', '1-0', 'entries-read', 4, 'lag', 6],
      ['name', 'audit', 'consumers', 0, 'pending', 0, 'last-delivered-id', '0-0', 'entries-read', null, 'lag', null],
    ];
    expect(parseXinfoGroups(reply)).toEqual([
      { group: 'moderation', reportedLag: 6, lastDeliveredId: '1-0', pending: 3 },
      { group: 'audit', reportedLag: null, lastDeliveredId: '0-0', pending: 0 },
    ]);
  });
});

/** The gauges read from Redis at scrape time: with no backlog read, none of their series shows. */
const BACKLOG_GAUGES = ['abuse_scan_queue_jobs', 'abuse_scan_verdict_stream_entries', 'abuse_scan_verdict_consumer_lag', 'abuse_scan_verdict_consumer_pending'];

describe('backlog gauges', () => {
  it('are read once per scrape from the source and emptied when the read fails', async () => {
    const metrics = new FleetMetrics();
    let reads = 0;
    let fail = false;
    metrics.readBacklogOnScrape(async () => {
      reads++;
      if (fail) throw new Error('redis down');
      return {
        jobs: [
          { queue: 'links', state: 'wait', count: 12 },
          { queue: 'links', state: 'active', count: 3 },
        ],
        verdictStreamEntries: 40,
        consumerGroups: [{ group: 'moderation', lag: 5, pending: 2 }],
      };
    });
    const text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('abuse_scan_queue_jobs{queue="links",state="wait"} 12');
    expect(text).toContain('abuse_scan_queue_jobs{queue="links",state="active"} 3');
    expect(text).toContain('abuse_scan_verdict_stream_entries{stream="verdicts"} 40');
    expect(text).toContain('abuse_scan_verdict_consumer_lag{group="moderation"} 5');
    expect(text).toContain('abuse_scan_verdict_consumer_pending{group="moderation"} 2');

    fail = true;
    const failed = await metrics.registry.metrics();
    expect(reads).toBe(2);
    expect(failed).toContain('abuse_scan_backlog_read_failures_total 1');
    // Every backlog series is gone, the stream's entries included (not shown as 0: an empty stream).
    const failedSamples = failed.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    for (const gauge of BACKLOG_GAUGES) expect(failedSamples.filter((line) => line.startsWith(gauge)), gauge).toEqual([]);

    // Redis readable again: they are back.
    fail = false;
    const recovered = await metrics.registry.metrics();
    expect(recovered).toContain('abuse_scan_verdict_stream_entries{stream="verdicts"} 40');
    expect(recovered).toContain('abuse_scan_queue_jobs{queue="links",state="wait"} 12');
  });

  it('show none of their series before the worker knows its backlog (start-up)', async () => {
    const metrics = new FleetMetrics({ defaultMetrics: true, prefix: '{fleet-a}' });
    const text = await metrics.registry.metrics();
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(10);
    for (const gauge of BACKLOG_GAUGES) expect(samples.filter((line) => line.startsWith(gauge)), gauge).toEqual([]);
    expect(text).toContain('abuse_scan_backlog_read_failures_total{prefix="{fleet-a}"} 0');
  });

  it('give up on a read Redis does not answer, and send no second read until it is answered', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const metrics = new FleetMetrics();
      const unanswered: Array<(backlog: Backlog) => void> = [];
      metrics.readBacklogOnScrape(() => new Promise((answer) => unanswered.push(answer)));
      const backlog: Backlog = { jobs: [{ queue: 'links', state: 'wait', count: 7 }], verdictStreamEntries: 1, consumerGroups: [] };

      // Redis away: the scrape answers once the read times out, counting a failure.
      const firstScrape = metrics.registry.metrics();
      await vi.advanceTimersByTimeAsync(BACKLOG_READ_TIMEOUT_MS);
      expect(await firstScrape).toContain('abuse_scan_backlog_read_failures_total 1');

      // A scrape while that read is still unanswered fails at once and sends nothing.
      const second = await metrics.registry.metrics();
      expect(unanswered).toHaveLength(1);
      expect(second).toContain('abuse_scan_backlog_read_failures_total 2');
      expect(second).not.toContain('abuse_scan_queue_jobs{');

      // Redis answers the old read late: the next scrape sends a fresh read and reports it.
      unanswered[0]!(backlog);
      await vi.advanceTimersByTimeAsync(0);
      const thirdScrape = metrics.registry.metrics();
      expect(unanswered).toHaveLength(2);
      unanswered[1]!(backlog);
      const third = await thirdScrape;
      expect(third).toContain('abuse_scan_queue_jobs{queue="links",state="wait"} 7');
      expect(third).toContain('abuse_scan_backlog_read_failures_total 2');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('readBacklog against Redis', () => {
  const prefix = uniquePrefix('backlog');
  afterAll(() => removeTestKeys(prefix));

  it('counts waiting and delayed jobs per queue and the lag of each consumer group', async () => {
    const redis = testRedis();
    const queue = new Queue('links', { connection: redis, prefix });
    try {
      await queue.addBulk([
        { name: 'scan', data: { n: 1 } },
        { name: 'scan', data: { n: 2 } },
        { name: 'scan', data: { n: 3 }, opts: { delay: 60_000 } },
      ]);
      const stream = `${prefix}:verdicts`;
      expect((await readBacklog([queue], redis, stream)).consumerGroups).toEqual([]); // no stream yet
      for (let i = 0; i < 5; i++) await redis.xadd(stream, '*', 'jobId', `j${i}`);
      await redis.xgroup('CREATE', stream, 'moderation', '0');
      await redis.xreadgroup('GROUP', 'moderation', 'c1', 'COUNT', 2, 'STREAMS', stream, '>');

      const backlog = await readBacklog([queue], redis, stream);
      const count = (state: string) => backlog.jobs.find((j) => j.queue === 'links' && j.state === state)?.count;
      expect(count('wait')).toBe(2);
      expect(count('delayed')).toBe(1);
      expect(count('active')).toBe(0);
      expect(backlog.verdictStreamEntries).toBe(5);
      expect(backlog.consumerGroups).toEqual([{ group: 'moderation', lag: 3, pending: 2 }]);
    } finally {
      await queue.close();
      await redis.quit();
    }
  });
});

describe('readBacklog when the stream was trimmed past what a group read', () => {
  const prefix = uniquePrefix('backlog-trim');
  afterAll(() => removeTestKeys(prefix));

  // Redis 7.0-7.4 keep counting a group's reads across a trimmed gap, so XINFO's lag stays at the
  // number of verdicts lost once the group caught up (redis/redis#13957): a consumer of an older
  // version, or one reading with plain XREADGROUP, leaves a group in that state (ours repairs it).
  it('reports every kept entry as unread behind the oldest kept one, and 0 once the group caught up', async () => {
    const redis = testRedis();
    try {
      const stream = `${prefix}:verdicts`;
      for (let i = 0; i < 10; i++) await redis.xadd(stream, '*', 'jobId', `j${i}`);
      await redis.xgroup('CREATE', stream, 'audit', '0');
      await redis.xreadgroup('GROUP', 'audit', 'c1', 'COUNT', 2, 'STREAMS', stream, '>');
      await redis.xtrim(stream, 'MAXLEN', 3);
      // Before: 8 (XINFO's count: the 5 trimmed ones included).
      expect((await readBacklog([], redis, stream)).consumerGroups).toEqual([{ group: 'audit', lag: 3, pending: 2 }]);

      await redis.xreadgroup('GROUP', 'audit', 'c1', 'STREAMS', stream, '>');
      // Before: 5, for as long as the stream lived.
      expect((await readBacklog([], redis, stream)).consumerGroups).toEqual([{ group: 'audit', lag: 0, pending: 5 }]);
    } finally {
      await redis.quit();
    }
  });
});

/** Entries after the group's last-delivered id, counted from the client: what the lag must be. */
async function unreadEntries(redis: RedisClient, stream: string, group: string): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  const fields = groups.map((list) => new Map(list.flatMap((value, i) => (i % 2 === 0 ? [[String(value), list[i + 1]] as const] : []))));
  const last = String(fields.find((each) => each.get('name') === group)!.get('last-delivered-id'));
  let count = 0;
  let after = last;
  for (;;) {
    const page = (await redis.xrange(stream, `(${after}`, '+', 'COUNT', 10_000)) as Array<[string, string[]]>;
    if (page.length === 0) return count;
    count += page.length;
    after = page.at(-1)![0];
  }
}

/** Appends `count` small entries, pipelined. */
async function append(redis: RedisClient, stream: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += 5000) {
    const pipeline = redis.pipeline();
    for (let i = done; i < Math.min(count, done + 5000); i++) pipeline.xadd(stream, '*', 'jobId', `j${i}`);
    await pipeline.exec();
  }
}

describe('readBacklog for a group inside the stream that once read across a trimmed gap (Redis 7.0-7.4)', () => {
  const prefix = uniquePrefix('backlog-gap');
  afterAll(() => removeTestKeys(prefix));

  // redis/redis#13957: XINFO's lag keeps the 58 entries trimmed before the group read them; capped
  // at the stream's length it said 42, for as long as the stream lived.
  it('counts the entries after the group: 2, not XINFO\'s 42', async () => {
    const redis = testRedis();
    try {
      const stream = `${prefix}:verdicts`;
      await append(redis, stream, 100);
      await redis.xgroup('CREATE', stream, 'g1', '0');
      await redis.xreadgroup('GROUP', 'g1', 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
      await redis.xtrim(stream, 'MAXLEN', 50);
      await redis.xreadgroup('GROUP', 'g1', 'c1', 'COUNT', 100, 'STREAMS', stream, '>');
      await redis.xadd(stream, 'MAXLEN', 50, '*', 'jobId', 'a');
      await redis.xadd(stream, 'MAXLEN', 50, '*', 'jobId', 'b');
      expect((await readBacklog([], redis, stream)).consumerGroups).toEqual([{ group: 'g1', lag: 2, pending: 60 }]);
    } finally {
      await redis.quit();
    }
  });
});

describe('readBacklog counts of a group far behind (a Redis of the test\'s own: its command counts are the test\'s)', () => {
  let server: PrivateRedis;
  let redis: ReturnType<PrivateRedis['admin']>;
  const stream = '{backlog}:verdicts';
  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.admin();
  }, 20_000);
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  /** Scripts run so far: the count walks the stream by script, nothing else here runs one. */
  const scriptCalls = async () => {
    const stats = await redis.info('commandstats');
    return [...stats.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
  };

  it('stop at LAG_COUNT_CAP, say it is a lower bound, and carry it forward without walking the stream again while it holds', async () => {
    await redis.del(stream);
    await append(redis, stream, LAG_COUNT_CAP + 9);
    await redis.xgroup('CREATE', stream, 'slow', '0');
    await redis.xreadgroup('GROUP', 'slow', 'c1', 'COUNT', 5, 'STREAMS', stream, '>');
    expect((await readBacklog([], redis, stream)).consumerGroups).toEqual([{ group: 'slow', lag: LAG_COUNT_CAP, lagAtLeast: true, pending: 5 }]);
    const walked = await scriptCalls();

    await redis.xadd(stream, '*', 'jobId', 'more');
    expect((await readBacklog([], redis, stream)).consumerGroups).toEqual([{ group: 'slow', lag: LAG_COUNT_CAP, lagAtLeast: true, pending: 5 }]);
    expect(await scriptCalls()).toBe(walked);

    // Read below the cap: only a new count tells how far.
    await redis.xreadgroup('GROUP', 'slow', 'c1', 'COUNT', 20, 'STREAMS', stream, '>');
    const [group] = (await readBacklog([], redis, stream)).consumerGroups;
    expect(group).toEqual({ group: 'slow', lag: await unreadEntries(redis, stream, 'slow'), pending: 25 });
    expect(group!.lag).toBeLessThan(LAG_COUNT_CAP);
    expect(await scriptCalls()).toBeGreaterThan(walked);
  }, 60_000);

  it('carry an exact count forward through Redis\'s counters, and count again after a trim past the group\'s counted position or a deletion', async () => {
    await redis.del(stream);
    await append(redis, stream, 10_000);
    await redis.xgroup('CREATE', stream, 'gap', '0');
    await redis.xreadgroup('GROUP', 'gap', 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
    await redis.xtrim(stream, 'MAXLEN', 5000);
    await redis.xreadgroup('GROUP', 'gap', 'c1', 'COUNT', 1000, 'STREAMS', stream, '>'); // across the gap
    const lag = async () => (await readBacklog([], redis, stream)).consumerGroups[0]!.lag;
    expect(await lag()).toBe(4000);
    const walked = await scriptCalls();

    await append(redis, stream, 10);
    await redis.xreadgroup('GROUP', 'gap', 'c1', 'COUNT', 5, 'STREAMS', stream, '>');
    expect(await lag()).toBe(4005);
    expect(await scriptCalls()).toBe(walked);

    // Trimmed past where the group was counted (it is still inside the stream): counted again.
    await redis.xreadgroup('GROUP', 'gap', 'c1', 'COUNT', 1000, 'STREAMS', stream, '>');
    await redis.xtrim(stream, 'MAXLEN', 3500);
    expect(await lag()).toBe(await unreadEntries(redis, stream, 'gap'));
    expect(await lag()).toBe(3005);
    const recounted = await scriptCalls();
    expect(recounted).toBeGreaterThan(walked);

    // An unread entry deleted: counted again.
    const newest = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![0];
    await redis.xdel(stream, newest);
    expect(await lag()).toBe(3004);
    expect(await scriptCalls()).toBeGreaterThan(recounted);
  }, 60_000);
});
