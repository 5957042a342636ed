import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { unlinkKeysByPrefix, type RedisClient } from '../runtime/redis.js';
import { encodeEntryPatch, entryFields, entryIdentity, ListRoleError, listRoleOfName, parseEntryField, type EntryKind, type ListAction, type ListEntry, type ListRole } from './list-entry.js';
import { assertListName, listChannel, listKeys, listNamesKey, listTombstonesKey, type ListKeys } from './list-keys.js';
import { CompiledListBuilder, type CompiledList } from './list-matcher.js';
import { COMMIT_CHANGE, COMMIT_STAGING, DELETE_LIST, MUTATE_LIST, STAGE_CHANGE, STAGE_ENTRIES, STAGE_REMOVAL, STAGING_TTL_MS } from './list-scripts.js';
import { runScript } from '../runtime/redis-script.js';
import { deletedStructure, readChangelogSince, type ChangelogSince, type DeletedStructure, type HeldIncarnation, type VersionedIdentity } from '../runtime/versioned-changelog.js';

/**
 * Named block- and allowlists in Redis, versioned: every change bumps the list's version in the
 * same script, appends the entries it changed to the list's changelog and announces
 * `<name> <version>` on the changes channel (see list-keys.ts, list-scripts.ts); `delete` removes
 * a list whole and announces `<name> deleted`. The CLI writes through this class; workers load
 * lists with `load` (chunked HSCAN) into matchers and catch up with `changesSince`.
 */

export interface ListStoreOptions {
  /** Fleet key prefix, e.g. `{abuse-scan}` (keep the braces: a Cluster hash tag). */
  prefix: string;
  /** Entries per script call while changing a list and per HSCAN page while loading. Default 5000. */
  batchSize?: number;
  /**
   * Approximate changelog records kept per list. A replica further behind than this loads the
   * whole list instead of applying changes. Default 100000.
   */
  changelogMaxLength?: number;
  /**
   * Most entries a staged change (an import, a large add or removal, not a replacement) writes
   * into the live list in its commit script, which blocks Redis while it runs (measured: 54 ms for
   * 10,000 entries logged one by one, 330 ms for 100,000 logged as `reload`). A larger change is
   * applied to a copy of the list made page by page, which the commit renames (Redis holds the
   * copy meanwhile: twice the list's memory). Default 25000 (measured: 37 ms).
   */
  maxCommittedChange?: number;
}

export interface ListSummary {
  name: string;
  version: number;
  role: ListRole;
  action: ListAction;
  size: number;
  updatedAt?: string;
  /** When the list was made; absent for lists made before lists recorded it. */
  createdAt?: string;
  /** Which write made this version ('' before writes recorded one; see VersionedIdentity). */
  stamp: string;
}

/**
 * Which incarnation of a list, at which version: a list deleted and made again goes on after the
 * old one's last version, but one deleted by a release that kept no tombstones restarts at 0 and
 * can reach the old version number again, so replicas compare the creation time too ('' for
 * lists made before it was recorded), and the version's stamp (a version written again after a
 * Redis failover lost the first).
 */
export type ListIdentity = VersionedIdentity;

export interface ListChange {
  version: number;
  added: number;
  /** Entries already present whose label, reason or addedBy changed. */
  updated: number;
  unchanged: number;
  /**
   * Entries removed: by a removal, by a replacing import (entries not in it), and by an add or
   * import that folded a list's second form of an http(s) URL entry into the first (see add).
   */
  removed: number;
}

/** What a staged change was computed against: committed only if the list is still there. */
type StagedFrom = Pick<ListIdentity, 'version' | 'stamp'>;

/** One changelog record: part of what moves a list from `version - 1` to `version`. */
export type ListLogRecord =
  | { version: number; op: 'add'; kind: EntryKind; value: string; info: string }
  | { version: number; op: 'remove'; kind: EntryKind; value: string }
  | { version: number; op: 'settings'; role: ListRole; action: ListAction };

/**
 * The records after a version, in order, or `gap`: the changelog no longer reaches back (trimmed,
 * or written by a writer from before the changelog), the entries were replaced, or the list was
 * deleted or made again. A gap means loading the whole list.
 */
