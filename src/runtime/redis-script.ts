import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.js';

/** SHA-1 of each script text, computed once per process. */
const shas = new Map<string, string>();

/**
 * Runs a Lua script the one way the project does: EVALSHA, and EVAL (which caches it) only when
 * this Redis does not have it yet, after a restart or a SCRIPT FLUSH, so each call sends the
 * 40-byte digest instead of the script text.
 */
export async function runScript(redis: RedisClient, script: string, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<unknown> {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
  // One array, not spread into the call: 120,000 arguments (a 30,000-entry batch) overflowed the
  // call stack.
  const command = [sha, keys.length, ...keys, ...args];
  try {
    return await redis.call('evalsha', command);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    command[0] = script; // the same command, with the script text in place of its digest
    return redis.call('eval', command);
  }
}
