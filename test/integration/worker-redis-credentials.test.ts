/** The Redis password never reaches a worker's output: not when it is rotated under a running worker, not when it is wrong at start-up. */
import { afterAll, describe, expect, it } from 'vitest';
import { exitWithin, spawnWorkerProcess, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { startPrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';

const SECRET = 'pw-must-not-be-logged-7f3a';

describe('the Redis password in worker logs', () => {
  const prefix = uniquePrefix('credentials');
  const cleanups: Array<() => Promise<unknown>> = [];

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('the password is rotated under a running worker: its failing reconnects are logged without it', async () => {
    const redis = await startPrivateRedis({ password: SECRET });
    cleanups.push(() => redis.stop());
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: redis.url, ABUSE_SCAN_MODELS: 'off' });
    cleanups.push(() => exitWithin(worker, 0));
    await waitForWorkerStart(worker);

    const admin = redis.admin();
    await admin.config('SET', 'requirepass', 'rotated-password');
    await admin.client('KILL', 'TYPE', 'normal').catch(() => undefined); // the admin's own connection goes too
    admin.disconnect();

    // Every reconnect now fails on AUTH with the old password, and the worker says so.
    const wrongPass = () => worker.output().match(/WRONGPASS/g)?.length ?? 0;
    expect(await waitUntil(async () => wrongPass() >= 10, 20_000)).toBe(true);
    expect(worker.output()).not.toContain(SECRET);
    expect(worker.output()).toContain('"command":{"name":"auth"}');
  }, 40_000);

  it('a wrong password at start-up: the worker logs why and exits 1, without the password', async () => {
    const redis = await startPrivateRedis({ password: 'the-right-one' });
    cleanups.push(() => redis.stop());
    const worker = spawnWorkerProcess(prefix, { REDIS_URL: `redis://:${SECRET}@127.0.0.1:${redis.port}`, ABUSE_SCAN_MODELS: 'off' });

    expect(await exitWithin(worker, 20_000)).toEqual({ code: 1, signal: null });
    expect(worker.output()).toContain('start-up failed');
    expect(worker.output()).toContain('WRONGPASS');
    expect(worker.output()).not.toContain(SECRET);
  }, 40_000);
});
