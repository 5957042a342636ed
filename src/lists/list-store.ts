import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { RedisClient } from '../runtime/redis.js';
import { encodeEntryInfo, entryField, parseEntryField, type ListAction, type ListEntry, type ListRole } from './list-entry.js';
import { assertListName, listChannel, listKeys, listNamesKey, type ListKeys } from './list-keys.js';
import { CompiledListBuilder, type CompiledList } from './list-matcher.js';
import { COMMIT_STAGING, MUTATE_LIST, STAGE_ENTRIES } from './list-scripts.js';
import { runScript } from '../runtime/redis-script.js';

/**
 * Named block- and allowlists in Redis, versioned: every change bumps the list's version in the
 * same script and announces `<name> <version>` on the changes channel (see list-keys.ts). The CLI
 * writes through this class; workers load lists with `load` (chunked HSCAN) into matchers.
 */

export interface ListStoreOptions {
  /** Fleet key prefix, e.g. `{abuse-scan}` (keep the braces: a Cluster hash tag). */
  prefix: string;
  /** Entries per script call while importing and per HSCAN page while loading. Default 5000. */
  batchSize?: number;
}

export interface ListSummary {
  name: string;
  version: number;
  role: ListRole;
  action: ListAction;
  size: number;
  updatedAt?: string;
}

export interface ListChange {
  version: number;
  added: number;
  /** Entries already present whose label, reason or addedBy changed. */
  updated: number;
  unchanged: number;
  removed: number;
}

export interface ListSettingsInput {
  role?: ListRole;
  action?: ListAction;
}

export interface ImportOptions extends ListSettingsInput {
  /** Make the list exactly the imported entries (drop the others). Default false: add to the list. */
  replace?: boolean;
}

const DEFAULT_BATCH_SIZE = 5000;
/** Imports retried when another writer changed the list while the import was being staged. */
const IMPORT_ATTEMPTS = 3;

export class ListStore {
  private readonly batchSize: number;

