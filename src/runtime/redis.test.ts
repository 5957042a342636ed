import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { clusterNodes, createRedis, isClusterUrl, isRedisClient, reconnectActionFor, KEEPALIVE_INITIAL_DELAY_MS } from './redis.js';

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
