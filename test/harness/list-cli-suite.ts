import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { ListStore } from '../../src/lists/list-store.js';
import { suiteRedis } from './redis.js';

/**
 * What a blocklist CLI suite works with: its own key prefix (and the CLI environment that selects
 * it), a ListStore on the test Redis to check what the commands wrote, and a directory for list
 * files; keys and directory are removed after the suite.
 */
export function listCliSuite(label: string): { prefix: string; env: { ABUSE_SCAN_PREFIX: string }; redis: Redis; store: ListStore; dir: string } {
  const { prefix, redis } = suiteRedis(label);
  const dir = mkdtempSync(join(tmpdir(), `abuse-scan-${label}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return { prefix, env: { ABUSE_SCAN_PREFIX: prefix }, redis, store: new ListStore(redis, { prefix }), dir };
}
