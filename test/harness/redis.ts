import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { unlinkKeysByPrefix, type RedisClient } from '../../src/runtime/redis.js';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix no other test uses, still a Cluster hash tag like the production default. */
export function uniquePrefix(label: string): string {
  return `{abuse-scan-test-${label}-${randomUUID().slice(0, 8)}}`;
}

export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}

/** Deletes every key under a test prefix (on every primary of a cluster). */
export function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  return unlinkKeysByPrefix(redis, prefix);
}

/** Deletes every key under a test prefix through a short-lived connection (for afterAll hooks). */
export async function removeTestKeys(prefix: string): Promise<void> {
  const redis = testRedis();
  try {
    await deletePrefix(redis, prefix);
  } finally {
    await redis.quit();
  }
}

/** A port nothing listens on: Redis is down. */
export async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server that accepts connections and never answers: a Redis that hangs or a half-open partition. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * For one describe block: a fresh key prefix and a connection, whose keys are removed and which is
 * closed after the block's tests (call it inside the describe).
 */
export function suiteRedis(label: string): { prefix: string; redis: Redis } {
  const prefix = uniquePrefix(label);
  const redis = testRedis();
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });
  return { prefix, redis };
}
