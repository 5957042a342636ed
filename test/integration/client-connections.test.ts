import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { Redis, type Cluster as ClusterClass, type Redis as RedisClass } from 'ioredis';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createScanClient, type ScanClientOptions } from '../../src/client/scan-client.js';
import { createRedis, isRedisClient, isRedisCluster, redisAddress, type ConnectionInput } from '../../src/runtime/redis.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const job = { contentId: 'connections', surface: 'send', items: ['https://a.example/'] };

/**
 * ioredis as another copy of it loads it (an application with its own ioredis version): a module
 * instance of its own, whose classes ours are not. This process's copy stays in require's cache.
 */
function otherIoredis(): { Redis: typeof RedisClass; Cluster: typeof ClusterClass } {
  const require = createRequire(import.meta.url);
  const isIoredis = (path: string) => path.includes(`${sep}node_modules${sep}ioredis${sep}`);
  const ours = Object.entries(require.cache).filter(([path]) => isIoredis(path));
  for (const [path] of ours) delete require.cache[path];
  try {
    return require('ioredis') as { Redis: typeof RedisClass; Cluster: typeof ClusterClass };
  } finally {
    for (const path of Object.keys(require.cache).filter(isIoredis)) delete require.cache[path];
    Object.assign(require.cache, Object.fromEntries(ours));
  }
}

/** Jobs waiting in the links queue of `prefix` on the Redis of `connection`. */
async function waitingLinks(connection: RedisClass, prefix: string): Promise<number> {
  const links = new Queue('links', { connection, prefix });
  try {
    return await links.getJobCountByTypes('wait');
  } finally {
    await links.close();
  }
}

describe('the producer client connects where it is told', () => {
  const prefix = uniquePrefix('connections');
  const shared = testRedis();
  let appRedis: PrivateRedis;

  beforeAll(async () => {
    appRedis = await startPrivateRedis({ password: 'k3y,Zq9' });
  });

  afterAll(async () => {
    await appRedis?.stop();
    await deletePrefix(shared, prefix);
    await shared.quit();
  });

  it('a client made by another copy of ioredis is used, not taken for options (which would mean 127.0.0.1:6379)', async () => {
    const other = otherIoredis();
    const connection = new other.Redis(appRedis.url, { maxRetriesPerRequest: null });
    const foreignCluster = new other.Cluster([{ host: '127.0.0.1', port: appRedis.port }], { lazyConnect: true });
    const client = createScanClient({ connection, prefix });
    const admin = appRedis.admin();
    try {
      expect(connection).not.toBeInstanceOf(Redis);
      expect(isRedisClient(connection)).toBe(true);
      expect(isRedisCluster(connection)).toBe(false);
      expect(createRedis(connection)).toBe(connection);
      expect(isRedisCluster(foreignCluster)).toBe(true);
      expect(redisAddress(foreignCluster)).toMatch(/^Redis Cluster/);

      expect(await client.enqueue(job)).toMatchObject({ queue: 'links', duplicate: false });
      expect(await waitingLinks(admin, prefix)).toBe(1);
      expect(await waitingLinks(shared, prefix)).toBe(0);
    } finally {
      await client.close();
      // Still the caller's connection: the client leaves it open.
      expect(connection.status).toBe('ready');
      connection.disconnect();
      foreignCluster.disconnect();
      await admin.quit();
    }
  });

  it.each([
    ['its own connection', false],
    ['a connection passed in', true],
  ])('with %s, close() lets an enqueue under way finish, and every call after it fails typed (redis_unavailable)', async (_name, passIn) => {
    const mine = passIn ? testRedis() : undefined;
    const closePrefix = `${prefix}-close-${passIn}`;
    const client = createScanClient({ connection: mine ?? TEST_REDIS_URL, prefix: closePrefix });
    try {
      await client.getVerdict('warm-up');
      const underWay = client.enqueue(job);
      await client.close();
      expect(await underWay).toMatchObject({ queue: 'links', duplicate: false });
      expect(await waitingLinks(shared, closePrefix)).toBe(1);
      const refused = { name: 'ScanError', code: 'redis_unavailable', message: expect.stringMatching(/^the scan client is closed/) };
      await expect(client.enqueue({ ...job, contentId: 'after-close' })).rejects.toMatchObject(refused);
      await expect(client.enqueueBulk([{ job: { ...job, contentId: 'after-close-bulk' } }])).rejects.toMatchObject(refused);
      await expect(client.getVerdict('x')).rejects.toMatchObject(refused);
      await expect(client.waitForVerdict('x', { timeoutMs: 10 })).rejects.toMatchObject(refused);
      expect(await waitingLinks(shared, closePrefix)).toBe(1);
      if (mine) expect(mine.status).toBe('ready');
    } finally {
      await mine?.quit();
      await deletePrefix(shared, closePrefix);
    }
  });

  it("types another ioredis copy's client as a connection by its shape (TypeScript refused the application's own ioredis version)", () => {
    // Private members of its own, as another version's Redis class has to TypeScript.
    class ForeignRedis {
      private readonly secret = 1;
      status = 'ready';
      duplicate(): ForeignRedis {
        return this;
      }
      sendCommand(command: { name: string }): Promise<unknown> {
        return Promise.resolve(command.name.length + this.secret);
      }
      disconnect(reconnect?: boolean): void {
        void reconnect;
      }
    }
    expectTypeOf<ForeignRedis>().toMatchTypeOf<ConnectionInput>();
    expectTypeOf<ForeignRedis>().toMatchTypeOf<NonNullable<ScanClientOptions['connection']>>();
    expect(isRedisClient(new ForeignRedis())).toBe(true);
  });

  it('a single-node URL whose password holds a comma connects to that node', async () => {
    expect(appRedis.url).toContain(':k3y,Zq9@');
    const client = createScanClient({ connection: appRedis.url, prefix: `${prefix}-comma`, commandTimeoutMs: 3000 });
    const admin = appRedis.admin();
    try {
      expect(await client.enqueue(job)).toMatchObject({ queue: 'links', duplicate: false });
      expect(await waitingLinks(admin, `${prefix}-comma`)).toBe(1);
    } finally {
      await client.close();
      await admin.quit();
    }
  });
});
