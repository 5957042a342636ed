import type { Redis } from 'ioredis';
import type { Logger } from '../runtime/logger.js';
import { sameVersion, type HeldIncarnation } from '../runtime/versioned-changelog.js';
import { ListMatcher, type CompiledList } from './list-matcher.js';
import { compactList, needsCompaction, patchList } from './list-patch.js';
import type { ListStore } from './list-store.js';
import { resubscribe, subscriberConnection } from '../runtime/redis.js';

/**
 * A worker's in-memory copy of every list, kept current: a pub/sub message on each change
 * triggers a sync of that list, and a periodic version check catches messages lost while the
 * subscriber was disconnected. A sync applies the changelog records since the loaded version
 * (one round trip, a patched snapshot: see list-patch.ts) and falls back to a full load when the
 * changelog does not reach back that far, the list was replaced or made again; a list deleted
 * (`<name> deleted`, ListStore.delete) is dropped, as is one the check finds gone. A full load builds
 * the list beside the old one (chunked, yielding to the event loop), which goes on matching
 * meanwhile, unless the list was deleted and made again (another creation time): the deleted list
 * is dropped before the new one loads, and the name matches nothing until then. Either way a new matcher is
 * swapped in at once, so a matcher holds one version of each list (the link-blocklist signal type
 * keeps a job on the matcher its first item met).
 *
 * Lists load independently: one that cannot be read (an entry field no release writes, a key of
 * the wrong type) is logged with its name and retried at the next message or check, and neither
 * stops the others loading nor, at start, the worker starting. A list held whose reload fails
 * keeps matching with the copy held. A list Redis names that no copy is held of (its first load
 * failed or is under way, or it was made again and the new one is not loaded yet) is named by
 * `unavailable()`, and the link-blocklist signal type does not let a link it might have decided
 * through as matching nothing (`list_unavailable`).
 */

export interface ListReplicaOptions {
  store: ListStore;
  /** How often every list's version is compared with Redis, in case a message was missed. Default 30000 ms. */
  checkIntervalMs?: number;
  logger?: Logger;
}

const DEFAULT_CHECK_INTERVAL_MS = 30_000;

export class ListReplica {
  private lists = new Map<string, CompiledList>();
  /**
   * Creation time and version stamp of each loaded list (see ListIdentity): a list made again, or a
   * version written again after a failover, may carry the loaded version number.
   */
  private held = new Map<string, HeldIncarnation>();
  /**
   * The lists Redis names (at the last check, or since, at a reload that found the list): those
   * without a copy held are unavailable().
   */
  private readonly known = new Set<string>();
  private matcher = new ListMatcher();
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  /**
   * Reloads of one list run one at a time, in order, so two messages never race to swap. Lists do
   * not wait for each other: a large list that keeps changing (and so keeps loading again) must
   * not hold back another list's change.
   */
  private readonly queues = new Map<string, Promise<void>>();
  /**
   * Per list, the reload queued behind the one running and not started yet: a request arriving
   * meanwhile joins it (it reads the list's version when it starts, so it sees that change too),
   * so a list whose load keeps failing while changes arrive queues at most one more load.
   */
  private readonly pending = new Map<string, Promise<void>>();
  private closed = false;
  /** Set by the subscriber's first error of an outage, cleared when it is back: one warning per outage. */
  private subscriberLost = false;

  private constructor(private readonly options: ListReplicaOptions) {}

  /**
   * Loads every list, subscribes to changes and starts the periodic check. A list that fails to
   * load is logged and left unavailable(); only a failure to read the names (Redis) fails the start.
   */
  static async start(options: ListReplicaOptions): Promise<ListReplica> {
    const replica = new ListReplica(options);
    try {
      await replica.subscribe();
      await replica.refresh();
    } catch (error) {
      await replica.close();
      throw error;
    }
    const interval = options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    replica.timer = setInterval(() => void replica.refresh().catch((error: unknown) => replica.warn(error, 'list version check failed')), interval);
    replica.timer.unref();
    return replica;
  }

  /** The matcher of the lists as last loaded; swapped whole on every reload. */
  current(): ListMatcher {
    return this.matcher;
  }

  /**
   * Lists Redis names that no copy is held of: their load failed (logged; retried at the next
   * message or check) or is under way, or the list was made again and the new one is not loaded yet.
   */
  unavailable(): string[] {
    return [...this.known].filter((name) => !this.lists.has(name)).sort();
  }

  /**
   * Compares every list's version with Redis and reloads those that changed; drops deleted lists.
   * Each list on its own: one that fails is logged with its name (and, held, goes on matching as
   * held; not held, is unavailable()) and the others load. Rejects only when the names cannot be read.
   */
  async refresh(): Promise<void> {
    const names = await this.options.store.names();
    if (this.closed) return;
    // Known from here on, before the reloads below read them: one whose load fails is unavailable.
    for (const name of names) this.known.add(name);
    // Lists gone from the names are checked through their own queue too (a reload that runs
    // meanwhile may have loaded a list made after the names were read), and so are lists known
    // but not named (their reload forgets them when they no longer exist).
    const others = new Set([...this.lists.keys(), ...this.known].filter((name) => !names.includes(name)));
    await Promise.allSettled([...names, ...others].map((name) => this.reload(name)));
  }

  /**
   * Brings one list up to date when its version differs from the loaded one (changelog, or a full
   * load). A failure is logged here, with the list's name, and rejects the promise returned.
   */
  reload(name: string): Promise<void> {
    const waiting = this.pending.get(name);
    if (waiting !== undefined) return waiting;
    const run = (this.queues.get(name) ?? Promise.resolve()).then(() => {
      if (this.pending.get(name) === run) this.pending.delete(name);
      return this.closed ? undefined : this.reloadIfChanged(name);
    });
    this.pending.set(name, run);
    const settled = run.catch((error: unknown) => this.reloadFailed(name, error));
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return run;
  }