  constructor(
    readonly redis: RedisClient,
    private readonly options: ListStoreOptions,
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  get channel(): string {
    return listChannel(this.options.prefix);
  }

  keys(name: string): ListKeys {
    assertListName(name);
    return listKeys(this.options.prefix, name);
  }

  async names(): Promise<string[]> {
    return (await this.redis.smembers(listNamesKey(this.options.prefix))).sort();
  }

  /** The list's summary, or undefined when no list of that name exists. */
  async summary(name: string): Promise<ListSummary | undefined> {
    const keys = this.keys(name);
    const [meta, size] = await Promise.all([this.redis.hgetall(keys.meta), this.redis.hlen(keys.entries)]);
    if (meta.version === undefined) return undefined;
    return {
      name,
      version: Number(meta.version),
      role: meta.role === 'allow' ? 'allow' : 'block',
      action: meta.action === 'review' ? 'review' : 'block',
      size,
      ...(meta.updatedAt && { updatedAt: meta.updatedAt }),
    };
  }

  async version(name: string): Promise<number | undefined> {
    const version = await this.redis.hget(this.keys(name).meta, 'version');
    return version === null ? undefined : Number(version);
  }

  /** Adds (or relabels) entries as one change; creates the list when absent. */
  async add(name: string, entries: readonly ListEntry[], settings: ListSettingsInput = {}): Promise<ListChange> {
    return this.mutate(name, 'add', tripleArgs(entries, new Date().toISOString()), settings);
  }

  async remove(name: string, entries: ReadonlyArray<Pick<ListEntry, 'kind' | 'value'>>): Promise<ListChange> {
    return this.mutate(name, 'remove', entries.map(entryField), {});
  }

  /**
   * Imports validated entries: they are staged in batches beside the live list, then made the
   * list in one script (a worker never loads half an import). Re-importing the same entries
   * changes nothing and keeps the version.
   */
  async import(name: string, entries: readonly ListEntry[], options: ImportOptions = {}): Promise<ListChange> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.tryImport(name, entries, options);
      if (result !== undefined) return result;
      if (attempt >= IMPORT_ATTEMPTS) throw new Error(`list ${name} kept changing during the import; try again`);
    }
  }

  /** Every entry, one HSCAN page at a time: [field, stored info] pairs. */
  async *scanEntries(name: string): AsyncGenerator<Array<[string, string]>> {
    const key = this.keys(name).entries;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', this.batchSize);
      cursor = next;
      const page: Array<[string, string]> = [];
      for (let i = 0; i < flat.length; i += 2) page.push([flat[i]!, flat[i + 1]!]);
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  /**
   * Loads a list into matcher form, yielding to the event loop between pages so a worker keeps
   * serving jobs while a large list loads. Loads again when the list changed during the scan.
   * Undefined when the list does not exist.
   */
  async load(name: string): Promise<CompiledList | undefined> {
    for (;;) {
      const before = await this.summary(name);
      if (before === undefined) return undefined;
      const builder = new CompiledListBuilder({ name, version: String(before.version), role: before.role, action: before.action }, before.size);
      for await (const page of this.scanEntries(name)) {
        for (const [field, info] of page) {
          const { kind, value } = parseEntryField(field);
          builder.add(kind, value, info);
        }
        await yieldToEventLoop();
      }
      if ((await this.version(name)) === before.version) return builder.build();
    }
  }

  private async mutate(name: string, op: 'add' | 'remove', args: string[], settings: ListSettingsInput): Promise<ListChange> {
    const keys = this.keys(name);
    let last: ListChange = { version: 0, added: 0, updated: 0, unchanged: 0, removed: 0 };
    const total: ListChange = { ...last };
    const step = op === 'add' ? this.batchSize * 3 : this.batchSize;
    // One script call per batch keeps each call short; an empty call still creates the list.
    for (let start = 0; start === 0 || start < args.length; start += step) {
      const reply = (await runScript(this.redis, MUTATE_LIST, [keys.meta, keys.entries, listNamesKey(this.options.prefix)], [name, this.channel, op, settings.role ?? '', settings.action ?? '', new Date().toISOString(), ...args.slice(start, start + step)])) as number[];
      last = { version: reply[0]!, added: reply[1]!, updated: reply[2]!, unchanged: reply[3]!, removed: reply[4]! };
      total.added += last.added;
      total.updated += last.updated;
      total.unchanged += last.unchanged;
      total.removed += last.removed;
    }
    return { ...total, version: last.version };
  }

  private async tryImport(name: string, entries: readonly ListEntry[], options: ImportOptions): Promise<ListChange | undefined> {
    const keys = this.keys(name);
    const staging = keys.staging(randomUUID());
    const [versionBefore, sizeBefore] = await Promise.all([this.version(name), this.redis.hlen(keys.entries)]);
    const counts = { added: 0, updated: 0, unchanged: 0 };
    try {
      if (!options.replace && sizeBefore > 0) await this.redis.copy(keys.entries, staging);
      const args = tripleArgs(entries, new Date().toISOString());
      for (let start = 0; start < args.length; start += this.batchSize * 3) {
        const [added, updated, unchanged] = (await runScript(this.redis, STAGE_ENTRIES, [staging, keys.entries], args.slice(start, start + this.batchSize * 3))) as number[];
        counts.added += added!;
        counts.updated += updated!;
        counts.unchanged += unchanged!;
      }
    } catch (error) {
      await this.redis.unlink(staging);
      throw error;
    }
    const removed = options.replace ? sizeBefore - counts.updated - counts.unchanged : 0;
    const changed = counts.added + counts.updated + removed > 0;
    const version = (await runScript(this.redis, COMMIT_STAGING, [keys.meta, keys.entries, staging, listNamesKey(this.options.prefix)], [name, this.channel, String(versionBefore ?? 0), changed ? '1' : '0', options.role ?? '', options.action ?? '', new Date().toISOString()])) as number;
    if (version < 0) return undefined;
    return { version, ...counts, removed };
  }
}

function tripleArgs(entries: readonly ListEntry[], now: string): string[] {
  const args: string[] = [];
  for (const entry of entries) {
    const { rest } = encodeEntryInfo(entry, now);
    args.push(entryField(entry), rest, entry.addedAt ?? now);
  }
  return args;
}
