/**
 * What every `abuse-scan hashset` command shares: the store on REDIS_URL under ABUSE_SCAN_PREFIX,
 * on a fail-fast connection closed afterwards (errors reach main.ts's handler: exit code 1).
 */
import { HashSetStore } from '../hashsets/hash-set-store.js';
import { withRedis } from './cli-redis.js';

export function withHashSetStore(run: (store: HashSetStore) => Promise<void>): Promise<void> {
  return withRedis((redis, config) => run(new HashSetStore(redis, { prefix: config.prefix })));
}
