/**
 * What every `abuse-scan hashset` command shares: the store on REDIS_URL under ABUSE_SCAN_PREFIX,
 * closed afterwards, and errors printed as `error: <code>: <message>` with exit code 1.
 */
import { userInfo } from 'node:os';
import { loadConfig } from '../config/config.js';
import { isScanError } from '../errors.js';
import { HashSetStore } from '../hashsets/hash-set-store.js';
import { createRedis } from '../runtime/redis.js';

export async function withHashSetStore(run: (store: HashSetStore) => Promise<void>): Promise<void> {
  const config = loadConfig(process.env);
  const redis = createRedis(config.redisUrl);
  try {
    await run(new HashSetStore(redis, { prefix: config.prefix }));
  } catch (error) {
    reportError(error);
  } finally {
    await redis.quit().catch(() => undefined);
  }
}

/** Prints an error for an operator (stable code first) and sets exit code 1. */
export function reportError(error: unknown): void {
  const text = isScanError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${text}\n`);
  process.exitCode = 1;
}

/** Parses an integer flag, failing with a message naming it. */
export function integerFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} needs a non-negative integer, got ${JSON.stringify(value)}`);
  return parsed;
}

/** Who is running the command, recorded as `addedBy`. */
export function currentUser(): string {
  try {
    return process.env.USER ?? userInfo().username;
  } catch {
    return 'unknown';
  }
}
