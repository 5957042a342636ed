/**
 * Where a hash set lives in Redis. Every key starts with the fleet prefix (a Cluster hash tag), so
 * a set's keys share one slot with the queues and its multi-key scripts run on a cluster.
 *
 *   <prefix>:hashsets                      SET: names of every set
 *   <prefix>:hashset:<name>:meta           HASH: config (JSON), version, nextEntryNo, matches, createdAt
 *   <prefix>:hashset:<name>:entries        HASH: id -> entry number (4 bytes BE), flags (1 byte), hash bytes
 *   <prefix>:hashset:<name>:info           HASH: id -> JSON { label, source, addedAt, addedBy, disabled }
 *   <prefix>:hashset:<name>:ids            HASH: entry number -> id (evidence for a match)
 *   <prefix>:hashset:<name>:log            STREAM: one entry per change, id <version>-<n>
 *   <prefix>:hashset:<name>:quarantine     HASH: id -> JSON { at, items, windowSeconds }
 *   <prefix>:hashset:<name>:flood:<no>:<w> HyperLogLog of items entry <no> matched in window <w>
 *   <prefix>:hashset-changes               pub/sub channel: "<name> <version>" after every change
 *
 * `entries` holds only what a worker's index needs, 37 bytes a value, so a cold load reads it
 * alone; labels and provenance in `info` are read only for matched entries.
 */
export interface HashSetKeys {
  meta: string;
  entries: string;
  info: string;
  ids: string;
  log: string;
  quarantine: string;
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
    flood: (entryNo, window) => `${base}:flood:${entryNo}:${window}`,
  };
}

export function hashSetNamesKey(prefix: string): string {
  return `${prefix}:hashsets`;
}

export function hashSetChannel(prefix: string): string {
  return `${prefix}:hashset-changes`;
}

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
