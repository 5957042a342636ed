/**
 * runScript sends the script's digest, and its text only when Redis does not know it (after a
 * restart or SCRIPT FLUSH): both ways run the same command, however many arguments it carries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from '../../src/runtime/redis-script.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';

const ECHO = "return { KEYS[1], #KEYS, #ARGV, ARGV[#ARGV] }";

describe('runScript', () => {
  let own: PrivateRedis;

  beforeAll(async () => {
    own = await startPrivateRedis();
  });

  afterAll(async () => {
    await own?.stop();
  });

  it('runs by digest, falls back to the text after SCRIPT FLUSH, and takes 200,000 arguments', async () => {
    const redis = own.admin();
    try {
      const args = Array.from({ length: 200_000 }, (_, i) => String(i));
      const expected = ['{t}:k', 1, 200_000, '199999'];
      expect(await runScript(redis, ECHO, ['{t}:k'], args)).toEqual(expected); // EVALSHA fails, EVAL caches
      expect(await runScript(redis, ECHO, ['{t}:k'], args)).toEqual(expected); // by digest
      await redis.script('FLUSH');
      expect(await runScript(redis, ECHO, ['{t}:k'], args)).toEqual(expected);
    } finally {
      await redis.quit();
    }
  }, 30_000);
});
