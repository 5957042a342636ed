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
 * A set's settings (threshold, quality floor, flood guard) are those of the file's settings line
 * (`# abuse-scan hash set: algorithm=pdq kind=block threshold=8 ...`, which `hashset export` writes
 * first; see readHashSetSettings), so that an export loads with the settings the set had in Redis;
 * what the line does not give, and every setting of a file without one, takes the defaults
 * (`hashset create`'s). A settings line that cannot be read (an unknown key, a bad value, two of
 * them), or whose algorithm or kind is not the one the file name says (a name without a kind is a
 * block set), refuses the file (HashSetFileError): the name says how the set is used, the line how
 * it was, and a set loaded under either one but not the other would match differently from what
 * its operator meant.
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
import {
  BLANK_BLOCKHASH_REASON,
  blockhashEntryCanMatch,
  HASH_ALGORITHMS,
  HASH_SET_KINDS,
  hashSetSettingsInput,
  passesQualityFloor,
  resolveHashSetConfig,
  type HashAlgorithm,
  type HashSetConfig,
  type HashSetKind,
} from './hash-set-config.js';
import { detectHashListFormat, entryFromLine, FORMAT_SNIFF_BYTES, HashListHeaderError, HashListSettingsError, readHashList, readHashSetSettings, type BadHashLine } from './hash-list-parser.js';
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
 * hash column is named for the other algorithm (`blockhash` in a `.pdq.csv`), naming the column,
 * and a file whose settings line cannot be read or contradicts its name (see the module comment).
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
    const bytes = readFileSync(join(dir, file));
    const head = bytes.subarray(0, FORMAT_SNIFF_BYTES).toString('utf8');
    const config = fileConfig(join(dir, file), { name, algorithm, kind }, head);
    const set = new HashSet(config, { versionTag: `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}` });
    const format = detectHashListFormat(head, algorithm) ?? 'csv';
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
    logger?.info(
      { hashSet: config.name, file, format, entries: set.size, version: set.version, threshold: config.threshold, kind: config.kind, minQuality: config.minQuality, flood: config.flood },
      'hash set loaded from file',
    );
  }
  for (const bad of skipped) logger?.warn(bad, 'hash set file line skipped');
  return { sets, skipped };
}

/**
 * A set file's configuration: its name's algorithm and kind, and the rest from its settings line
 * (defaults for what the line does not give, or without one). Throws HashSetFileError for a line
 * that cannot be read or that names another algorithm or kind than the file name.
 */
function fileConfig(path: string, named: { name: string; algorithm: HashAlgorithm; kind: HashSetKind }, head: string): HashSetConfig {
  let found: ReturnType<typeof readHashSetSettings>;
  try {
    found = readHashSetSettings(head);
  } catch (error) {
    if (!(error instanceof HashListSettingsError)) throw error;
    throw new HashSetFileError(`${path}:${error.line}: ${error.message}`);
  }
  if (found === undefined) return resolveHashSetConfig(named);
  const { line, settings } = found;
  if (settings.algorithm !== undefined && settings.algorithm !== named.algorithm) {
    throw new HashSetFileError(`${path}:${line}: the settings line says algorithm=${settings.algorithm} and the file name says ${named.algorithm} (name it ${named.name}.${settings.algorithm}${settings.kind && settings.kind !== 'block' ? `.${settings.kind}` : ''}.csv)`);
  }
  if (settings.kind !== undefined && settings.kind !== named.kind) {
    const expected = `${named.name}.${named.algorithm}${settings.kind === 'block' ? '' : `.${settings.kind}`}.csv`;
    throw new HashSetFileError(
      `${path}:${line}: the settings line says kind=${settings.kind} and the file name says ${named.kind}${named.kind === 'block' ? ' (a name without a kind is a block set)' : ''} (name it ${expected})`,
    );
  }
  return resolveHashSetConfig({ ...named, ...hashSetSettingsInput(settings), kind: named.kind });
}