  /**
   * Stops the checks and the subscription. Reloads under way are not awaited (while Redis cannot
   * be reached they would hold close forever); they swap nothing once closed.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.subscriber) {
      this.subscriber.disconnect();
      this.subscriber = undefined;
    }
  }

  private async reloadIfChanged(name: string): Promise<void> {
    const { store, logger } = this.options;
    const identity = await store.identity(name);
    if (identity === undefined) {
      // Deleted (`<name> deleted`, or gone from the names at a check): no longer matched nor named
      // in verdicts, nor a list to hold (unavailable()).
      this.known.delete(name);
      if (this.lists.has(name)) logger?.info({ list: name, version: this.lists.get(name)!.version }, 'list deleted: dropped');
      return this.swap(name, undefined);
    }
    if (!this.closed) this.known.add(name);
    const loaded = this.lists.get(name);
    const held = this.held.get(name);
    if (loaded !== undefined && held !== undefined) {
      if (sameVersion({ version: Number(loaded.version), ...held }, identity)) return;
      if (held.createdAt !== identity.createdAt) {
        // Deleted and made again: the deleted list's entries must not match while the new one
        // loads (seconds for a large one), so it goes now; the new one matches once loaded.
        logger?.info({ list: name, version: loaded.version }, 'list made again: the deleted one dropped, the new one loading');
        this.swap(name, undefined);
      } else if (Number(loaded.version) < identity.version && (await this.applyChanges(name, loaded, held))) return;
    }
    const started = performance.now();
    const full = await store.loadWithIdentity(name);
    if (this.closed) return;
    if (full === undefined) this.known.delete(name); // deleted meanwhile
    this.swap(name, full?.list, full?.identity);
    logger?.info({ list: name, version: full?.list.version, size: full?.list.size, ms: Math.round(performance.now() - started) }, 'list loaded');
  }

  /** Applies the changelog since `loaded`; false when it does not reach back (load the list whole). */
  private async applyChanges(name: string, loaded: CompiledList, held: HeldIncarnation): Promise<boolean> {
    const since = await this.options.store.changesSince(name, Number(loaded.version), held);
    if (since.gap) return false;
    if (this.closed) return true;
    const patched = patchList(loaded, since.changes, String(since.version));
    const patchedHeld = { createdAt: held.createdAt, stamp: since.stamp };
    this.swap(name, patched, patchedHeld);
    this.options.logger?.debug({ list: name, version: patched.version, changes: since.changes.length }, 'list changes applied');
    if (needsCompaction(patched)) {
      // Same version, same entries, plain maps: swapped in when done (later changes wait in this list's queue).
      const started = performance.now();
      const compacted = await compactList(patched);
      if (this.closed) return true;
      this.swap(name, compacted, patchedHeld);
      this.options.logger?.info({ list: name, version: compacted.version, size: compacted.size, ms: Math.round(performance.now() - started) }, 'list compacted');
    }
    return true;
  }

  private swap(name: string, list: CompiledList | undefined, held: HeldIncarnation = { createdAt: '', stamp: '' }): void {
    if (list) {
      this.lists.set(name, list);
      this.held.set(name, { createdAt: held.createdAt, stamp: held.stamp });
    } else {
      this.held.delete(name);
      if (!this.lists.delete(name)) return;
    }
    this.matcher = new ListMatcher(this.lists.values());
  }

  private async subscribe(): Promise<void> {
    const { store } = this.options;
    // A subscribed connection can run nothing else, so it gets its own. No offline queue: a
    // message missed while disconnected is caught by the periodic check.
    const subscriber = subscriberConnection(store.redis) as Redis;
    this.subscriber = subscriber;
    // ioredis reports every failed reconnect (dozens a minute while Redis is down): the outage is
    // logged once, as the hash-set subscriber does.
    subscriber.on('error', (error: unknown) => {
      if (this.subscriberLost || this.closed) return;
      this.subscriberLost = true;
      this.warn(error, 'list subscriber lost Redis: matching goes on with the lists loaded; changes arrive once it is back');
    });
    subscriber.on('message', (_channel: string, message: string) => {
      const name = message.slice(0, message.lastIndexOf(' '));
      if (name) void this.reload(name).catch(() => undefined); // logged by reload
    });
    await subscriber.subscribe(store.channel);
    // Changes made while the subscriber was away are caught on reconnect, not a period later.
    // Listened to from here on: the first connection's is followed by start's own load (two
    // would load a list that cannot be loaded twice, and log it twice).
    subscriber.on('ready', () => {
      if (this.subscriberLost) this.options.logger?.info('list subscriber reconnected: catching up');
      this.subscriberLost = false;
      // Subscribed again first (subscriberConnection), then caught up: a change from then on is heard.
      void resubscribe(subscriber, store.channel)
        .then(() => this.refresh())
        .catch((error: unknown) => this.warn(error, 'list version check failed'));
    });
  }

  /**
   * A list's reload failed (logged with its name; the next message or check tries again). A copy
   * held goes on matching; without one, the list is unavailable() and links it does not see are
   * not let through as matching nothing.
   */
  private reloadFailed(name: string, error: unknown): void {
    if (this.closed) return;
    const held = this.lists.get(name);
    if (held !== undefined) {
      this.options.logger?.warn({ err: error, list: name, version: held.version }, 'list reload failed: matching goes on with the copy held; retried at the next change or version check');
    } else {
      this.options.logger?.warn({ err: error, list: name }, 'list load failed: no copy held, links no other list decides get list_unavailable; retried at the next change or version check');
    }
  }

  private warn(error: unknown, message: string): void {
    this.options.logger?.warn({ err: error }, message);
  }
}
