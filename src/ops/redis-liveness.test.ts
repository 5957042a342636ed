import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../test/harness/private-redis.js';
import { silentServer, testRedis } from '../../test/harness/redis.js';
import { RedisLiveness, type ProbedClient } from './redis-liveness.js';

const silentLogger = { warn: () => undefined, info: () => undefined };

/** A fake ioredis client: answers ROLE with `role` while `answering`, else never. */
function fakeClient(role = 'master') {
  const client = {
    status: 'ready',
    answering: true,
    serverRole: role,
    destroyed: 0,
    stream: { destroy: () => void client.destroyed++ },
    pending: [] as Array<() => void>,
    ping: () => Promise.resolve('PONG'),
    disconnect: () => undefined,
  };
  const probed = Object.assign(client, {
    role: () => (client.answering ? Promise.resolve([client.serverRole]) : new Promise<unknown>((resolve) => client.pending.push(() => resolve([client.serverRole])))),
  });
  return probed as typeof probed & ProbedClient & { role: () => Promise<unknown>; answering: boolean };
}

/**
 * A watchdog over one worker connection and its blocking companion (fake clients), on a clock the
 * test moves; deadline 10 ms, unhealthy after 1 s.
 */
function watchedWorkerConnection() {
  const clock = { now: 0 };
  const worker = fakeClient();
  const blocking = fakeClient();
  const liveness = new RedisLiveness({
    targets: () => [{ name: 'links worker connection', address: 'Redis at 127.0.0.1:1', client: worker, companions: [blocking] }],
    unhealthyAfterMs: 1000,
    intervalMs: 10,
    logger: silentLogger,
    now: () => clock.now,
  });
  return { worker, blocking, liveness, clock };
}

