import { Cluster, Redis, ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { clusterNodes, createRedis, isClusterUrl, isRedisClient, reconnectActionFor, redisUrlProblem, subscriberConnection, unavailabilityOf, CLUSTER_OPTIONS, KEEPALIVE_INITIAL_DELAY_MS } from './redis.js';
import { isRedisUnreachableError, redisUnavailability } from './redis-errors.js';

describe('reconnectActionFor', () => {
  it('reconnects and resends on the replies of a failover (the command had no effect), nothing else', () => {
    expect(reconnectActionFor(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectActionFor(new Error('MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to \'no\'.'))).toBe(2);
    expect(reconnectActionFor(new Error('LOADING Redis is loading the dataset in memory'))).toBe(2);
    expect(reconnectActionFor(new Error("ERR Error running script (call to f_1): @user_script:1: -READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectActionFor(new Error('NOPERM this user has no permissions'))).toBe(false);
    expect(reconnectActionFor(new Error('ERR value is not an integer'))).toBe(false);
  });

  it('are on every connection createRedis makes and on the ones duplicated from it (BullMQ\'s)', () => {
    const redis = createRedis('redis://127.0.0.1:1', {}) as Redis;
    redis.on('error', () => undefined);
    const duplicate = redis.duplicate({ lazyConnect: true });
    try {
      for (const client of [redis, duplicate]) {
        expect(client.options.reconnectOnError?.(new Error('READONLY x'))).toBe(2);
        expect(client.options.keepAlive).toBe(KEEPALIVE_INITIAL_DELAY_MS);
        expect(client.options.connectTimeout).toBeGreaterThan(0);
      }
      // While the node refuses for its role, reconnects are spaced (no reconnect storm on a replica).
      expect(redis.options.retryStrategy?.(1)).toBeGreaterThanOrEqual(1000);
    } finally {
      redis.disconnect();
      duplicate.disconnect();
    }
  });
});

describe('Redis URLs with commas', () => {
  it('a comma in a password leaves the URL one node; nodes listed after the userinfo make a cluster', () => {
    expect(isClusterUrl('redis://:k3y,Zq9@127.0.0.1:6398')).toBe(false);
    expect(isClusterUrl('redis://user:a,b,c@10.0.0.1:6379/0')).toBe(false);
    expect(isClusterUrl('redis://10.0.0.1:6379/0?connectionName=a,b')).toBe(false);
    expect(isClusterUrl('redis://10.0.0.1:6379')).toBe(false);
    expect(isClusterUrl('redis://10.0.0.1:6379,redis://10.0.0.2:6379')).toBe(true);
    expect(isClusterUrl('redis://:k3y,Zq9@10.0.0.1:6379,10.0.0.2:6379')).toBe(true);
    expect(isClusterUrl('redis-cluster://10.0.0.1:6379,10.0.0.2:6379')).toBe(true);
  });

  it('cluster credentials come whole from the first node, commas included', () => {
    expect(clusterNodes('rediss://app:k3y,Zq9@10.0.0.1:6379,redis://10.0.0.2:6380')).toEqual({
      nodes: [{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6380 }],
      options: { username: 'app', password: 'k3y,Zq9', tls: {} },
    });
    expect(clusterNodes('redis-cluster://:k3y,Zq9@10.0.0.1:6379,10.0.0.2').nodes).toEqual([{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }]);
  });

  it('createRedis connects a single-node URL whose password holds a comma to that node', () => {
    const redis = createRedis('redis://:k3y,Zq9@127.0.0.1:6398', { lazyConnect: true });
    try {
      expect(redis).toBeInstanceOf(Redis);
      expect((redis as Redis).options).toMatchObject({ host: '127.0.0.1', port: 6398, password: 'k3y,Zq9' });
    } finally {
      redis.disconnect();
    }
  });

  it('a cluster URL it cannot read is refused without quoting its password', () => {
    const error = (() => {
      try {
        return clusterNodes('redis-cluster://:s3cr,et@10.0.0.1:6379,not a node');
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error).toBeInstanceOf(Error);
    expect(JSON.stringify({ message: (error as Error).message, ...(error as object) })).not.toMatch(/s3cr|et@/);
  });
});

describe('createRedis on a URL it cannot connect to as meant', () => {
  it('throws a TypeError not quoting the URL, for a scheme ioredis would take for a socket path or a database that is no number', () => {
    for (const url of ['tcp://:s3cret@127.0.0.1:6379', 'http://127.0.0.1:6379', 'redis://:s3cret@127.0.0.1:6379?db=abc', 'redis://127.0.0.1:6379?db=1x', '127.0.0.1:6379/2']) {
      expect(() => createRedis(url, { lazyConnect: true }), url).toThrow(TypeError);
      expect(() => createRedis(url, { lazyConnect: true }), url).toThrow(/^Redis URL: .*\(URL not shown: it may hold a password\)$/);
      expect(() => createRedis(url, { lazyConnect: true }), url).not.toThrow(/s3cret/);
    }
    expect(redisUrlProblem('redis://127.0.0.1:6379/2?db=2')).toBeUndefined();
    // Blanks around it, which REDIS_URL may carry, are not part of the host.
    const padded = createRedis(' redis://127.0.0.1:6398/2 ', { lazyConnect: true }) as Redis;
    expect(padded.options).toMatchObject({ host: '127.0.0.1', port: 6398, db: 2 });
    padded.disconnect();
  });

  it('a connection and its duplicates (BullMQ\'s) keep their database', () => {
    const redis = createRedis('redis://127.0.0.1:6398/4', { lazyConnect: true }) as Redis;
    const duplicate = redis.duplicate();
    try {
      expect(redis.options.db).toBe(4);
      expect(duplicate.options.db).toBe(4);
    } finally {
      redis.disconnect();
      duplicate.disconnect();
    }
  });
});

describe('isRedisClient', () => {
  it('tells live clients from options objects', () => {
    const redis = new Redis({ lazyConnect: true });
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(isRedisClient(redis)).toBe(true);
      expect(isRedisClient(cluster)).toBe(true);
      for (const options of [undefined, {}, { host: '10.0.0.5', port: 6380 }, 'redis://10.0.0.5']) expect(isRedisClient(options)).toBe(false);
    } finally {
      redis.disconnect();
      cluster.disconnect();
    }
  });
});

describe('isRedisUnreachableError', () => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });
  const reply = (message: string) => new ReplyError(message) as Error;

  it('is ioredis giving up on Redis, on a single Redis or a Cluster (errors it exports no class of)', () => {
    expect(isRedisUnreachableError(named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'))).toBe(true);
    expect(isRedisUnreachableError(named('ClusterAllFailedError', 'Failed to refresh slots cache.'))).toBe(true);
    expect(isRedisUnreachableError(new Error('Connection is closed.'))).toBe(true);
    expect(isRedisUnreachableError(new Error('Command timed out'))).toBe(true);
  });

  it('is a Cluster giving up on a command mid-failover, whatever the last error (ioredis builds a plain Error)', () => {
    for (const last of ['ReplyError: MOVED 6486 127.0.0.1:34940', 'Error: Connection is closed.', 'ReplyError: CLUSTERDOWN The cluster is down', 'ReplyError: TRYAGAIN Multiple keys request during rehashing of slot']) {
      const error = new Error(`Too many Cluster redirections. Last error: ${last}`);
      expect(isRedisUnreachableError(error)).toBe(true);
      expect(redisUnavailability(error)).toBe('unreachable');
    }
    // The refusal quoted after another text.
    expect(isRedisUnreachableError(new Error('Last error: ReplyError: CLUSTERDOWN The cluster is down'))).toBe(true);
  });

  it('is a reply of a Redis that cannot serve now: refused', () => {
    for (const message of [
      'OOM command not allowed when used memory > \'maxmemory\'.', 'LOADING Redis is loading the dataset in memory', "READONLY You can't write against a read only replica.",
      'MASTERDOWN Link with MASTER is down', 'BUSY Redis is busy running a script.', 'NOREPLICAS Not enough good replicas to write.',
      'CLUSTERDOWN The cluster is down', 'TRYAGAIN Multiple keys request during rehashing of slot', 'MOVED 6486 127.0.0.1:34940', 'ASK 6486 127.0.0.1:34940',
    ]) {
      expect(redisUnavailability(reply(message))).toBe('refused');
    }
  });

  it('is not a bad command, a script error, a missing group, or anything not an Error', () => {
    for (const error of [
      reply('ERR wrong number of arguments'), reply('WRONGTYPE Operation against a key holding the wrong kind of value'), reply('NOGROUP No such key'),
      reply('NOPERM this user has no permissions'), reply('BUSYGROUP Consumer Group name already exists'), reply('NOSCRIPT No matching script.'),
      new Error('Connection is closed'), new Error('ERR Error running script: CLUSTERDOWN'), new Error('Cluster is ended.'), new TypeError('x is not a function'),
      'Connection is closed.', undefined, null, { name: 'MaxRetriesPerRequestError', message: 'Connection is closed.' },
    ]) {
      expect(isRedisUnreachableError(error)).toBe(false);
    }
  });

  it('unavailabilityOf(...).from types what it is, keeps a redis_unavailable, and leaves the rest', () => {
    const redis = createRedis('redis://127.0.0.1:6398', { lazyConnect: true });
    try {
      const unavailability = unavailabilityOf(redis);
      expect(unavailability.from(new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 1 127.0.0.1:2'))).toMatchObject({
        code: 'redis_unavailable', message: 'Redis at 127.0.0.1:6398 could not be reached: Too many Cluster redirections. Last error: ReplyError: MOVED 1 127.0.0.1:2',
      });
      expect(unavailability.from(reply('OOM command not allowed'))).toMatchObject({ code: 'redis_unavailable', message: 'Redis at 127.0.0.1:6398 refused the command: OOM command not allowed' });
      expect(unavailability.from(named('MaxRetriesPerRequestError', 'Reached the max retries'))?.message).toBe('Redis at 127.0.0.1:6398 could not be reached');
      const typed = new ScanError('redis_unavailable', 'the scan client is closed');
      expect(unavailability.from(typed)).toBe(typed);
      expect(unavailability.from(new ScanError('invalid_verdict', 'x'))).toBeUndefined();
      expect(unavailability.from(reply('ERR syntax error'))).toBeUndefined();
    } finally {
      redis.disconnect();
    }
  });
});

describe('createRedis on a Cluster URL', () => {
  it('rides out a failover longer than ioredis\' defaults: MOVED followed after a pause, more redirections', () => {
    const cluster = createRedis('redis-cluster://127.0.0.1:1,127.0.0.1:2', { lazyConnect: true }) as Cluster;
    try {
      expect(cluster.options).toMatchObject(CLUSTER_OPTIONS);
      expect(cluster.options.retryDelayOnMoved).toBeGreaterThan(0);
      // A consumer's duplicate (src/verdicts/verdict-consumer.ts) keeps them.
      const duplicate = cluster.duplicate([], { redisOptions: { ...cluster.options.redisOptions, maxRetriesPerRequest: 1 } });
      expect(duplicate.options).toMatchObject(CLUSTER_OPTIONS);
      duplicate.disconnect();
    } finally {
      cluster.disconnect();
    }
  });
});

describe('subscriberConnection', () => {
  it('a plain Redis subscriber does not resubscribe by itself (its owner does, catching the failure)', () => {
    const connection = createRedis('redis://127.0.0.1:6379', { lazyConnect: true });
    const subscriber = subscriberConnection(connection) as unknown as { options: { autoResubscribe: boolean }; disconnect(): void };
    expect(subscriber.options.autoResubscribe).toBe(false);
    subscriber.disconnect();
    connection.disconnect();
  });
});
