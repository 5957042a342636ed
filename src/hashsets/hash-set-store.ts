/**
 * Hash sets in Redis, durable and versioned: every change runs as one Lua script that bumps the
 * set's version, appends to its changelog stream and announces itself on pub/sub (see
 * hash-set-scripts.ts and hash-set-keys.ts); `delete` removes a set whole and announces
 * `<name> deleted`. Writers (the CLI) and readers (workers' replicas) share this class; workers
 * cold-load with `scanEntries` and catch up with `changesSince`.
 */
import { unlinkKeysByPrefix, type RedisClient } from '../runtime/redis.js';
import { runScript } from '../runtime/redis-script.js';
import { deletedStructure, readChangelogSince, type ChangelogSince, type DeletedStructure, type HeldIncarnation, type VersionedIdentity } from '../runtime/versioned-changelog.js';
import { ScanError } from '../errors.js';
import { floodWindow, RELEASE_QUARANTINE } from './flood-guard.js';
import { EntryIdError, entryIdRefusal } from './hash-list-parser.js';
import { resolveHashSetConfig, type HashSetConfig, type HashSetConfigInput, type HashSetIncarnation } from './hash-set-config.js';
import type { HashSetEntry, NewHashSetEntry } from './hash-set.js';
import { hashSetChannel, hashSetKeys, hashSetNamesKey, hashSetTombstonesKey, PACK_ENTRIES, unpackEntry, type HashSetKeys, type PackedEntry } from './hash-set-keys.js';
import { ADD_ENTRIES, CREATE_SET, DELETE_SET, DESCRIBE_ENTRIES, incarnationArgs, REMOVE_ENTRIES, SET_DISABLED } from './hash-set-scripts.js';

export interface HashSetStoreOptions {
  /** Fleet key prefix, e.g. `{abuse-scan}` (keep the braces: a Cluster hash tag). */
  prefix: string;
  /**
   * Approximate changelog records kept per set. A replica further behind than this reloads the
   * whole set instead of applying changes. Default 100000.
   */
  changelogMaxLength?: number;
}

/** One changelog record: what a replica applies to move from `version - 1` to `version`. */
export interface HashSetChange {
  version: number;
  op: 'add' | 'remove' | 'disable' | 'enable';
  entryNo: number;
  /** For `add` and `enable`. */
  hash?: Uint8Array;
}

/**
 * Which incarnation of a set, at which version: `createdAt` tells a set deleted and created again
 * under the same name from the old one (its versions go on after the old one's last, but a set
 * deleted by a release that kept no tombstones restarts at 0 and may reach the old ones again),
 * and `stamp` a version written again after a Redis failover lost the first. `createdStamp` (the
 * stamp of the creation, never changed by later writes) tells two incarnations created in the same
 * millisecond apart (see HashSetIncarnation).
 */
export type HashSetIdentity = VersionedIdentity & Pick<HashSetIncarnation, 'createdStamp'>;

/** Changes after a version, or `gap` when the changelog no longer holds all of them. */
export type ChangesSince = ChangelogSince<HashSetChange>;

export interface AddResult {
  version: number;
  added: number;
  unchanged: number;
  /** Ids already in the set with another hash: left as they were. */
  conflicts: string[];
}

export interface HashSetSummary {
  config: HashSetConfig;
  version: number;
  size: number;
  createdAt: string;
  /** Which write made this version ('' before writes recorded one; see HashSetIdentity). */
  stamp: string;
  /** The stamp of the set's creation ('' for sets created before it was recorded; see HashSetIncarnation). */
  createdStamp: string;
  /** Matches recorded since the set was created, by the flood guard: block and review sets only (negative sets' hits are not counted). */
  matches: number;
  /** Negative sets: block and review matches their entries hid since the set was created (counted by the flood guard). */
  suppressions: number;
  /** Entry numbers handed out so far (the packs cover 0 .. nextEntryNo - 1). */
  nextEntryNo: number;
}

export type EntryInfo = Omit<HashSetEntry, 'id' | 'hash'>;

const DEFAULT_CHANGELOG_MAX_LENGTH = 100_000;

/** What every command meets when it names a set that does not exist. */
export function hashSetNotFound(name: string): ScanError {
  return new ScanError('hashset_not_found', `no hash set named ${JSON.stringify(name)}`);
}

/** Most ids one removal (or info read) sends to Redis at once: the import's batch size. */
export const REMOVE_BATCH = 2000;

export class HashSetStore {
  private readonly changelogMaxLength: number;

  constructor(
    readonly redis: RedisClient,
    private readonly options: HashSetStoreOptions,
  ) {
    this.changelogMaxLength = options.changelogMaxLength ?? DEFAULT_CHANGELOG_MAX_LENGTH;
  }

