/**
 * Hash sets for the embedded scan, without Redis: a directory of `<name>.<algorithm>.csv` files
 * (optionally `<name>.<algorithm>.<kind>.csv`, kind block, review or negative), each with the
 * columns hash, label, id and optionally quality (a header row naming them is optional; a PDQ hash
 * below the set's quality floor, or a blockhash that is a blank image's hash, is skipped), or a
 * `hashset export` as it is (its disabled entries stay disabled, its provenance is kept), or, for a
 * PDQ set, pdq-photo-hasher output (`hash,quality,filename`, see detectHashListFormat). Loaded
 * once into memory; each set's version is its file's digest, so verdicts say exactly which file
 * was consulted.
 *
 * As ABUSE_SCAN_LISTS_DIR's loader does for lists, a file meant as a set that is not one stops the
 * load (HashSetFileNameError, naming the file and the form expected; HashSetFileError for a file
 * with no entry to load): a scan must not run without a set it was given. Meant as a set: every `*.csv` file, and a file whose name ends in an algorithm
 * (and kind) before another extension (`csam.pdq.txt`: sets are read as CSV only). So do two files
 * of one set name (`csam.pdq.csv` and `csam.blockhash.csv`), naming both. Algorithm, kind and
 * `.csv` are read in any case (`csam.PDQ.CSV` is the PDQ set `csam`); the set name is kept as
 * written. Other files (README.md, notes.txt, `csam.pdq.csv.bak`) are not sets and are ignored, as
 * the lists loader ignores what is not `.txt` or `.csv`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ScanError } from '../errors.js';
import type { Logger } from '../runtime/logger.js';
import { BLANK_BLOCKHASH_REASON, blockhashEntryCanMatch, HASH_ALGORITHMS, HASH_SET_KINDS, passesQualityFloor, resolveHashSetConfig, type HashAlgorithm, type HashSetKind } from './hash-set-config.js';
import { detectHashListFormat, entryFromLine, FORMAT_SNIFF_BYTES, HashListHeaderError, readHashList, type BadHashLine } from './hash-list-parser.js';
import { HashSet } from './hash-set.js';

const ALGORITHM_AND_KIND = `\\.(${HASH_ALGORITHMS.join('|')})(?:\\.(${HASH_SET_KINDS.join('|')}))?`;
const FILE_NAME = new RegExp(`^([A-Za-z0-9][A-Za-z0-9_-]{0,63})${ALGORITHM_AND_KIND}\\.csv$`, 'i');
/** A file meant as a set whatever its extension: `<anything>.<algorithm>[.<kind>].<extension>` (letters and digits: not a backup's `.csv~`). */
const NAMES_AN_ALGORITHM = new RegExp(`${ALGORITHM_AND_KIND}\\.[a-z0-9]+$`, 'i');
/** The form expected, for errors. */
export const HASH_SET_FILE_FORM = `<name>.<${HASH_ALGORITHMS.join('|')}>[.<${HASH_SET_KINDS.join('|')}>].csv (name: letters, digits, _ and -, up to 64, starting with a letter or digit)`;

/** A file in the directory that is meant as a hash set but is not named as one, or two files of one set. */
export class HashSetFileNameError extends ScanError {
  constructor(message: string) {
    super('invalid_name', message);
    this.name = 'HashSetFileNameError';
  }
}

/**
 * A set file with no entry to load: empty, a header only, or every line bad (below the quality
 * floor, a blank blockhash, not a hash). Loaded, it would be a set matching nothing while verdicts
 * name it as consulted; `hashset import` refuses such a file too. Also a CSV whose header's only
 * hash column is named for the other algorithm (`blockhash` in a `.pdq.csv`), naming the column.
 */
export class HashSetFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashSetFileError';
  }
}

interface SetFile {
  file: string;
  name: string;
  algorithm: HashAlgorithm;
  kind: HashSetKind;
}

