/**
 * Every Redis hash set, kept current in a worker. Changes arrive on pub/sub ("<name> <version>")
 * and are applied from the changelog within milliseconds; a periodic version check catches any
 * message missed (a reconnect, a full subscriber buffer). A replica that fell behind the changelog,
 * or whose set outgrew its index, is reloaded off to the side and swapped in, so matching never waits.
 * A set deleted ("<name> deleted", or gone from the names at a check) is dropped by the same sync.
 * A set deleted and created again (another incarnation: HashSetIncarnation) is dropped too, before
 * the new one is loaded: the deleted entries must not match meanwhile, and the new set's entry
 * numbers (which restart at 0) name other entries than the copy's. Until loaded it matches nothing.
 */
import { isScanError } from '../errors.js';
import { resubscribe, type RedisClient } from '../runtime/redis.js';
import type { Logger } from '../runtime/logger.js';
import type { MatchableHashSet } from './hash-set.js';
import type { HashSetMetrics } from './hash-set-metrics.js';
import { DECISIONS } from '../jobs/verdict-schema.js';
import type { HashSetStore } from './hash-set-store.js';
import { ReplicatedHashSet } from './replicated-hash-set.js';

export interface HashSetReplicasOptions {
  store: HashSetStore;
  /** A connection of its own for SUBSCRIBE (a subscribed client can send nothing else); closed by `close()`. */
  subscriber: RedisClient;
  logger: Logger;
  /** How often versions are compared with Redis, in case a change message was missed (and the quarantined gauge read). Default 5000 ms. */
  checkIntervalMs?: number;
  metrics?: HashSetMetrics;
}

const DEFAULT_CHECK_INTERVAL_MS = 5000;

export class HashSetReplicas {
  private readonly replicas = new Map<string, ReplicatedHashSet>();
  /** The sets Redis named at the last version check: those without a copy are unavailable(). */
  private known: readonly string[] = [];
  /** One sync at a time per set; a request arriving meanwhile runs once more after it. */
  private readonly syncing = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Set by the subscriber's first error of an outage, cleared when it is back: one warning per outage. */
  private subscriberLost = false;

  constructor(private readonly options: HashSetReplicasOptions) {}

