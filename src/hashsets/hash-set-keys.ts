/**
 * Where a hash set lives in Redis. Every key starts with the fleet prefix (a Cluster hash tag), so
 * a set's keys share one slot with the queues and its multi-key scripts run on a cluster.
 *
 *   <prefix>:hashsets                      SET: names of every set
 *   <prefix>:hashset:<name>:meta           HASH: config (JSON), version, nextEntryNo, matches, suppressions, createdAt, stamp (of the version),
 *                                          createdStamp (of the creation: with createdAt, the incarnation; see HashSetIncarnation)
 *   <prefix>:hashset:<name>:entries        HASH: id -> entry number (4 bytes BE), flags (1 byte), hash bytes
 *   <prefix>:hashset:<name>:info           HASH: id -> JSON { label, source, addedAt, addedBy, disabled }
 *   <prefix>:hashset:<name>:ids            HASH: entry number -> id (evidence for a match)
 *   <prefix>:hashset:<name>:pack:<b>       STRING: entries b*4096 .. b*4096+4095 packed, per entry number
 *                                          a state byte (0 absent, 1 enabled, 2 disabled) and the hash
 *   <prefix>:hashset:<name>:packlive       HASH: bucket b -> entries in pack b not removed (disabled ones
 *                                          included); no field: a bucket begun before counts were kept
 *                                          (never unlinked), or one with no pack
 *   <prefix>:hashset:<name>:log            STREAM: one entry per change, id <version>-<n>
 *   <prefix>:hashset:<name>:quarantine     HASH: id -> JSON { at, items, windowSeconds }
 *   <prefix>:hashset:<name>:flood:<no>:<w> HyperLogLog of items entry <no> matched in window <w>
 *   <prefix>:hashset-changes               pub/sub channel: "<name> <version>" after every change, "<name> deleted" after a deletion
 *   <prefix>:hashset-tombstones            HASH: name -> the last version of the set deleted under that name, until one is
 *                                          created again (whose versions go on after it); a deletion keeps this key
 *
 * `entries` answers questions by id (is it there, with which hash). The packs are the same data
 * laid out by entry number for workers: a cold load reads a few thousand 132 KiB strings with GET
 * (~10x faster than HSCAN over millions of fields) and nothing else; labels and provenance in `info`
 * are read only for matched entries. Entry numbers are never reused, so removed entries leave holes;
 * a pack whose every entry was removed is unlinked (by its count in `packlive`, checked against its
 * state bytes first), so a rotating feed (new hashes added, old ones removed) keeps only the packs
 * of live entries, and a cold load skips the missing ones.
 * The scripts name pack keys themselves (the entry number is assigned inside them), and the removal
 * names the flood counters of the entries it removes, and a deletion finds them by SCAN; the keys share
 * the prefix's hash tag, so they live in the same Cluster slot as the declared ones.
 */
export interface HashSetKeys {
  meta: string;
  entries: string;
  info: string;
  ids: string;
  log: string;
  quarantine: string;
  /** Entries not removed, per pack bucket (see the comment above). */
  packLive: string;
  /** Pack key names are this plus the bucket number. */
  packPrefix: string;
  /** Flood counter key names are this plus `<entry number>:<window>` (see `flood`). */
  floodPrefix: string;
  flood(entryNo: number, window: number): string;
}

export function hashSetKeys(prefix: string, name: string): HashSetKeys {
  const base = `${prefix}:hashset:${name}`;
  return {
    meta: `${base}:meta`,
    entries: `${base}:entries`,
    info: `${base}:info`,
    ids: `${base}:ids`,
    log: `${base}:log`,
    quarantine: `${base}:quarantine`,
    packLive: `${base}:packlive`,
    packPrefix: `${base}:pack:`,
    floodPrefix: `${base}:flood:`,
    flood: (entryNo, window) => `${base}:flood:${entryNo}:${window}`,
  };
}

export function hashSetNamesKey(prefix: string): string {
  return `${prefix}:hashsets`;
}

/**
 * Version numbers name one set's contents only if a set created again under a deleted one's name
 * does not count them again from 0: a verdict naming `<name>@3` before and after would not tell
 * an audit which entries were consulted. The deletion writes the last version here in the same
 * script, and the creation starts after it.
 */
export function hashSetTombstonesKey(prefix: string): string {
  return `${prefix}:hashset-tombstones`;
}

export function hashSetChannel(prefix: string): string {
  return `${prefix}:hashset-changes`;
}

/** Entry numbers per pack string. */
export const PACK_ENTRIES = 4096;
/** State byte of an entry in a pack. */
export const PACK_ABSENT = 0;
export const PACK_ENABLED = 1;
export const PACK_DISABLED = 2;

/** Bytes before the hash in an `entries` value: entry number (uint32 BE) and flags. */
export const ENTRY_HEADER_BYTES = 5;
/** Flag bit: the entry is disabled (kept, never matched). */
export const FLAG_DISABLED = 1;

export interface PackedEntry {
  entryNo: number;
  disabled: boolean;
  hash: Uint8Array;
}

export function unpackEntry(value: Buffer): PackedEntry {
  return {
    entryNo: value.readUInt32BE(0),
    disabled: (value[4]! & FLAG_DISABLED) !== 0,
    hash: new Uint8Array(value.buffer, value.byteOffset + ENTRY_HEADER_BYTES, value.length - ENTRY_HEADER_BYTES),
  };
}