  get channel(): string {
    return hashSetChannel(this.options.prefix);
  }

  keys(name: string): HashSetKeys {
    return hashSetKeys(this.options.prefix, name);
  }

  /**
   * Creates an empty set; false when one of that name exists (its configuration is kept). A set
   * created again under a deleted one's name starts at the version after the deleted one's last.
   */
  async create(input: HashSetConfigInput): Promise<boolean> {
    const config = resolveHashSetConfig(input);
    // A flood-guard call without the incarnation (replicas pass theirs: see SAME_INCARNATION) on a
    // set just deleted leaves a meta without a version, and counters.
    const [version, matches] = await this.redis.hmget(this.keys(config.name).meta, 'version', 'matches');
    if (version === null && Number(matches) > 0) await this.sweepFloodCounters(config.name);
    return (await this.runWholeSetScript(CREATE_SET, config.name, [JSON.stringify(config), new Date().toISOString()])) === 1;
  }

  /**
   * Deletes the set, every key of it (entries, packs and their counts, changelog, quarantine, flood counters), in one
   * script, and announces it: running replicas drop it within their usual delay and stop naming it
   * in verdicts. What was deleted (name, last version, entries), or undefined when no set of that
   * name exists. A set created again under the name is another incarnation (see HashSetIdentity),
   * whose versions go on after this one's last: the script keeps it in the tombstones.
   */
  async delete(name: string): Promise<DeletedStructure | undefined> {
    const matched = Number(await this.redis.hget(this.keys(name).meta, 'matches')) > 0;
    const deleted = deletedStructure(name, await this.runWholeSetScript(DELETE_SET, name, []));
    if (matched) await this.sweepFloodCounters(name); // only a set that matched has any
    return deleted;
  }

  /**
   * Unlinks the set's flood counters, named by entry and window at run time: found by a SCAN from
   * here, not in a script (Redis would be blocked while it walked the keyspace).
   */
  private sweepFloodCounters(name: string): Promise<void> {
    return unlinkKeysByPrefix(this.redis, this.keys(name).floodPrefix);
  }

  /** CREATE_SET or DELETE_SET (see UNLINK_SET in hash-set-scripts.ts for their keys and arguments). */
  private runWholeSetScript(script: string, name: string, args: string[]): Promise<unknown> {
    const keys = this.keys(name);
    const { prefix } = this.options;
    return runScript(this.redis, script, [...scriptKeys(keys), hashSetNamesKey(prefix), hashSetTombstonesKey(prefix)], [this.channel, name, keys.packPrefix, ...args]);
  }

  /** Names of every set. */
  async names(): Promise<string[]> {
    return (await this.redis.smembers(hashSetNamesKey(this.options.prefix))).sort();
  }

  async summary(name: string): Promise<HashSetSummary> {
    const keys = this.keys(name);
    const [meta, size] = await Promise.all([this.redis.hgetall(keys.meta), this.redis.hlen(keys.entries)]);
    if (meta.config === undefined) throw hashSetNotFound(name);
    return {
      config: resolveHashSetConfig(JSON.parse(meta.config) as HashSetConfigInput),
      version: Number(meta.version),
      size,
      createdAt: meta.createdAt ?? '',
      stamp: meta.stamp ?? '',
      createdStamp: meta.createdStamp ?? '',
      matches: Number(meta.matches ?? 0),
      suppressions: Number(meta.suppressions ?? 0),
      nextEntryNo: Number(meta.nextEntryNo ?? 0),
    };
  }

  async version(name: string): Promise<number | undefined> {
    const version = await this.redis.hget(this.keys(name).meta, 'version');
    return version === null ? undefined : Number(version);
  }

  /** Version, creation time and stamps in one read; undefined when no set of that name exists. */
  async identity(name: string): Promise<HashSetIdentity | undefined> {
    const [version, createdAt, stamp, createdStamp] = await this.redis.hmget(this.keys(name).meta, 'version', 'createdAt', 'stamp', 'createdStamp');
    return version === null ? undefined : { version: Number(version), createdAt: createdAt ?? '', stamp: stamp ?? '', createdStamp: createdStamp ?? '' };
  }

