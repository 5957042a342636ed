import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis, reconnectActionFor, KEEPALIVE_INITIAL_DELAY_MS } from './redis.js';

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
