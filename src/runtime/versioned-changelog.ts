import type { RedisClient } from './redis.js';

/**
 * Reading the changelog of a versioned Redis structure (a URL list, a hash set): a stream whose
 * entry ids are `<version>-<n>`, every version's records appended together with the version bump,
 * its first with n = 0. Replicas apply the records after the version they hold; anything that
 * breaks the chain (records trimmed, a version without records, a record the caller cannot
 * apply, the structure made again under the same name, a version written again) is a gap: the
 * caller loads it whole.
 *
 * Version stamps: each write that bumps the version also records a stamp (the Redis server's
 * clock, in µs) in the structure's meta, and the first record of that version carries both the
 * stamp it replaces (`prev`) and its own (`stamp`). A Redis failover that loses the last writes
 * rolls the version back, and later writes reach the same version numbers again with other
 * contents; the stamps tell those versions apart, and a replica holding a lost version finds its
 * stamp matches no `prev` of the records that follow. Structures and records from before stamps
 * were recorded read as stamp ''.
 */

/** Which incarnation of the structure, at which version, written by which write. */
export interface VersionedIdentity {
  version: number;
  /**
   * Tells a structure deleted and made again apart from the old one: its versions go on after the
   * deleted one's (a tombstone), but a delete by an earlier release left none and they restart.
   */
  createdAt: string;
  /** Tells a version written again after a failover apart from the one that was lost. */
  stamp: string;
}

/** What a replica holds besides the version number: the incarnation and the stamp of its version. */
export type HeldIncarnation = Pick<VersionedIdentity, 'createdAt' | 'stamp'>;

/** Whether `held` is exactly `current`: same incarnation, same version, written by the same write. */
export function sameVersion(held: VersionedIdentity | undefined, current: VersionedIdentity): boolean {
  return held !== undefined && held.version === current.version && held.createdAt === current.createdAt && held.stamp === current.stamp;
}

export type ChangelogSince<T> = { gap: false; changes: T[]; version: number; stamp: string } | { gap: true; version: number };

export interface ChangelogRead<T> {
  redis: RedisClient;
  logKey: string;
  /** The version the caller holds: records after it are read. */
  version: number;
  /** The incarnation and stamp the caller holds; without them (tools, tests) neither is checked. */
  held?: HeldIncarnation;
  /** The structure's identity now (undefined: it does not exist). */
  identity: () => Promise<VersionedIdentity | undefined>;
  /** One record; undefined for one that cannot be applied (a `reload`, an unknown op): a gap. */
  parse: (version: number, fields: Buffer[]) => T | undefined;
}

const PAGE = 10_000;

/** A version's first record's `prev` and `stamp` fields ('' when absent: written before stamps). */
function stampsOf(fields: Buffer[]): { prev: string; stamp: string } {
  let prev = '';
  let stamp = '';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    if (name === 'prev') prev = fields[i + 1]!.toString();
    else if (name === 'stamp') stamp = fields[i + 1]!.toString();
  }
  return { prev, stamp };
}

export async function readChangelogSince<T>(read: ChangelogRead<T>): Promise<ChangelogSince<T>> {
  const { redis, logKey, version, held } = read;
  const recreated = (identity: VersionedIdentity | undefined) => identity === undefined || (held !== undefined && identity.createdAt !== held.createdAt);
  const before = await read.identity();
  const current = before?.version;
  if (current === undefined || current < version || recreated(before)) return { gap: true, version: current ?? 0 };
  // Held at the current version with another stamp: that version was written again (failover).
  if (held !== undefined && current === version && before!.stamp !== held.stamp) return { gap: true, version: current };
  const changes: T[] = [];
  let reached = version;
  let stamp = held?.stamp ?? before!.stamp;
  let start = `${version + 1}-0`;
  for (;;) {
    const page = await redis.xrangeBuffer(logKey, start, '+', 'COUNT', PAGE);
    for (const [rawId, fields] of page) {
      const [major, minor] = rawId.toString().split('-').map(Number) as [number, number];
      if (major !== reached && !(major === reached + 1 && minor === 0)) return { gap: true, version: current };
      if (minor === 0) {
        const link = stampsOf(fields);
        // This version was written on top of another one than the caller's: the caller's was lost.
        if (held !== undefined && link.prev !== stamp) return { gap: true, version: current };
        stamp = link.stamp;
      }
      reached = major;
      const change = read.parse(major, fields);
      if (change === undefined) return { gap: true, version: current };
      changes.push(change);
    }
    if (page.length < PAGE) break;
    const [lastMajor, lastMinor] = page.at(-1)![0].toString().split('-').map(Number) as [number, number];
    start = `${lastMajor}-${lastMinor + 1}`;
  }
  if (reached < current) return { gap: true, version: current };
  // Deleted and made again while the changelog was read: those records may be the new one's.
  if (held !== undefined && recreated(await read.identity())) return { gap: true, version: current };
  return { gap: false, changes, version: reached, stamp };
}

/**
 * Lua, shared by the scripts of versioned structures: `server_stamp()`, a version's stamp (the
 * Redis server's clock in µs, see VersionedIdentity).
 */
export const SERVER_STAMP = `
local function server_stamp()
  local now = redis.call('TIME')
  return now[1] .. string.format('%06d', tonumber(now[2]))
end
`;

/**
 * Deleting a versioned structure: one script unlinks every key of it, takes its name out of the
 * names set and announces `<name> deleted` on the change channel. Replicas treat that message as
 * any other: they read the identity, find none, and drop their copy (the periodic check finds the
 * name gone, should the message be missed). A structure made again under the name is another
 * incarnation (its creation time, and its versions' stamps: see VersionedIdentity), so a replica
 * still holding the deleted one loads the new one whole instead of applying its changelog.
 */
export interface DeletedStructure {
  name: string;
  /** The last version it had. */
  version: number;
  /** The entries it held. */
  entries: number;
}

/**
 * Lua, for the delete scripts. `delete_structure(meta, entries, names, name, channel, unlink_keys)`
 * reads the version and entry count, calls `unlink_keys()` (which unlinks every key of the
 * structure it can name, leftovers of one without a version too), then, when there was a version,
 * removes the name and announces the deletion; returns { version, entries }, or false when the
 * structure did not exist. Keys named at run time (staged imports, flood counters) cannot be found
 * without walking the keyspace, which a script would do with Redis blocked: the caller sweeps them
 * afterwards with unlinkKeysByPrefix.
 */
export const DELETE_STRUCTURE = String.raw`
local function delete_structure(meta, entries, names, name, channel, unlink_keys)
  local version = redis.call('HGET', meta, 'version')
  local size = redis.call('HLEN', entries)
  unlink_keys()
  redis.call('SREM', names, name)
  if not version then return false end
  redis.call('PUBLISH', channel, name .. ' deleted')
  return { tonumber(version), size }
end
`;

/** A delete script's reply (see DELETE_STRUCTURE) as what was deleted; undefined when nothing was. */
export function deletedStructure(name: string, reply: unknown): DeletedStructure | undefined {
  if (!Array.isArray(reply)) return undefined;
  const [version, entries] = reply as [number, number];
  return { name, version, entries };
}