export type ListChangesSince = ChangelogSince<ListLogRecord>;

export interface ListSettingsInput {
  role?: ListRole;
  action?: ListAction;
}

/** What a write records on the entries it creates. */
export interface EntryWriteOptions {
  /**
   * Recorded as `addedBy` on entries this write adds and that give none (the CLI's user). Unlike an
   * entry's own `addedBy`, it never replaces the addedBy of an entry already listed: a re-import
   * by someone else leaves the entries as they were.
   */
  addedBy?: string;
}

export interface ImportOptions extends ListSettingsInput, EntryWriteOptions {
  /** Make the list exactly the imported entries (drop the others). Default false: add to the list. */
  replace?: boolean;
}

/**
 * Entries an import reads batch by batch as it writes them, never holding them all (a list file
 * spooled to disk: SpooledListFile). Read from the start by each attempt of the import (see
 * untilCommitted). Unlike an array's, a source's entries must be of distinct identities
 * (entryIdentity): its repeats are not merged.
 */
export interface ListEntrySource {
  batches(): AsyncIterable<readonly ListEntry[]>;
}

const DEFAULT_BATCH_SIZE = 5000;
const DEFAULT_CHANGELOG_MAX_LENGTH = 100_000;
/**
 * Entries a staged change (import, large add or removal) logs one by one; beyond this it logs
 * `reload`. Its commit writes them in one script, which must stay short.
 */
const STAGED_LOG_LIMIT = 10_000;
/** Staged changes (imports, large adds and removals) retried when another writer changed the list meanwhile. */
const STAGED_CHANGE_ATTEMPTS = 3;
/** See ListStoreOptions.maxCommittedChange. */
const DEFAULT_MAX_COMMITTED_CHANGE = 25_000;

export class ListStore {
  private readonly batchSize: number;
  private readonly changelogMaxLength: number;
  private readonly maxCommittedChange: number;

  constructor(
    readonly redis: RedisClient,
    private readonly options: ListStoreOptions,
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.changelogMaxLength = options.changelogMaxLength ?? DEFAULT_CHANGELOG_MAX_LENGTH;
    this.maxCommittedChange = options.maxCommittedChange ?? DEFAULT_MAX_COMMITTED_CHANGE;
  }