describe('RedisLiveness', () => {
  it("resets a blocking companion stuck in its handshake while its worker connection answers (a worker that looked healthy and took no job)", async () => {
    const { worker, blocking, liveness, clock } = watchedWorkerConnection();
    // Reconnected while Redis was silent: TCP up, its ready check never answered.
    blocking.status = 'connect';
    await liveness.probeAll();
    clock.now += 5;
    await liveness.probeAll();
    expect(blocking.destroyed).toBe(0); // not yet past the deadline
    clock.now += 10;
    await liveness.probeAll();
    expect({ blocking: blocking.destroyed, worker: worker.destroyed, health: liveness.health() }).toEqual({ blocking: 1, worker: 0, health: { healthy: true } });
    // Once through its handshake it is left alone.
    blocking.status = 'ready';
    clock.now += 100;
    await liveness.probeAll();
    expect(blocking.destroyed).toBe(1);
  });

  it('reconnects a blocking Cluster companion left ready with no node connection (ioredis after a frozen node thawed: every command queued for good)', async () => {
    const { blocking, liveness } = watchedWorkerConnection();
    const calls: string[] = [];
    const cluster = Object.assign(blocking, {
      nodes: () => [] as ProbedClient[],
      disconnect: (reconnect?: boolean) => void calls.push(`disconnect(${String(reconnect)})`),
      connect: () => {
        calls.push('connect');
        return Promise.resolve();
      },
    });
    await liveness.probeAll();
    expect(calls).toEqual(['disconnect(true)', 'connect']);
    // A Cluster client with its node connections is left alone.
    calls.length = 0;
    cluster.nodes = () => [fakeClient()];
    await liveness.probeAll();
    expect(calls).toEqual([]);
  });

  it('resets a connection (and its companions) that misses the deadline, reports it unhealthy past the timeout, and healthy once it answers', async () => {
    const { worker, blocking, liveness, clock } = watchedWorkerConnection();
    await liveness.probeAll();
    expect(liveness.health()).toEqual({ healthy: true });
    expect(worker.destroyed).toBe(0);

    worker.answering = false;
    clock.now = 100;
    await liveness.probeAll(); // unanswered past its deadline: both sockets dropped
    expect([worker.destroyed, blocking.destroyed]).toEqual([1, 1]);
    clock.now = 105;
    await liveness.probeAll(); // still unanswered, no new deadline yet: no second probe, no reset
    expect(worker.pending).toHaveLength(1);
    expect(worker.destroyed).toBe(1);
    expect(liveness.health()).toEqual({ healthy: true });

    clock.now = 1200;
    expect(liveness.health()).toEqual({ healthy: false, reason: 'links worker connection (Redis at 127.0.0.1:1): has not answered for 1 s' });
    worker.status = 'reconnecting'; // no socket: left to ioredis
    await liveness.probeAll();
    expect(worker.destroyed).toBe(1);

    worker.status = 'ready';
    worker.answering = true;
    worker.pending.shift()!(); // the resent probe is answered after the reconnect
    await new Promise((resolve) => setImmediate(resolve));
    expect(liveness.health()).toEqual({ healthy: true });
  });

  it('counts an answer from a replica as none (a demoted primary refuses the worker), without resetting', async () => {
    let now = 0;
    const shared = fakeClient('slave');
    const liveness = new RedisLiveness({
      targets: () => [{ name: 'shared connection', address: 'Redis at 127.0.0.1:1', client: shared }],
      unhealthyAfterMs: 1000,
      intervalMs: 10,
      logger: silentLogger,
      now: () => now,
    });
    liveness.start();
    await liveness.stop();
    await liveness.probeAll();
    now = 1500;
    await liveness.probeAll();
    expect(liveness.health()).toEqual({ healthy: false, reason: 'shared connection (Redis at 127.0.0.1:1): answers as a slave, not as the primary for 2 s' });
    expect(shared.destroyed).toBe(0);
    shared.serverRole = 'master';
    await liveness.probeAll();
    expect(liveness.health()).toEqual({ healthy: true });
  });

  it('falls back to PING when ROLE is refused (ACL)', async () => {
    const client = fakeClient();
    let pings = 0;
    client.role = () => Promise.reject(Object.assign(new Error('NOPERM'), { name: 'ReplyError' }));
    client.ping = () => (pings++, Promise.resolve('PONG'));
    const liveness = new RedisLiveness({ targets: () => [{ name: 'shared connection', address: 'a', client }], unhealthyAfterMs: 1000, intervalMs: 10, logger: silentLogger });
    await liveness.probeAll();
    await liveness.probeAll();
    expect(pings).toBe(1);
    expect(liveness.health()).toEqual({ healthy: true });
  });

  it('resets a silent connection once when its deadline and the next round both come due after a stall', async () => {
    const client = fakeClient();
    client.answering = false;
    const liveness = new RedisLiveness({ targets: () => [{ name: 'shared connection', address: 'a', client }], unhealthyAfterMs: 1000, intervalMs: 10, logger: silentLogger });
    const first = liveness.probeAll(); // probe sent now, deadline in 10 ms
    let second: Promise<void> | undefined;
    setTimeout(() => (second = liveness.probeAll()), 10); // the next round, due with the deadline
    setImmediate(() => {
      const end = Date.now() + 50;
      while (Date.now() < end);
    });
    await first;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await second;
    expect(client.destroyed).toBe(1);
  });

  it('keeps a connection\'s state under its name while its address changes (a Cluster\'s node list as it reconnects), and forgets a connection no longer watched (real Redis)', async () => {
    const client = testRedis();
    const silent = await silentServer();
    const stuck = new Redis({ host: '127.0.0.1', port: silent.port, maxRetriesPerRequest: null }).on('error', () => undefined);
    let round = 0;
    let watchStuck = true;
    const liveness = new RedisLiveness({
      targets: () => {
        round++;
        const shared = { name: 'shared connection', address: `Redis Cluster 127.0.0.1:${round}`, client: client as unknown as ProbedClient };
        return watchStuck ? [shared, { name: 'links worker connection', address: 'Redis at the silent server', client: stuck as unknown as ProbedClient }] : [shared];
      },
      unhealthyAfterMs: 1000,
      intervalMs: 100,
      logger: silentLogger,
    });
    try {
      await client.ping();
      liveness.start();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(round).toBeGreaterThan(5);
      // Only the silent one: each of the shared connection's addresses is the same connection, answering.
      expect(liveness.health()).toMatchObject({ healthy: false, reason: expect.stringMatching(/^links worker connection \(Redis at the silent server\): has not answered for \d s$/) });

      watchStuck = false;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(liveness.health()).toEqual({ healthy: true });
    } finally {
      await liveness.stop();
      stuck.disconnect();
      client.disconnect();
      await silent.close();
    }
  });

  it('asks with EXISTS of the probe key when given one, and with PING once an ACL refuses EXISTS (a Redis of the test\'s own)', async () => {
    const server = await startPrivateRedis();
    const admin = server.admin();
    const clients: Redis[] = [];
    try {
      await admin.call('ACL', 'SETUSER', 'no-exists', 'on', '>secret', '~*', '+@all', '-exists');
      const calls = async (command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await admin.info('commandstats'))?.[1] ?? 0);
      const rounds = async (client: Redis) => {
        clients.push(client);
        await client.ping();
        const liveness = new RedisLiveness({
          targets: () => [{ name: 'shared connection', address: server.url, client: client as unknown as ProbedClient, probeKey: '{abuse-scan}:verdicts' }],
          unhealthyAfterMs: 1000,
          intervalMs: 100,
          logger: silentLogger,
        });
        const before = { exists: await calls('exists'), ping: await calls('ping') };
        for (let i = 0; i < 3; i++) await liveness.probeAll();
        expect(liveness.health()).toEqual({ healthy: true });
        return { exists: (await calls('exists')) - before.exists, ping: (await calls('ping')) - before.ping };
      };
      expect(await rounds(new Redis(server.port, '127.0.0.1'))).toEqual({ exists: 3, ping: 0 });
      // Refused calls are not counted as calls: the first EXISTS, refused, then PING.
      expect(await rounds(new Redis({ port: server.port, host: '127.0.0.1', username: 'no-exists', password: 'secret' }))).toEqual({ exists: 0, ping: 2 });
    } finally {
      for (const client of clients) client.disconnect();
      admin.disconnect();
      await server.stop();
    }
  });

  describe('after an event-loop stall longer than the deadline, with a healthy Redis (real Redis)', () => {
    /** Blocks the event loop, as a long synchronous job or a GC pause does. */
    const stall = (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end);
    };

    async function watched(client: Redis, probed: ProbedClient = client as unknown as ProbedClient) {
      await client.ping();
      const warnings: string[] = [];
      let closes = 0;
      client.on('close', () => closes++);
      const liveness = new RedisLiveness({
        targets: () => [{ name: 'shared connection', address: 'Redis at 127.0.0.1:6379', client: probed }],
        unhealthyAfterMs: 1000,
        intervalMs: 100,
        logger: { warn: (...args: unknown[]) => void warnings.push(String(args[1])), info: () => undefined },
      });
      return { liveness, warnings, closes: () => closes };
    }

    it('does not reset the connection whose answer waits in its socket when the deadline fires', async () => {
      const client = testRedis();
      try {
        const { liveness, warnings, closes } = await watched(client);
        const round = liveness.probeAll(); // ROLE sent: Redis answers within a millisecond
        setImmediate(() => stall(400)); // the loop is blocked past the deadline before the answer is read
        await round;
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(warnings).toEqual([]);
        expect(closes()).toBe(0);
        expect(client.status).toBe('ready');
        expect(liveness.health()).toEqual({ healthy: true });
      } finally {
        client.disconnect();
      }
    });

    it('does not reset it either when the next round finds the probe still marked unanswered (started watchdog)', async () => {
      const client = testRedis();
      let stalls = 0;
      // The real client, with a stall right after the probe is sent (the first two probes).
      const probed: ProbedClient = {
        get status() {
          return client.status;
        },
        get stream() {
          return client.stream;
        },
        ping: () => client.ping(),
        role: () => {
          const reply = client.role();
          if (stalls++ < 2) setImmediate(() => stall(350));
          return reply;
        },
        disconnect: (reconnect) => client.disconnect(reconnect),
      };
      try {
        const { liveness, warnings, closes } = await watched(client, probed);
        liveness.start();
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await liveness.stop();
        expect(stalls).toBeGreaterThanOrEqual(3);
        expect(warnings).toEqual([]);
        expect(closes()).toBe(0);
        expect(liveness.health()).toEqual({ healthy: true });
      } finally {
        client.disconnect();
      }
    });
  });
});