/** The set files of a directory listing, checked before any is read (see the module comment). */
function setFiles(dir: string, files: string[]): SetFile[] {
  const sets: SetFile[] = [];
  const fileOfName = new Map<string, string>();
  for (const file of files) {
    const meant = /\.csv$/i.test(file) || NAMES_AN_ALGORITHM.test(file);
    if (!meant) continue;
    const parts = FILE_NAME.exec(file);
    if (!parts) throw new HashSetFileNameError(`${join(dir, file)}: not a hash-set file name: expected ${HASH_SET_FILE_FORM}`);
    const name = parts[1]!;
    const other = fileOfName.get(name);
    if (other !== undefined) {
      throw new HashSetFileNameError(`${join(dir, other)} and ${join(dir, file)}: both are hash set ${JSON.stringify(name)} (one file per set: merge them or rename one)`);
    }
    fileOfName.set(name, file);
    sets.push({ file, name, algorithm: parts[2]!.toLowerCase() as HashAlgorithm, kind: (parts[3]?.toLowerCase() as HashSetKind | undefined) ?? 'block' });
  }
  return sets;
}

export interface DirectoryLoadResult {
  sets: HashSet[];
  /** Lines skipped, per file. */
  skipped: Array<{ file: string } & BadHashLine>;
}

/**
 * Loads every hash-set file in `dir`; bad lines are skipped and returned; a misnamed set file, or
 * two of one set, throws HashSetFileNameError before anything is read, and a set file with no
 * entry to load throws HashSetFileError; other files are ignored.
 */
export async function loadHashSetDirectory(dir: string, logger?: Logger): Promise<DirectoryLoadResult> {
  const sets: HashSet[] = [];
  const skipped: DirectoryLoadResult['skipped'] = [];
  const loadedAt = new Date().toISOString();
  for (const { file, name, algorithm, kind } of setFiles(dir, readdirSync(dir).sort())) {
    const config = resolveHashSetConfig({ name, algorithm, kind });
    const bytes = readFileSync(join(dir, file));
    const set = new HashSet(config, { versionTag: `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}` });
    const format = detectHashListFormat(bytes.subarray(0, FORMAT_SNIFF_BYTES).toString('utf8'), algorithm) ?? 'csv';
    try {
      for await (const result of readHashList(Readable.from([bytes]), format, algorithm)) {
        if (!result.ok) {
          skipped.push({ file, ...result.bad });
          continue;
        }
        const { entry } = result;
        if (!passesQualityFloor(config, entry.quality)) {
          skipped.push({ file, line: entry.line, reason: `PDQ quality ${entry.quality} below the floor of ${config.minQuality}` });
          continue;
        }
        if (!blockhashEntryCanMatch(config, entry.hash)) {
          skipped.push({ file, line: entry.line, reason: BLANK_BLOCKHASH_REASON });
          continue;
        }
        const outcome = set.add(entryFromLine(entry, { source: file, at: loadedAt }));
        if (outcome === 'conflict') skipped.push({ file, line: entry.line, reason: `id ${entry.id} repeated with another hash` });
      }
    } catch (error) {
      // A header whose only hash column is the other algorithm's (`blockhash` in a PDQ set): the file is no set of this algorithm.
      if (!(error instanceof HashListHeaderError)) throw error;
      throw new HashSetFileError(`${join(dir, file)}:${error.line}: ${error.message}`);
    }
    if (set.size === 0) {
      const first = skipped.find((bad) => bad.file === file);
      const why = first ? `every line was skipped (line ${first.line}: ${first.reason})` : 'it holds no hash';
      throw new HashSetFileError(`${join(dir, file)}: no entry to load: ${why}`);
    }
    sets.push(set);
    logger?.info({ hashSet: config.name, file, format, entries: set.size, version: set.version }, 'hash set loaded from file');
  }
  for (const bad of skipped) logger?.warn(bad, 'hash set file line skipped');
  return { sets, skipped };
}
