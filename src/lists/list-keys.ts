import { ScanError } from '../errors.js';

/**
 * Where lists live in Redis. Every key starts with the fleet prefix (a Cluster hash tag), so a
 * list's keys share one slot and its scripts may touch them together.
 *
 *   <prefix>:lists                      SET: names of every list
 *   <prefix>:list:<name>:meta           HASH: version (bumped by every change), role, action, updatedAt, createdAt (set when the list is made), stamp (of the version)
 *   <prefix>:list:<name>:entries        HASH: `<kind letter>:<canonical value>` -> `<addedAt> <JSON info>` (an http(s) URL
 *                                       under the scheme it was first added with: one entry for both, see entryIdentity)
 *   <prefix>:list:<name>:log            STREAM: entry-level changes, id <version>-<n> (see list-scripts.ts)
 *   <prefix>:list:<name>:staging:<id>   HASH: a staged change being written: the whole new entries of a replacing
 *                                       import or of a list with none yet (renamed onto `entries` at commit), else only
 *                                       the change (field -> new value, '' to remove), applied to `entries` at commit
 *   <prefix>:list:<name>:staging:<id>:log  HASH: a whole staging's changes (field -> value, '' removed), logged at commit
 *   <prefix>:list:<name>:staging:<id>:copy  HASH: a copy of the entries, made page by page, with a change too large
 *                                       to apply in one script applied to it; renamed onto `entries` at commit
 *   <prefix>:list-changes               pub/sub channel: "<name> <version>" after every change, "<name> deleted" after a deletion
 *   <prefix>:list-tombstones            HASH: name -> the last version of the list deleted under that name, until one is
 *                                       made again (whose versions go on after it); a deletion keeps this key
 */
export interface ListKeys {
  meta: string;
  entries: string;
  log: string;
  /** Every staging key's name starts with this (a deletion unlinks them by it). */
  stagingPrefix: string;
  staging(id: string): string;
  stagingLog(id: string): string;
  stagingCopy(id: string): string;
}

export function listKeys(prefix: string, name: string): ListKeys {
  const base = `${prefix}:list:${name}`;
  return {
    meta: `${base}:meta`,
    entries: `${base}:entries`,
    log: `${base}:log`,
    stagingPrefix: `${base}:staging:`,
    staging: (id) => `${base}:staging:${id}`,
    stagingLog: (id) => `${base}:staging:${id}:log`,
    stagingCopy: (id) => `${base}:staging:${id}:copy`,
  };
}

export function listNamesKey(prefix: string): string {
  return `${prefix}:lists`;
}

/**
 * Version numbers name one list's contents only if a list made again under a deleted one's name
 * does not count them again from 1: a verdict naming `<name>@2` before and after would not tell an
 * audit which entries were consulted. The deletion writes the last version here in the same
 * script, and the making of the list starts after it.
 */
export function listTombstonesKey(prefix: string): string {
  return `${prefix}:list-tombstones`;
}

export function listChannel(prefix: string): string {
  return `${prefix}:list-changes`;
}

/** List names: letters, digits, `.`, `_`, `-`, at most 64; they become part of keys and file names. */
export const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertListName(name: string): void {
  if (!LIST_NAME.test(name)) throw new ScanError('invalid_name', `invalid list name ${JSON.stringify(name)}: letters, digits, ".", "_", "-" (at most 64)`);
}