  private get stagedLogLimit(): number {
    return Math.min(STAGED_LOG_LIMIT, this.changelogMaxLength);
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
      ...(meta.createdAt && { createdAt: meta.createdAt }),
      stamp: meta.stamp ?? '',
    };
  }

  async version(name: string): Promise<number | undefined> {
    const version = await this.redis.hget(this.keys(name).meta, 'version');
    return version === null ? undefined : Number(version);
  }

  /** Version, creation time and stamp in one read; undefined when no list of that name exists. */
  async identity(name: string): Promise<ListIdentity | undefined> {
    const [version, createdAt, stamp] = await this.redis.hmget(this.keys(name).meta, 'version', 'createdAt', 'stamp');
    return version === null ? undefined : { version: Number(version), createdAt: createdAt ?? '', stamp: stamp ?? '' };
  }

  /**
   * Adds (or relabels) entries as one change; creates the list when absent. An entry already
   * listed keeps its addedAt and every info field (label, reason, addedBy) the written entry does
   * not set; a field set replaces the stored one, `""` clears it. An http(s) URL entry is one
   * entry under either scheme (entryIdentity): writing the other form updates the entry stored,
   * which keeps its scheme; a list holding both forms (written before) gets them folded into one,
   * counted as removed. Entries of one identity given twice are written as one (the later fields
   * over the earlier).
   */
  async add(name: string, entries: readonly ListEntry[], settings: ListSettingsInput & EntryWriteOptions = {}): Promise<ListChange> {
    // More than one script call's worth is staged and committed like an import: one version,
    // so a worker never loads half of the change.
    if (entries.length > this.batchSize) return this.import(name, entries, settings);
    const args = [fillOf(settings)];
    for (const batch of entryBatches(entries, new Date().toISOString(), Infinity)) args.push(...batch);
    return this.mutate(name, 'add', args, await this.settingsFor(name, settings));
  }

  /**
   * Removes entries as one change; removing from a list that does not exist creates nothing. An
   * http(s) URL entry is removed whichever scheme it is stored (or named) with, both forms when a
   * list holds both (each counted).
   */
  async remove(name: string, entries: ReadonlyArray<Pick<ListEntry, 'kind' | 'value'>>): Promise<ListChange> {
    const fields = [...new Set(entries.flatMap(entryFields))];
    if (fields.length > this.batchSize) return this.untilCommitted(name, 'removal', () => this.tryStagedRemove(name, fields));
    return this.mutate(name, 'remove', ['', ...fields], {});
  }

  /**
   * Deletes the list, entries, changelog and staged imports under way, in one script, and announces
   * it: running replicas drop it within their usual delay and stop naming it in verdicts. What was
   * deleted (name, last version, entries), or undefined when no list of that name exists. A list
   * made again under the name starts empty, at the version after this one's last (the script keeps
   * it in the tombstones), another incarnation (see ListIdentity).
   */
  async delete(name: string): Promise<DeletedStructure | undefined> {
    const keys = this.keys(name);
    const { prefix } = this.options;
    const reply = await runScript(this.redis, DELETE_LIST, [keys.meta, keys.entries, keys.log, listNamesKey(prefix), listTombstonesKey(prefix)], [name, this.channel]);
    // Staged imports have random ids: found by a SCAN from here, not in the script (Redis would
    // be blocked while it walked the keyspace).
    await unlinkKeysByPrefix(this.redis, keys.stagingPrefix);
    return deletedStructure(name, reply);
  }

  /**
   * Imports validated entries: they are staged in batches beside the live list, then made the
   * list in one script (a worker never loads half an import). What is staged is the change only
   * (the entries it adds or updates, the twins it folds), never a copy of the list, so an import's
   * cost in Redis follows its size, not the list's: a replacement, or an import into a list with no
   * entries, stages the new entries whole and the commit renames them onto the list; any other
   * import's commit applies its change to the list, and a change of more than
   * `maxCommittedChange` entries is applied to a copy of the list made page by page first (see
   * commitChange). Re-importing the same entries
   * changes nothing and keeps the version. Entries are written as `add` writes them (info fields
   * not given are kept). With `replace`, the list's entries become exactly the imported ones
   * (the others are removed); those kept keep their addedAt and the info fields not given.
   * The entries are an array, or a ListEntrySource read batch by batch as they are staged (so an
   * import of any size holds one batch; an error it throws leaves nothing staged or committed).
   */
  async import(name: string, entries: readonly ListEntry[] | ListEntrySource, options: ImportOptions = {}): Promise<ListChange> {
    const settings = { ...options, ...(await this.settingsFor(name, options)) };
    return this.untilCommitted(name, 'import', () => this.tryImport(name, entries, settings));
  }

  /**
   * The settings a write applies, with the role the name gives (listRoleOfName). Refused: asking
   * for the other role, and writing to an allowlist whose name does not say so (made before the
   * name decided the role: writing `block` would turn it into a blocklist).
   */
  private async settingsFor(name: string, requested: ListSettingsInput): Promise<ListSettingsInput> {
    const role = listRoleOfName(name);
    if (requested.role !== undefined && requested.role !== role) {
      throw new ListRoleError(
        role === 'block'
          ? `list ${name} cannot be an allowlist: allowlists are named allow-<name> (as files in ABUSE_SCAN_LISTS_DIR are)`
          : `list ${name} is an allowlist by its name (allow-*): it cannot be a blocklist`,
      );
    }
    if (role === 'block' && (await this.redis.hget(this.keys(name).meta, 'role')) === 'allow') {
      throw new ListRoleError(`list ${name} is stored as an allowlist but not named allow-<name>; its entries belong in an allow-* list`);
    }
    return { ...requested, role };
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
   * serving jobs while a large list loads. Undefined when the list does not exist.
   */
  async load(name: string): Promise<CompiledList | undefined> {
    return (await this.loadWithIdentity(name))?.list;
  }

  /**
   * `load`, with the identity (version, creation time, stamp) of what was loaded. The scan runs from
   * version V (read first); changes made during it may or may not show in it, and all of them are
   * in the changelog after V, so applying those records on top gives exactly the list at the last
   * version read (an entry's records set or delete it whatever the scan saw). Without them (a
   * replacement, a trimmed changelog, the list made again) the scan is a mix no version describes:
   * it starts over. A list that keeps changing therefore still loads, unlike waiting for a pause.
   */
  async loadWithIdentity(name: string): Promise<{ list: CompiledList; identity: ListIdentity } | undefined> {
    for (;;) {
      const before = await this.summary(name);
      if (before === undefined) return undefined;
      const held = { createdAt: before.createdAt ?? '', stamp: before.stamp };
      const builder = new CompiledListBuilder({ name, version: String(before.version), role: before.role, action: before.action }, before.size);
      for await (const page of this.scanEntries(name)) {
        for (const [field, info] of page) {
          const { kind, value } = parseEntryField(field);
          builder.add(kind, value, info);
        }
        await yieldToEventLoop();
      }
      const since = await this.changesSince(name, before.version, held);
      if (since.gap) continue;
      let settings: Partial<ListSettingsInput> = {};
      for (const record of since.changes) {
        if (record.op === 'add') builder.add(record.kind, record.value, record.info);
        else if (record.op === 'remove') builder.remove(record.kind, record.value);
        else settings = { role: record.role, action: record.action };
      }
      return { list: builder.build({ ...settings, version: String(since.version) }), identity: { version: since.version, createdAt: held.createdAt, stamp: since.stamp } };
    }
  }

  /**
   * The changelog records after `version`, in order (see ListChangesSince). Given what the caller
   * holds (`held`: creation time and stamp as loaded), a list made again since is a gap whatever
   * its version, and so is a held version that a failover lost.
   */
  changesSince(name: string, version: number, held?: HeldIncarnation): Promise<ListChangesSince> {
    return readChangelogSince({
      redis: this.redis,
      logKey: this.keys(name).log,
      version,
      ...(held !== undefined && { held }),
      identity: () => this.identity(name),
      parse: (major, fields) => parseRecord(major, fields.map(String)),
    });
  }

  /** A change small enough for one script call: applied and versioned in that call. */
  private async mutate(name: string, op: 'add' | 'remove', args: string[], settings: ListSettingsInput): Promise<ListChange> {
    const keys = this.keys(name);
    // An empty call still creates the list (add).
    const reply = (await runScript(this.redis, MUTATE_LIST, [keys.meta, keys.entries, listNamesKey(this.options.prefix), keys.log, listTombstonesKey(this.options.prefix)], [
      name,
      this.channel,
      op,
      settings.role ?? '',
      settings.action ?? '',
      new Date().toISOString(),
      String(this.changelogMaxLength),
      ...args,
    ])) as number[];
    return { version: reply[0]!, added: reply[1]!, updated: reply[2]!, unchanged: reply[3]!, removed: reply[4]! };
  }

  /** Runs a staged change until it commits (undefined: another writer moved the list on meanwhile). */
  private async untilCommitted(name: string, what: string, attempt: () => Promise<ListChange | undefined>): Promise<ListChange> {
    for (let tries = 1; ; tries++) {
      const result = await attempt();
      if (result !== undefined) return result;
      if (tries >= STAGED_CHANGE_ATTEMPTS) throw new Error(`list ${name} kept changing during the ${what}; try again`);
    }
  }

  /**
   * Makes `staging` the list's entries if the list is still at `before` (version and stamp: the
   * same number written again after a failover is another version); -1 when it moved on.
   * `stagedLog` holds the staged entries' changes to log (unless `reload`); both keys are removed.
   */
  private async commitStaging(name: string, staging: string, stagedLog: string, before: StagedFrom, entriesChanged: boolean, settings: ListSettingsInput, reload: boolean): Promise<number> {
    const keys = this.keys(name);
    const { prefix } = this.options;
    return (await runScript(this.redis, COMMIT_STAGING, [keys.meta, keys.entries, staging, listNamesKey(prefix), keys.log, stagedLog, listTombstonesKey(prefix)], [
      name,
      this.channel,
      String(before.version),
      entriesChanged ? '1' : '0',
      settings.role ?? '',
      settings.action ?? '',
      new Date().toISOString(),
      String(this.changelogMaxLength),
      reload ? '1' : '0',
      before.stamp,
    ])) as number;
  }

  /**
   * Applies staged change `id` (field -> new value, '' to remove) to the list if it is still at
   * `before`; -1 when it moved on. A change of at most `maxCommittedChange` entries is applied by
   * one script (COMMIT_CHANGE), whose time follows the change. A larger one would block Redis for
   * as long, so it is applied to a copy of the list made page by page (Redis serves others between
   * pages), which one script then renames onto the list (COMMIT_STAGING): still one version, at
   * the cost of the copy's time and memory while it lasts.
   */
  private async commitChange(name: string, id: string, before: StagedFrom, settings: ListSettingsInput): Promise<number> {
    const keys = this.keys(name);
    const change = keys.staging(id);
    const { prefix } = this.options;
    if ((await this.redis.hlen(change)) <= this.maxCommittedChange) {
      return (await runScript(this.redis, COMMIT_CHANGE, [keys.meta, keys.entries, change, listNamesKey(prefix), keys.log, listTombstonesKey(prefix)], [
        name,
        this.channel,
        String(before.version),
        settings.role ?? '',
        settings.action ?? '',
        new Date().toISOString(),
        String(this.changelogMaxLength),
        before.stamp,
        String(this.stagedLogLimit),
      ])) as number;
    }
    const copy = keys.stagingCopy(id);
    try {
      // Not worth copying a list that has moved on already.
      const now = await this.identity(name);
      if (now === undefined || now.version !== before.version || now.stamp !== before.stamp) {
        await this.redis.unlink(change);
        return -1;
      }
      await this.copyPages(keys.entries, copy, change, (pairs) => ({ set: pairs, remove: [] }));
      await this.copyPages(change, copy, change, (pairs) => {
        const set: string[] = [];
        const remove: string[] = [];
        for (let i = 0; i < pairs.length; i += 2) {
          if (pairs[i + 1] === '') remove.push(pairs[i]!);
          else set.push(pairs[i]!, pairs[i + 1]!);
        }
        return { set, remove };
      });
    } catch (error) {
      await this.redis.unlink(change, copy);
      throw error;
    }
    // A change this large is more than the changelog logs one by one: `reload`.
    return this.commitStaging(name, copy, change, before, true, settings, true);
  }

  /**
   * Writes `source`'s fields into `target` one HSCAN page at a time (each page's writes one
   * transaction), as `page` maps them, renewing the expiry of `target` and `alsoRenew`. A field
   * HSCAN returns twice is written twice, to the same value; `source` must not change meanwhile
   * (the live entries: a change made to them moves the version on, and the commit refuses).
   */
  private async copyPages(source: string, target: string, alsoRenew: string, page: (pairs: string[]) => { set: string[]; remove: string[] }): Promise<void> {
    let cursor = '0';
    do {
      const [next, pairs] = await this.redis.hscan(source, cursor, 'COUNT', this.batchSize);
      cursor = next;
      const { set, remove } = page(pairs);
      const transaction = this.redis.multi();
      if (set.length) transaction.hset(target, ...set);
      if (remove.length) transaction.hdel(target, ...remove);
      transaction.pexpire(target, STAGING_TTL_MS).pexpire(alsoRenew, STAGING_TTL_MS);
      for (const [error] of (await transaction.exec()) ?? []) if (error) throw error;
    } while (cursor !== '0');
  }

  /** A removal too large for one script call: the fields the list holds are staged for removal, then committed (commitChange). */
  private async tryStagedRemove(name: string, fields: readonly string[]): Promise<ListChange | undefined> {
    const keys = this.keys(name);
    const before = await this.identity(name);
    if (before === undefined) return { version: 0, added: 0, updated: 0, unchanged: 0, removed: 0 };
    const id = randomUUID();
    const change = keys.staging(id);
    let removed = 0;
    try {
      for (let start = 0; start < fields.length; start += this.batchSize) {
        removed += (await runScript(this.redis, STAGE_REMOVAL, [change, keys.entries], fields.slice(start, start + this.batchSize))) as number;
      }
    } catch (error) {
      await this.redis.unlink(change);
      throw error;
    }
    const version = await this.commitChange(name, id, before, {});
    if (version < 0) return undefined;
    return { version, added: 0, updated: 0, unchanged: 0, removed };
  }

  private async tryImport(name: string, entries: readonly ListEntry[] | ListEntrySource, options: ImportOptions): Promise<ListChange | undefined> {
    const keys = this.keys(name);
    const id = randomUUID();
    const staging = keys.staging(id);
    const [before, sizeBefore] = await Promise.all([this.identity(name), this.redis.hlen(keys.entries)]);
    // Whole: the staging becomes the entries (renamed at commit). Otherwise it holds the change only.
    const whole = options.replace === true || sizeBefore === 0;
    const counts = { added: 0, updated: 0, unchanged: 0 };
    let folded = 0;
    // A replacement's removals are not staged one by one: its commit logs `reload`.
    const logLimit = String(options.replace ? 0 : this.stagedLogLimit);
    const fill = fillOf(options);
    try {
      const now = new Date().toISOString();
      for await (const batch of isEntrySource(entries) ? readAhead(sourceBatches(entries, now, this.batchSize)) : entryBatches(entries, now, this.batchSize)) {
        const [added, updated, unchanged, twins] = (
          whole
            ? await runScript(this.redis, STAGE_ENTRIES, [staging, keys.entries, keys.stagingLog(id)], [logLimit, fill, ...batch])
            : await runScript(this.redis, STAGE_CHANGE, [staging, keys.entries], [fill, ...batch])
        ) as number[];
        counts.added += added!;
        counts.updated += updated!;
        counts.unchanged += unchanged!;
        folded += twins!;
      }
    } catch (error) {
      await this.redis.unlink(staging, keys.stagingLog(id));
      throw error;
    }
    // A replacement's staging starts empty: the entries it does not write (a folded twin too) are removed.
    const removed = options.replace ? sizeBefore - counts.updated - counts.unchanged : folded;
    const from = before ?? { version: 0, stamp: '' };
    const version = whole
      ? await this.commitStaging(name, staging, keys.stagingLog(id), from, counts.added + counts.updated + removed > 0, options, options.replace === true)
      : await this.commitChange(name, id, from, options);
    if (version < 0) return undefined;
    return { version, ...counts, removed };
  }
}