  /**
   * Adds one batch of entries as one change (one version), those with `disabled` kept but not
   * matching. Same id again: unchanged or a conflict. An id an import would refuse (empty, or
   * longer than MAX_ID_LENGTH: see entryIdRefusal) throws EntryIdError and nothing is written.
   */
  async add(name: string, entries: readonly NewHashSetEntry[]): Promise<AddResult> {
    // Before anything is written: an id an import refuses, or reads back as another, is never stored.
    for (const entry of entries) {
      const refusal = entryIdRefusal(entry.id);
      if (refusal !== undefined) throw new EntryIdError(entry.id, refusal);
    }
    if (entries.length === 0) return { version: (await this.summary(name)).version, added: 0, unchanged: 0, conflicts: [] };
    const args: Array<string | Buffer> = [];
    const now = new Date().toISOString();
    for (const entry of entries) {
      const info: EntryInfo = { addedAt: entry.addedAt ?? now };
      if (entry.label !== undefined) info.label = entry.label;
      if (entry.source !== undefined) info.source = entry.source;
      if (entry.addedBy !== undefined) info.addedBy = entry.addedBy;
      if (entry.disabled !== undefined) info.disabled = entry.disabled;
      args.push(entry.id, Buffer.from(entry.hash), JSON.stringify(info), entry.disabled ? '1' : '0');
    }
    const [version, added, unchanged, conflicts] = (await this.mutate(name, ADD_ENTRIES, args)) as [number, number, number, string[]];
    return { version, added, unchanged, conflicts };
  }

  /**
   * Forgets entries, in changes of at most REMOVE_BATCH ids (one version each): one script call
   * for 100,000 ids held Redis, every worker's and producer's commands with it, for 2 s. Their
   * flood-guard quarantines and counters go with them, so an id added again (a corrected hash)
   * starts afresh, and the quarantined count drops with them. Resolves the last change's version.
   */
  async remove(name: string, ids: readonly string[]): Promise<{ version: number; removed: number }> {
    const floodPrefix = this.keys(name).floodPrefix;
    let version = 0;
    let removed = 0;
    let start = 0;
    do {
      const [batchVersion, batchRemoved] = (await this.mutate(name, REMOVE_ENTRIES, [floodPrefix, ...ids.slice(start, start + REMOVE_BATCH)])) as [number, number];
      version = batchVersion;
      removed += batchRemoved;
      start += REMOVE_BATCH;
    } while (start < ids.length);
    return { version, removed };
  }

  /** Labels and provenance of the given ids (undefined for unknown ones), read REMOVE_BATCH at a time. */
  async info(name: string, ids: readonly string[]): Promise<Array<EntryInfo | undefined>> {
    const infos: Array<EntryInfo | undefined> = [];
    for (let start = 0; start < ids.length; start += REMOVE_BATCH) {
      const values = await this.redis.hmget(this.keys(name).info, ...ids.slice(start, start + REMOVE_BATCH));
      for (const value of values) infos.push(value === null ? undefined : (JSON.parse(value) as EntryInfo));
    }
    return infos;
  }

  /** Keeps the entry but stops it matching; `changed` false when unknown or already disabled. */
  async disable(name: string, id: string, reason: string): Promise<{ version: number; changed: boolean }> {
    const [version, changed] = (await this.mutate(name, SET_DISABLED, [id, '1', reason, new Date().toISOString()])) as [number, number];
    return { version, changed: changed === 1 };
  }

  async enable(name: string, id: string): Promise<{ version: number; changed: boolean }> {
    const [version, changed] = (await this.mutate(name, SET_DISABLED, [id, '0', '', ''])) as [number, number];
    return { version, changed: changed === 1 };
  }

  /** How many entries the flood guard has quarantined (one round trip, no entry read). */
  quarantinedCount(name: string): Promise<number> {
    return this.redis.hlen(this.keys(name).quarantine);
  }

  /** Entries the flood guard quarantined, by id. */
  async quarantined(name: string): Promise<Array<{ id: string; at: string; items: number; windowSeconds: number }>> {
    const all = await this.redis.hgetall(this.keys(name).quarantine);
    return Object.entries(all)
      .map(([id, json]) => ({ id, ...(JSON.parse(json) as { at: string; items: number; windowSeconds: number }) }))
      .sort((a, b) => a.at.localeCompare(b.at));
  }

  /**
   * Lifts the quarantine of entries (their matches suggest the set's action again) and clears their
   * flood counters for the window of `now`, so counting starts again; how many were quarantined.
   */
  async release(name: string, ids: readonly string[], now = Date.now()): Promise<number> {
    if (ids.length === 0) return 0;
    const keys = this.keys(name);
    const { config } = await this.summary(name);
    const window = floodWindow(now, config.flood.windowSeconds);
    // Entry numbers are never reused, so reading them before the script cannot pick a wrong counter.
    const entries = await this.redis.hmgetBuffer(keys.entries, ...ids);
    const counters = entries.flatMap((entry) => (entry ? [keys.flood(unpackEntry(entry).entryNo, window)] : []));
    return (await runScript(this.redis, RELEASE_QUARANTINE, [keys.quarantine, ...counters], [...ids])) as number;
  }

