/**
 * The hash-set signal type, wired to where the sets live: a worker with Redis keeps replicas of
 * every set (loaded at start, changes applied as they are announced); the embedded scan without
 * Redis loads `<name>.<algorithm>.csv` files from a directory once.
 */
import type { RedisClient } from '../../runtime/redis.js';
import type { Registry } from 'prom-client';
import { MemoryFloodGuard, ReadOnlyFloodGuard, RedisFloodGuard } from '../../hashsets/flood-guard.js';
import { loadHashSetDirectory } from '../../hashsets/hash-set-directory.js';
import { HashSetMetrics } from '../../hashsets/hash-set-metrics.js';
import { HashSetReplicas } from '../../hashsets/hash-set-replicas.js';
import { HashSetStore } from '../../hashsets/hash-set-store.js';
import type { Logger } from '../../runtime/logger.js';
import { RepeatedErrorLog, REPEAT_WINDOW_MS } from '../../runtime/repeated-log.js';
import { HashSetMatchSignalType } from './hashset-match-signal.js';
import { subscriberConnection } from '../../runtime/redis.js';

export { HashSetMatchSignalType, type HashSetMatchOptions, type HashSetSource } from './hashset-match-signal.js';

export interface HashSetMatchingOptions {
  logger: Logger;
  /** Fleet key prefix the sets live under. */
  prefix: string;
  /** Redis holding the sets; the replicas subscribe on a duplicate of it. */
  connection?: RedisClient;
  /** Without `connection`: directory of CSV hash-set files (ABUSE_SCAN_HASHSETS_DIR). */
  hashSetsDir?: string;
  /** Where the match and quarantine metrics go. Default: not exported. */
  metricsRegistry?: Registry;
  /** Version check interval of the replicas (ms). Default 5000. */
  checkIntervalMs?: number;
  /** With `connection`: match as a worker does but write nothing (ReadOnlyFloodGuard), for `scan --fleet`. */
  readOnly?: boolean;
}

export interface HashSetMatching {
  signalType: HashSetMatchSignalType;
  /** Released with the pipeline (subscriptions, timers). */
  resources: Array<{ close(): Promise<void> | void }>;
}

/** The signal type for this process, or undefined when there is nowhere to read sets from. */
export async function openHashSetMatching(options: HashSetMatchingOptions): Promise<HashSetMatching | undefined> {
  const metrics = options.metricsRegistry ? new HashSetMetrics(options.metricsRegistry) : undefined;
  if (options.connection) {
    const store = new HashSetStore(options.connection, { prefix: options.prefix });
    const replicas = new HashSetReplicas({
      store,
      subscriber: subscriberConnection(options.connection),
      logger: options.logger,
      ...(options.checkIntervalMs !== undefined && { checkIntervalMs: options.checkIntervalMs }),
      ...(metrics && { metrics }),
    });
    try {
      await replicas.start();
    } catch (error) {
      await replicas.close(); // its subscriber would keep the process up
      throw error;
    }
    // A flood counter Redis refuses (a key of another type) lets the match stand: said once a minute.
    const guardErrors = new RepeatedErrorLog(options.logger, REPEAT_WINDOW_MS, 'warn');
    const onGuardError = (set: string, error: Error) =>
      guardErrors.error(`${set}\u0000${error.message}`, { set, err: error }, 'flood guard failed: the match stands, its quarantine unchecked');
    const floodGuard = options.readOnly
      ? new ReadOnlyFloodGuard(options.connection, options.prefix, onGuardError)
      : new RedisFloodGuard(options.connection, options.prefix, metrics, Date.now, onGuardError);
    return { signalType: new HashSetMatchSignalType({ source: replicas, floodGuard }), resources: [replicas] };
  }
  if (options.hashSetsDir) {
    const { sets } = await loadHashSetDirectory(options.hashSetsDir, options.logger);
    const floodGuard = new MemoryFloodGuard(metrics);
    return { signalType: new HashSetMatchSignalType({ source: { sets: () => sets }, floodGuard }), resources: [] };
  }
  return undefined;
}
