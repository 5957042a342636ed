import type { RedisClient } from './redis.js';

/**
 * Reading the changelog of a versioned Redis structure (a URL list, a hash set): a stream whose
 * entry ids are `<version>-<n>`, every version's records appended together with the version bump,
 * its first with n = 0. Replicas apply the records after the version they hold; anything that
 * breaks the chain (records trimmed, a version without records, a record the caller cannot
 * apply, the structure made again under the same name) is a gap: the caller loads it whole.
 */

/** Which incarnation of the structure, at which version: `createdAt` tells a re-creation apart. */
export interface VersionedIdentity {
  version: number;
  createdAt: string;
}

export type ChangelogSince<T> = { gap: false; changes: T[]; version: number } | { gap: true; version: number };

export interface ChangelogRead<T> {
  redis: RedisClient;
  logKey: string;
  /** The version the caller holds: records after it are read. */
  version: number;
  /** The incarnation the caller loaded; a different one since is a gap whatever its version. */
  createdAt?: string;
  /** The structure's identity now (undefined: it does not exist). */
  identity: () => Promise<VersionedIdentity | undefined>;
  /** One record; undefined for one that cannot be applied (a `reload`, an unknown op): a gap. */
  parse: (version: number, fields: Buffer[]) => T | undefined;
}

const PAGE = 10_000;

export async function readChangelogSince<T>(read: ChangelogRead<T>): Promise<ChangelogSince<T>> {
  const { redis, logKey, version, createdAt } = read;
  const recreated = (identity: VersionedIdentity | undefined) => identity === undefined || (createdAt !== undefined && identity.createdAt !== createdAt);
  const before = await read.identity();
  const current = before?.version;
  if (current === undefined || current < version || recreated(before)) return { gap: true, version: current ?? 0 };
  const changes: T[] = [];
  let reached = version;
  let start = `${version + 1}-0`;
  for (;;) {
    const page = await redis.xrangeBuffer(logKey, start, '+', 'COUNT', PAGE);
    for (const [rawId, fields] of page) {
      const [major, minor] = rawId.toString().split('-').map(Number) as [number, number];
      if (major !== reached && !(major === reached + 1 && minor === 0)) return { gap: true, version: current };
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
  if (createdAt !== undefined && recreated(await read.identity())) return { gap: true, version: current };
  return { gap: false, changes, version: reached };
}