  /** Every entry's number, flags and hash, `count` fields per HSCAN (a cold load reads only this). */
  async *scanEntries(name: string, count = 20_000): AsyncGenerator<Array<PackedEntry & { id: Buffer }>> {
    const key = this.keys(name).entries;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscanBuffer(key, cursor, 'COUNT', count);
      cursor = next.toString();
      const batch: Array<PackedEntry & { id: Buffer }> = [];
      for (let i = 0; i < flat.length; i += 2) batch.push({ id: flat[i]!, ...unpackEntry(flat[i + 1]!) });
      if (batch.length) yield batch;
    } while (cursor !== '0');
  }

  /**
   * The packs covering entry numbers 0 .. nextEntryNo - 1, in order, `inFlight` GETs at a time:
   * per entry number a state byte (PACK_ABSENT / _ENABLED / _DISABLED) and the hash.
   */
  async *readPacks(name: string, nextEntryNo: number, inFlight = 16): AsyncGenerator<{ firstEntryNo: number; pack: Buffer }> {
    const { packPrefix } = this.keys(name);
    const buckets = Math.ceil(nextEntryNo / PACK_ENTRIES);
    const pending: Array<Promise<Buffer | null>> = [];
    for (let next = 0, bucket = 0; bucket < buckets; bucket++) {
      while (next < buckets && pending.length < inFlight) pending.push(this.redis.getBuffer(`${packPrefix}${next++}`));
      const pack = await pending.shift()!;
      if (pack) yield { firstEntryNo: bucket * PACK_ENTRIES, pack };
    }
  }


  /**
   * Ids and info of entry numbers (undefined for removed ones), read in one step. Given the
   * incarnation the caller's entry numbers are of (a replica's), undefined when the set is no longer
   * that one (deleted, or deleted and created again: its entry numbers name other entries).
   */
  async describe(name: string, entryNos: readonly number[], incarnation?: HashSetIncarnation): Promise<Array<{ id: string; info: EntryInfo | undefined } | undefined> | undefined> {
    const keys = this.keys(name);
    const reply = (await runScript(this.redis, DESCRIBE_ENTRIES, [keys.meta, keys.ids, keys.info], [...incarnationArgs(incarnation), ...entryNos.map(String)])) as Array<string | null> | null;
    if (reply === null) return undefined;
    return entryNos.map((_, i) => {
      const id = reply[2 * i];
      if (id === null || id === undefined) return undefined;
      const info = reply[2 * i + 1];
      return { id, info: typeof info === 'string' ? (JSON.parse(info) as EntryInfo) : undefined };
    });
  }

  /**
   * The changes after `version`, in order. A gap (the changelog was trimmed past `version`, or the
   * set was recreated) means the caller must reload the whole set. Given what the caller holds
   * (`held`: creation time and stamp as loaded), a set created again since is a gap too, whatever
   * its version (its changelog continues another set's contents), and so is a held version that a
   * failover lost.
   */
  changesSince(name: string, version: number, held?: HeldIncarnation): Promise<ChangesSince> {
    return readChangelogSince({
      redis: this.redis,
      logKey: this.keys(name).log,
      version,
      ...(held !== undefined && { held }),
      identity: () => this.identity(name),
      parse: parseChange,
    });
  }

  private async mutate(name: string, script: string, args: Array<string | Buffer>): Promise<unknown[]> {
    const keys = this.keys(name);
    try {
      return (await runScript(this.redis, script, scriptKeys(keys), [
        String(this.changelogMaxLength),
        this.channel,
        name,
        keys.packPrefix,
        ...args,
      ])) as unknown[];
    } catch (error) {
      if (error instanceof Error && error.message.includes('hashset_not_found')) throw hashSetNotFound(name);
      throw error;
    }
  }
}

/** The keys every script of a set declares first (see hash-set-scripts.ts). */
function scriptKeys(keys: HashSetKeys): string[] {
  return [keys.meta, keys.entries, keys.info, keys.ids, keys.log, keys.quarantine, keys.packLive];
}

function parseChange(version: number, fields: Buffer[]): HashSetChange {
  const change: Partial<HashSetChange> = { version };
  for (let i = 0; i < fields.length; i += 2) {
    const field = fields[i]!.toString();
    const value = fields[i + 1]!;
    if (field === 'op') change.op = value.toString() as HashSetChange['op'];
    else if (field === 'no') change.entryNo = Number(value.toString());
    else if (field === 'hash') change.hash = Uint8Array.from(value);
  }
  return change as HashSetChange;
}