/** Script arguments per entry written (see WRITE_ENTRIES in list-scripts.ts). */
const ENTRY_ARGS = 4;

/**
 * The script arguments of entries to write, `batchSize` entries a batch, built as they are sent
 * (never all at once): field, the other scheme's field (http(s) URL entries) or '', the info
 * fields given (encodeEntryPatch), addedAt for a new entry. Entries of one identity are one
 * write (a staged import compares each with the live list, not with each other), at the first's
 * place, the later's fields over the earlier's: repeats are found by repeatedIdentities, and
 * only repeated entries are held merged.
 */
function* entryBatches(entries: readonly ListEntry[], now: string, batchSize: number): Generator<string[]> {
  const repeated = repeatedIdentities(entries);
  let merged: Map<string, ListEntry> | undefined;
  if (repeated) {
    // Only the repeated identities: their entries merged in order.
    merged = new Map();
    for (const entry of entries) {
      const identity = entryIdentity(entry);
      if (!repeated.has(identity)) continue;
      const earlier = merged.get(identity);
      merged.set(identity, earlier === undefined ? entry : { ...earlier, ...definedInfo(entry), ...(earlier.addedAt !== undefined && { addedAt: earlier.addedAt }) });
    }
  }
  const written = new Set<string>();
  let batch: string[] = [];
  for (let entry of entries) {
    if (merged) {
      const identity = entryIdentity(entry);
      const whole = merged.get(identity);
      if (whole !== undefined) {
        if (written.has(identity)) continue;
        written.add(identity);
        entry = whole;
      }
    }
    batch.push(...entryArgs(entry, now));
    if (batch.length >= batchSize * ENTRY_ARGS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** One entry's ENTRY_ARGS script arguments: field, the other scheme's field or '', its info fields, addedAt for a new entry. */
function entryArgs(entry: ListEntry, now: string): string[] {
  const [field, twin] = entryFields(entry);
  return [field, twin ?? '', encodeEntryPatch(entry), entry.addedAt ?? now];
}

function isEntrySource(entries: readonly ListEntry[] | ListEntrySource): entries is ListEntrySource {
  return !Array.isArray(entries);
}

/**
 * The batches of `batches`, each asked for as the one before is handed out: the next batch is read
 * and built while the caller's script for this one runs in Redis.
 */
async function* readAhead<T>(batches: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = batches.next();
  try {
    for (;;) {
      const result = await next;
      if (result.done) return;
      next = batches.next();
      // Settled before it is awaited (the caller failed, or stopped): never an unhandled rejection.
      next.catch(() => undefined);
      yield result.value;
    }
  } finally {
    // The caller stopped early: the source's read ends (its own finally runs) once the read under way settles.
    await next.catch(() => undefined);
    await batches.return(undefined);
  }
}

/** entryBatches of a source's entries (of distinct identities: nothing to merge), read as they are sent. */
async function* sourceBatches(source: ListEntrySource, now: string, batchSize: number): AsyncGenerator<string[]> {
  let batch: string[] = [];
  for await (const entries of source.batches()) {
    for (const entry of entries) {
      batch.push(...entryArgs(entry, now));
      if (batch.length >= batchSize * ENTRY_ARGS) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length) yield batch;
}

/**
 * The identities given more than once, or undefined when none is. Found with a set of 30-bit hashes
 * of the identities (small integers: a million of them take some 16 MB, where the identities
 * themselves took about 100 MB), then exactly among the entries whose hash came again.
 */
function repeatedIdentities(entries: readonly ListEntry[]): Set<string> | undefined {
  const again = new Set<number>();
  {
    const hashes = new Set<number>();
    for (const entry of entries) {
      const hash = identityHash(entryIdentity(entry));
      if (hashes.has(hash)) again.add(hash);
      else hashes.add(hash);
    }
  }
  if (again.size === 0) return undefined;
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const entry of entries) {
    const identity = entryIdentity(entry);
    if (!again.has(identityHash(identity))) continue;
    if (seen.has(identity)) repeated.add(identity);
    else seen.add(identity);
  }
  return repeated.size ? repeated : undefined;
}

/** FNV-1a of the UTF-16 code units, cut to 30 bits (a small integer, stored unboxed). */
function identityHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}

function definedInfo(entry: ListEntry): Partial<ListEntry> {
  return Object.fromEntries(Object.entries({ label: entry.label, reason: entry.reason, addedBy: entry.addedBy, addedAt: entry.addedAt }).filter(([, value]) => value !== undefined));
}

/** The fill JSON of a write (see WRITE_ENTRIES): its default addedBy for new entries. */
function fillOf(options: EntryWriteOptions): string {
  return options.addedBy === undefined ? '' : encodeEntryPatch({ addedBy: options.addedBy });
}

function parseRecord(version: number, fields: string[]): ListLogRecord | undefined {
  const get = (name: string) => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const op = get('op');
  if (op === 'add' || op === 'remove') {
    const { kind, value } = parseEntryField(get('f') ?? '');
    return op === 'add' ? { version, op, kind, value, info: get('v') ?? '' } : { version, op, kind, value };
  }
  if (op === 'settings') return { version, op, role: get('role') === 'allow' ? 'allow' : 'block', action: get('action') === 'review' ? 'review' : 'block' };
  return undefined;
}
