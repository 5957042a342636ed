import { afterAll, describe, expect, it, vi } from 'vitest';
import { Queue } from 'bullmq';
import { removeTestKeys, testRedis, uniquePrefix } from '../../test/harness/redis.js';
import { readBacklog, parseXinfoGroups, type Backlog } from './backlog.js';
import { BACKLOG_READ_TIMEOUT_MS, FleetMetrics } from './metrics.js';

describe('parseXinfoGroups', () => {
  it('reads name, lag and pending from RESP2 field lists; a nil lag stays unknown', () => {
    const reply = [
      ['name', 'moderation', 'consumers', 2, 'pending', 3, 'last-delivered-id', '1-0', 'entries-read', 4, 'lag', 6],
      ['name', 'audit', 'consumers', 0, 'pending', 0, 'last-delivered-id', '0-0', 'entries-read', null, 'lag', null],
    ];
    expect(parseXinfoGroups(reply)).toEqual([
      { group: 'moderation', lag: 6, pending: 3 },
      { group: 'audit', lag: null, pending: 0 },
    ]);
  });
});

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
    expect(text).toContain('abuse_scan_verdict_stream_entries 40');
    expect(text).toContain('abuse_scan_verdict_consumer_lag{group="moderation"} 5');
    expect(text).toContain('abuse_scan_verdict_consumer_pending{group="moderation"} 2');

    fail = true;
    const failed = await metrics.registry.metrics();
    expect(reads).toBe(2);
    expect(failed).not.toContain('abuse_scan_queue_jobs{');
    expect(failed).toContain('abuse_scan_backlog_read_failures_total 1');
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
