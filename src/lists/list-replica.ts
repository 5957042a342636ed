import type { Redis } from 'ioredis';
import type { Logger } from '../runtime/logger.js';
import { ListMatcher, type CompiledList } from './list-matcher.js';
import type { ListStore } from './list-store.js';

/**
 * A worker's in-memory copy of every list, kept current: a pub/sub message on each change
 * triggers a reload of that list, and a periodic version check catches messages lost while the
 * subscriber was disconnected. A reload builds the list beside the old one (chunked, yielding to
 * the event loop) and swaps a new matcher in at once, so a job sees either version, never a mix.
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
  private matcher = new ListMatcher();
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Reloads run one at a time, in order, so two messages never race to swap. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly options: ListReplicaOptions) {}

  /** Loads every list, subscribes to changes and starts the periodic check. */
  static async start(options: ListReplicaOptions): Promise<ListReplica> {
    const replica = new ListReplica(options);
    await replica.subscribe();
    await replica.refresh();
    const interval = options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    replica.timer = setInterval(() => void replica.refresh().catch((error: unknown) => replica.warn(error, 'list version check failed')), interval);
    replica.timer.unref();
    return replica;
  }

  /** The matcher of the lists as last loaded; swapped whole on every reload. */
  current(): ListMatcher {
    return this.matcher;
  }

  /** Compares every list's version with Redis and reloads those that changed; drops deleted lists. */
  refresh(): Promise<void> {
    return this.enqueue(async () => {
      const { store } = this.options;
      const names = await store.names();
      for (const name of names) await this.reloadIfChanged(name);
      for (const name of [...this.lists.keys()]) if (!names.includes(name)) this.swap(name, undefined);
    });
  }

  /** Reloads one list when its version differs from the loaded one. */
  reload(name: string): Promise<void> {
    return this.enqueue(() => this.reloadIfChanged(name));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    if (this.subscriber) {
      this.subscriber.disconnect();
      this.subscriber = undefined;
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => (this.closed ? undefined : task()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadIfChanged(name: string): Promise<void> {
    const { store, logger } = this.options;
    const version = await store.version(name);
    if (version === undefined) return this.swap(name, undefined);
    if (this.lists.get(name)?.version === String(version)) return;
    const started = performance.now();
    const list = await store.load(name);
    this.swap(name, list);
    logger?.info({ list: name, version: list?.version, size: list?.size, ms: Math.round(performance.now() - started) }, 'list loaded');
  }

  private swap(name: string, list: CompiledList | undefined): void {
    if (list) this.lists.set(name, list);
    else if (!this.lists.delete(name)) return;
    this.matcher = new ListMatcher(this.lists.values());
  }

  private async subscribe(): Promise<void> {
    const { store } = this.options;
    // A subscribed connection can run nothing else, so it gets its own. No offline queue: a
    // message missed while disconnected is caught by the periodic check.
    const subscriber = store.redis.duplicate() as Redis;
    this.subscriber = subscriber;
    subscriber.on('error', (error: unknown) => this.warn(error, 'list subscriber error'));
    subscriber.on('message', (_channel: string, message: string) => {
      const name = message.slice(0, message.lastIndexOf(' '));
      if (name) void this.reload(name).catch((error: unknown) => this.warn(error, 'list reload failed'));
    });
    // Changes made while the subscriber was away are caught on reconnect, not a period later.
    subscriber.on('ready', () => void this.refresh().catch(() => undefined));
    await subscriber.subscribe(store.channel);
  }

  private warn(error: unknown, message: string): void {
    this.options.logger?.warn({ err: error }, message);
  }
}
