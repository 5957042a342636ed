import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { runScript } from '../../src/runtime/redis-script.js';
import { startPrivateRedis } from '../harness/private-redis.js';
import { suiteRedis } from '../harness/redis.js';

describe('runScript (real Redis)', () => {
  const { prefix, redis } = suiteRedis('redis-script');

  it('loads a script Redis has not seen by EVAL, then runs it by its digest', async () => {
    // A comment no other run has used makes the script new to this Redis.
    const script = `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const digest = createHash('sha1').update(script).digest('hex');
    const key = `${prefix}:counter`;
    expect(await redis.script('EXISTS', digest)).toEqual([0]);
    expect(await runScript(redis, script, [key], [2])).toBe(2);
    expect(await redis.script('EXISTS', digest)).toEqual([1]);
    expect(await runScript(redis, script, [key], [3])).toBe(5);
  });

  it('passes on errors other than a missing script', async () => {
    await expect(runScript(redis, "return redis.error_reply('list_gone')", [], [])).rejects.toThrow('list_gone');
  });

  it('falls back to the text after SCRIPT FLUSH (a Redis of its own), and takes 200,000 arguments', async () => {
    const own = await startPrivateRedis();
    const flushed = own.admin();
    try {
      const echo = 'return { KEYS[1], #KEYS, #ARGV, ARGV[#ARGV] }';
      const args = Array.from({ length: 200_000 }, (_, i) => String(i));
      const expected = ['{t}:k', 1, 200_000, '199999'];
      expect(await runScript(flushed, echo, ['{t}:k'], args)).toEqual(expected);
      await flushed.script('FLUSH');
      expect(await runScript(flushed, echo, ['{t}:k'], args)).toEqual(expected);
    } finally {
      await flushed.quit();
      await own.stop();
    }
  }, 30_000);
});