  /** Loads every set and subscribes to changes. */
  async start(): Promise<void> {
    const { subscriber, store } = this.options;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== store.channel) return;
      // Synced even when the version announced is the one held: after a failover that lost the
      // last writes, the same number can name another version (see versioned-changelog.ts), and
      // a creation may be of a set deleted and created again under a loaded name (at a version
      // after the deleted set's, or back at 0 after a delete by an earlier release);
      // "<name> deleted" finds no set and drops it.
      const name = message.slice(0, message.lastIndexOf(' '));
      if (name) void this.sync(name);
    });
    // Without a listener ioredis prints every failed reconnect raw on stderr.
    subscriber.on('error', (error: unknown) => {
      if (this.subscriberLost || this.closed) return;
      this.subscriberLost = true;
      this.options.logger.warn({ err: error }, 'hash set subscriber lost Redis: matching goes on with the sets loaded; changes arrive once it is back');
    });
    // After a reconnect the subscriber subscribes again (subscriberConnection: ioredis does not),
    // then anything announced while away is caught up.
    subscriber.on('ready', () => {
      if (this.subscriberLost) this.options.logger.info('hash set subscriber reconnected: catching up');
      this.subscriberLost = false;
      void resubscribe(subscriber, store.channel).then(() => this.check());
    });
    await subscriber.subscribe(store.channel);
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  /** The sets loaded now. */
  sets(): MatchableHashSet[] {
    return [...this.replicas.values()];
  }

  /** Sets Redis named at the last check that no copy is held of (their load failed, or is under way). */
  unavailable(): string[] {
    return this.known.filter((name) => !this.replicas.has(name));
  }

  get(name: string): ReplicatedHashSet | undefined {
    return this.replicas.get(name);
  }

  /** Compares every set's version with Redis and syncs the ones that differ (and new sets); drops deleted sets. */
  async check(): Promise<void> {
    if (this.closed) return;
    try {
      const names = await this.options.store.names();
      this.known = names;
      // Sets gone from the names are synced too, which drops them: through their sync, as a sync
      // under way may be loading a set created again after the names were read.
      const gone = [...this.replicas.keys()].filter((name) => !names.includes(name));
      const [identities] = await Promise.all([Promise.all(names.map((name) => this.options.store.identity(name))), this.readQuarantined(names)]);
      await Promise.all([
        ...gone.map((name) => this.sync(name)),
        ...names.map((name, i) => {
          const identity = identities[i];
          const replica = this.replicas.get(name);
          // Deleted since the names were read: dropped if held.
          if (identity === undefined) return replica && this.sync(name);
          // Creation time and stamp too: a set created again, or a version written again after a
          // failover, may carry the loaded version number.
          return replica?.isAt(identity) ? undefined : this.sync(name);
        }),
      ]);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'hash set version check failed; retrying at the next interval');
    }
  }

  /** Brings one set up to date: changelog records when possible, a full reload otherwise. */
  sync(name: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const running = this.syncing.get(name);
    if (running) {
      this.again.add(name);
      return running;
    }
    const run = this.syncOnce(name)
      .catch((error: unknown) => {
        if (!this.closed) this.options.logger.warn({ err: error, hashSet: name }, 'hash set sync failed; the version check retries');
      })
      .finally(() => {
        this.syncing.delete(name);
        if (this.again.delete(name) && !this.closed) void this.sync(name);
      });
    this.syncing.set(name, run);
    return run;
  }

  /**
   * Stops the checks and the subscription. Syncs under way are not awaited (while Redis cannot be
   * reached they would hold close forever); once closed they swap nothing in.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    // Not quit(): a QUIT waits for Redis, forever while it cannot be reached.
    this.options.subscriber.disconnect();
  }

  /**
   * A release (`hashset release`) changes no version and announces nothing, so the quarantined
   * gauge is read here, with the versions, rather than on a sync; matching never waits for it.
   */
  private async readQuarantined(names: readonly string[]): Promise<void> {
    const { metrics, store } = this.options;
    if (!metrics) return;
    // Set as each answer arrives: a flood-guard update on the same connection after it is newer.
    await Promise.all(names.map(async (name) => metrics.quarantined.set({ set: name }, await store.quarantinedCount(name))));
  }

  private async syncOnce(name: string): Promise<void> {
    const replica = this.replicas.get(name);
    // Another incarnation (or none): the copy goes now, not once the new one has loaded (seconds
    // for millions of entries), during which it would go on matching the deleted entries.
    if (replica && !(await this.droppedAsAnotherIncarnation(name, replica)) && !replica.outgrown) {
      const since = await this.options.store.changesSince(name, replica.versionNumber, replica.held);
      if (this.closed) return;
      if (!since.gap) {
        replica.apply(since.changes, since.stamp);
        this.options.metrics?.entries.set({ set: name }, replica.size);
        // Outgrown by these very changes (a large import into a set loaded small): reload now, as
        // no later change may come to trigger it, and a linear scan of that size stays slow.
        if (!replica.outgrown) return;
      } else {
        // A gap: after trimmed records or a failover the copy goes on matching while the set
        // reloads; not when the set was created again since the check above.
        await this.droppedAsAnotherIncarnation(name, replica);
      }
    }
    await this.load(name);
  }

  /**
   * Drops the copy held when the set in Redis is no longer its incarnation (deleted, or deleted and
   * created again); whether it did (or the replicas were closed meanwhile).
   */
  private async droppedAsAnotherIncarnation(name: string, replica: ReplicatedHashSet): Promise<boolean> {
    const identity = await this.options.store.identity(name);
    if (this.closed) return true;
    if (identity !== undefined && replica.isIncarnationOf(identity)) return false;
    this.drop(name, identity === undefined ? 'deleted' : 'created again');
    return true;
  }

  private async load(name: string): Promise<void> {
    if (this.closed) return;
    const loaded = await ReplicatedHashSet.load(this.options.store, name).catch((error: unknown) => {
      if (isScanError(error) && error.code === 'hashset_not_found') return undefined;
      throw error;
    });
    if (this.closed) return;
    if (loaded === undefined) return this.drop(name, 'deleted');
    const { set, stats } = loaded;
    this.replicas.set(name, set);
    this.options.metrics?.entries.set({ set: name }, set.size);
    // The counter exists from the load on, at 0: increase() needs a sample before the first quarantine.
    this.options.metrics?.quarantines.inc({ set: name }, 0);
    this.options.logger.info({ hashSet: name, version: set.version, entries: stats.entries, ms: Math.round(stats.ms) }, 'hash set loaded');
  }

  /**
   * A set that no longer exists, or a copy of an incarnation that no longer does: not matched, nor
   * named in verdicts' versions, nor in the per-set gauges (until its new incarnation is loaded).
   */
  private drop(name: string, why: 'deleted' | 'created again'): void {
    // A deleted set is no longer one to hold (unavailable() would name it until the next check).
    if (why === 'deleted') this.known = this.known.filter((known) => known !== name);
    const dropped = this.replicas.get(name);
    if (dropped === undefined) return;
    this.replicas.delete(name);
    const metrics = this.options.metrics;
    metrics?.entries.remove({ set: name });
    metrics?.quarantined.remove({ set: name });
    if (metrics && why === 'deleted') {
      // Its counters go too (a set made again keeps counting on): sets made and deleted per
      // incident left a series each in every worker's /metrics until the worker restarted.
      metrics.quarantines.remove({ set: name });
      for (const suggests of DECISIONS) metrics.matches.remove({ set: name, suggests });
    }
    const message = why === 'deleted' ? 'hash set deleted: dropped' : 'hash set created again: the deleted one dropped, the new one loading';
    this.options.logger.info({ hashSet: name, version: dropped.version }, message);
  }
}
