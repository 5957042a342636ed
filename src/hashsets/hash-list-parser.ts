/**
 * Reads hash lists one record at a time: a plain list of hex hashes, one a line; the output of
 * Meta's pdq-photo-hasher (`hash,quality,filename` a line, no header); or CSV (as
 * src/formats/csv.ts reads it, RFC 4180 with quoted line breaks: a quoted cell may hold commas, ""
 * and line breaks, so that labels read back whole) with the columns hash-sharing exports use
 * (hash, label or tags, id, optionally quality) and those of our own export (source, added_at,
 * added_by, disabled_reason), so an export imports back as it was. Each record is parsed on its own,
 * so a bad one is reported with the number of the line it starts on and the rest go on.
 * A parser reads for one set's algorithm: a column named for the other algorithm (`blockhash` in a
 * PDQ set) is never its hash column, since both hashes are 256 bits and would load without a word
 * and never match, and a `signal_type` column's rows of another type are bad lines.
 * detectHashListFormat tells the format from a file's first record, whatever its name, and
 * readHashSetSettings the set's settings from the `# abuse-scan hash set:` line `hashset export`
 * writes above it (a comment: the parser skips it as it skips every `#` line, in every format).
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { isScanError } from '../errors.js';
import { MAX_CSV_RECORD_LINES, parseCsvCells, RecordSplitter, type TextRecord } from '../formats/csv.js';
import { hexToHash, type HashBytes } from '../matching/hash-bits.js';
import { HASH_ALGORITHMS, HASH_BITS, HashSetSettingsError, parseHashSetSettingsLine, type HashAlgorithm, type HashSetSettings } from './hash-set-config.js';
import type { NewHashSetEntry } from './hash-set.js';

export const HASH_LIST_FORMATS = ['hex', 'csv', 'pdq-photo-hasher'] as const;
export type HashListFormat = (typeof HASH_LIST_FORMATS)[number];

export interface ParsedHashLine {
  line: number;
  /** The id column, or the hash's lower-case hex when there is none (so re-imports are no-ops). */
  id: string;
  hash: HashBytes;
  label?: string;
  /** PDQ quality when the file has the column. */
  quality?: number;
  /**
   * An export's provenance, when the file has any of its columns (source, added_at, added_by):
   * taken as it is, empty cells included, so that importing an export changes nothing.
   */
  provenance?: Provenance;
  /** An export's disabled_reason: the entry was disabled, and comes back disabled. */
  disabledReason?: string;
}

export interface Provenance {
  source?: string;
  /** ISO time. */
  addedAt?: string;
  addedBy?: string;
}

export interface BadHashLine {
  line: number;
  reason: string;
}

export type HashLineResult = { ok: true; entry: ParsedHashLine } | { ok: false; bad: BadHashLine };

/**
 * Header names accepted for each column (lower case). `hash` lists the names that say nothing of the
 * algorithm; a column named for one (ALGORITHM_HASH_COLUMNS) is preferred over them in a set of
 * that algorithm and never read in a set of the other.
 */
const COLUMN_NAMES = {
  hash: ['hash', 'signal', 'signal_value', 'value', 'hash_value'],
  /** A ThreatExchange-style export's signal type: rows of another type than the set's are bad lines. */
  signalType: ['signal_type'],
  label: ['label', 'tags', 'tag', 'description'],
  id: ['id', 'signal_id', 'hash_id', 'entry_id'],
  quality: ['quality', 'pdq_quality'],
  source: ['source'],
  addedAt: ['added_at'],
  addedBy: ['added_by'],
  disabledReason: ['disabled_reason'],
} as const;
type Column = keyof typeof COLUMN_NAMES;

/** Hash columns named for an algorithm (lower case): the `pdq` and `blockhash` of `abuse-scan hash --json`. */
const ALGORITHM_HASH_COLUMNS: Record<HashAlgorithm, readonly string[]> = { pdq: ['pdq'], blockhash: ['blockhash'] };

/** signal_type values (lower case) meaning each algorithm: ours, and ThreatExchange's `HASH_PDQ` for PDQ. */
const SIGNAL_TYPES: Record<HashAlgorithm, readonly string[]> = { pdq: ['pdq', 'hash_pdq'], blockhash: ['blockhash'] };

/**
 * A CSV header the set cannot read: its only hash column is named for the other algorithm
 * (`id,blockhash` imported into a PDQ set). Thrown for the header line, before any entry is read:
 * the whole file is refused rather than every line skipped or, as before, loaded as the wrong hash.
 * The message names the column and the set's algorithm; callers put the file and `line` before it.
 */
export class HashListHeaderError extends Error {
  constructor(
    readonly line: number,
    readonly column: string,
    readonly algorithm: HashAlgorithm,
  ) {
    super(
      `the header's hash column ${JSON.stringify(column)} holds ${column} hashes and this is a ${algorithm} set ` +
        `(name the ${algorithm} hashes' column ${ALGORITHM_HASH_COLUMNS[algorithm].map((name) => JSON.stringify(name)).join(' or ')} or ${JSON.stringify('hash')})`,
    );
    this.name = 'HashListHeaderError';
  }
}

/** Without a header, CSV columns are hash, label, id and optionally quality (`hash,label,id[,quality]`). */
const POSITIONAL: HeaderColumns = { at: { hash: 0, label: 1, id: 2, quality: 3 }, names: {} };

/** Longest id accepted: ids are Redis hash fields and go into verdicts. */
export const MAX_ID_LENGTH = 256;

/**
 * Why an entry id cannot be stored, or undefined when it can: what an import refuses (longer than
 * MAX_ID_LENGTH) and what it cannot read back (an empty id cell reads as no id, so the entry would
 * come back under its hash's hex). HashSetStore.add refuses these too, so that no writer stores an
 * entry that `hashset export` then `import` would lose or rename.
 */
export function entryIdRefusal(id: string): string | undefined {
  if (id === '') return 'id is empty (an empty id reads back as the hash hex)';
  if (id.length > MAX_ID_LENGTH) return `id longer than ${MAX_ID_LENGTH} characters`;
  return undefined;
}

/** An entry id a hash set cannot hold (see entryIdRefusal), naming the id and why. */
export class EntryIdError extends Error {
  constructor(
    readonly id: string,
    readonly refusal: string,
  ) {
    super(`${refusal}: ${JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id)}`);
    this.name = 'EntryIdError';
  }
}

export class HashListParser {
  private header: HeaderColumns | undefined;
  readonly bits: number;

  /** Reads `format` for a set of `algorithm`: its hash length, and which CSV columns and rows are its hashes. */
  constructor(
    readonly format: HashListFormat,
    readonly algorithm: HashAlgorithm,
  ) {
    this.bits = HASH_BITS[algorithm];
  }

  private get columns(): Partial<Record<Column, number>> | undefined {
    return this.header?.at;
  }

  /**
   * Parses one record (RecordSplitter has left out blank lines and `#` comments); null for the CSV
   * header. Throws HashListHeaderError for a header whose only hash column is the other algorithm's.
   */
  parseLine(text: string, line: number): HashLineResult | null {
    if (this.format === 'hex') return this.hexLine(text, line);
    if (this.format === 'pdq-photo-hasher') return this.photoHasherLine(text, line);

    const { cells } = parseCsvCells(text);
    if (this.header === undefined) {
      this.header = headerColumns(cells, this.algorithm, line);
      if (this.header) return null;
      this.header = POSITIONAL;
    }
    const cell = (column: Column): string | undefined => {
      const at = this.columns![column];
      const value = at === undefined ? undefined : cells[at];
      return value === '' ? undefined : value;
    };
    if (this.columns!.signalType !== undefined) {
      const typeColumn = this.header.names.signalType!;
      const type = cell('signalType')?.trim();
      if (type === undefined || type === '') return { ok: false, bad: { line, reason: `no ${typeColumn} (this set holds ${this.algorithm} hashes)` } };
      if (!SIGNAL_TYPES[this.algorithm].includes(type.toLowerCase())) {
        return { ok: false, bad: { line, reason: `${typeColumn} ${type.length > 80 ? `${type.slice(0, 80)}…` : type} is not ${this.algorithm}` } };
      }
    }
    const hashText = cell('hash');
    if (hashText === undefined) return { ok: false, bad: { line, reason: 'no hash column' } };
    return this.entry(line, hashText, {
      label: cell('label'),
      id: cell('id'),
      quality: cell('quality'),
      source: cell('source'),
      addedAt: cell('addedAt'),
      addedBy: cell('addedBy'),
      disabledReason: cell('disabledReason'),
    });
  }

  /**
   * A hex list's line: one hash and nothing else. Anything after it (a quality, a label, an id) is
   * refused rather than dropped: a quality dropped would let the entry past the set's floor.
   */
  private hexLine(text: string, line: number): HashLineResult {
    const [hex, ...rest] = text.trim().split(/[\s,]+/);
    if (rest.length > 0) {
      return { ok: false, bad: { line, reason: 'a hex list holds one hash a line and this line has more (for hash,label,id or hash,quality,filename use --format csv or --format pdq-photo-hasher)' } };
    }
    return this.entry(line, hex!, {});
  }

  /**
   * pdq-photo-hasher's `hash,quality,filename`: split at the first two commas only (the tool
   * writes the file name as it is, commas and quotes included); the file name is the id (the hash
   * when it is empty) and the quality is required.
   */
  private photoHasherLine(text: string, line: number): HashLineResult {
    const first = text.indexOf(',');
    const second = first < 0 ? -1 : text.indexOf(',', first + 1);
    if (second < 0) return { ok: false, bad: { line, reason: 'expected hash,quality,filename (pdq-photo-hasher output)' } };
    const quality = text.slice(first + 1, second).trim();
    if (quality === '') return { ok: false, bad: { line, reason: 'no quality (pdq-photo-hasher output is hash,quality,filename)' } };
    const file = text.slice(second + 1).trim();
    return this.entry(line, text.slice(0, first).trim(), { quality, ...(file !== '' && { id: file }) });
  }

  private get hasProvenance(): boolean {
    const columns = this.columns ?? {};
    return columns.source !== undefined || columns.addedAt !== undefined || columns.addedBy !== undefined;
  }

  private entry(line: number, hex: string, cells: Partial<Record<Exclude<Column, 'hash'>, string>>): HashLineResult {
    let hash: HashBytes;
    try {
      hash = hexToHash(hex, this.bits);
    } catch (error) {
      if (!isScanError(error)) throw error;
      return { ok: false, bad: { line, reason: error.message } };
    }
    const { id, quality: qualityText, addedAt } = cells;
    const idRefused = id === undefined ? undefined : entryIdRefusal(id);
    if (idRefused !== undefined) return { ok: false, bad: { line, reason: idRefused } };
    let quality: number | undefined;
    if (qualityText !== undefined) {
      // Digits only: Number() would read 0x50, 8e1 and 80.0 as 80.
      if (!QUALITY.test(qualityText.trim())) return { ok: false, bad: { line, reason: `quality must be an integer 0-100, got ${JSON.stringify(qualityText)}` } };
      quality = Number(qualityText);
    }
    if (addedAt !== undefined && Number.isNaN(Date.parse(addedAt))) {
      return { ok: false, bad: { line, reason: `added_at must be a date, got ${JSON.stringify(addedAt.slice(0, 80))}` } };
    }
    const entry: ParsedHashLine = { line, id: id ?? hex.trim().toLowerCase(), hash };
    if (cells.label !== undefined) entry.label = cells.label;
    if (quality !== undefined) entry.quality = quality;
    if (this.hasProvenance) {
      entry.provenance = {};
      if (cells.source !== undefined) entry.provenance.source = cells.source;
      if (addedAt !== undefined) entry.provenance.addedAt = addedAt;
      if (cells.addedBy !== undefined) entry.provenance.addedBy = cells.addedBy;
    }
    if (cells.disabledReason !== undefined) entry.disabledReason = cells.disabledReason;
    return { ok: true, entry };
  }
}

/**
 * The entry a parsed line stands for: with the file's provenance when it has those columns, else
 * `defaults`'s (source, addedBy; addedAt is then the time of adding); disabled at `at` when the
 * line gives a disabled_reason. Every importer goes through this, so that an export read back
 * changes nothing.
 */
export function entryFromLine(line: ParsedHashLine, defaults: Provenance & { at: string }): NewHashSetEntry {
  const { source, addedBy, addedAt } = line.provenance ?? defaults;
  const entry: NewHashSetEntry = { id: line.id, hash: line.hash };
  if (line.label !== undefined) entry.label = line.label;
  if (source !== undefined) entry.source = source;
  if (addedBy !== undefined) entry.addedBy = addedBy;
  if (addedAt !== undefined) entry.addedAt = addedAt;
  if (line.disabledReason !== undefined) entry.disabled = { reason: line.disabledReason, at: defaults.at };
  return entry;
}

/** A CSV's columns: each one's position, and the header's name for it (lower case). */
interface HeaderColumns {
  at: Partial<Record<Column, number>>;
  names: Partial<Record<Column, string>>;
}

/** Every header name of a hash column, whatever the algorithm: a row naming one is a header. */
const ANY_HASH_COLUMN: readonly string[] = [...COLUMN_NAMES.hash, ...HASH_ALGORITHMS.flatMap((algorithm) => ALGORITHM_HASH_COLUMNS[algorithm])];

const headerNames = (cells: string[]): string[] => cells.map((cell) => cell.trim().toLowerCase());

/** Whether `cells` is a header row: it names a hash column (of either algorithm). */
function isHeader(cells: string[]): boolean {
  return headerNames(cells).some((name) => ANY_HASH_COLUMN.includes(name));
}

/**
 * Column positions when `cells` is a header row (it names a hash column), else undefined. The hash
 * column is the one named for `algorithm` (`pdq` in a PDQ set) when there is one, else one whose
 * name says nothing of the algorithm (`hash`, `signal_value`...); a column named for the other
 * algorithm never is: when it is the only hash column, the header is refused (HashListHeaderError).
 */
function headerColumns(cells: string[], algorithm: HashAlgorithm, line: number): HeaderColumns | undefined {
  if (!isHeader(cells)) return undefined;
  const names = headerNames(cells);
  const header: HeaderColumns = { at: {}, names: {} };
  const take = (column: Column, accepted: readonly string[]): void => {
    const at = names.findIndex((name) => accepted.includes(name));
    if (at < 0) return;
    header.at[column] = at;
    header.names[column] = names[at]!;
  };
  for (const column of Object.keys(COLUMN_NAMES) as Column[]) take(column, COLUMN_NAMES[column]);
  take('hash', [...ALGORITHM_HASH_COLUMNS[algorithm]]);
  if (header.at.hash === undefined) {
    const other = names.find((name) => ANY_HASH_COLUMN.includes(name))!;
    throw new HashListHeaderError(line, other, algorithm);
  }
  return header;
}

/** Bytes of a file's start detectHashListFormat needs at most (its first record is in them). */
export const FORMAT_SNIFF_BYTES = 64 * 1024;

/** A PDQ quality as written: an integer 0-100 in decimal digits. */
const QUALITY = /^(?:100|[0-9]{1,2})$/;

/**
 * The format a hash list's first record (blank lines and `#` comments skipped) says it has, or
 * undefined when it says nothing (then the caller goes by the file name):
 * - a CSV header (at least two cells, one naming a hash column: `hash,label,id`, our export's
 *   `hash,label,id,source,...`, `id,hash,tags`, `signal_type,signal_value`): csv, whatever the
 *   file is called (an export saved as backup.txt must not lose its ids, labels and disabled flags);
 * - for a PDQ set, exactly three cells: 64 hex digits, an integer 0-100 and a non-empty third:
 *   pdq-photo-hasher output (`hash,quality,filename`), whose quality must meet the set's floor.
 *   Header-less `hash,label,id` with a numeric label 0-100 reads the same way: a header row, or
 *   `--format csv`, reads it as label. The third cell is the id in both layouts.
 * `head` is the file's start (FORMAT_SNIFF_BYTES are enough), as text.
 */
export function detectHashListFormat(head: string, algorithm: HashAlgorithm): HashListFormat | undefined {
  const first = new RecordSplitter({ quotedLineBreaks: false }).push(head, true)[0];
  if (first === undefined) return undefined;
  const { cells } = parseCsvCells(first.text);
  if (cells.length >= 2 && isHeader(cells)) return 'csv';
  if (algorithm === 'pdq' && cells.length === 3 && /^[0-9a-fA-F]{64}$/.test(cells[0]!) && QUALITY.test(cells[1]!) && cells[2] !== '') {
    return 'pdq-photo-hasher';
  }
  return undefined;
}

/**
 * Every record of `input` parsed in order (blank lines, comments and the header skipped), for a set
 * of `algorithm`. Throws HashListHeaderError when the CSV header names only the other algorithm's
 * hash column.
 */
export async function* readHashList(input: Readable, format: HashListFormat, algorithm: HashAlgorithm): AsyncGenerator<HashLineResult> {
  const parser = new HashListParser(format, algorithm);
  const splitter = new RecordSplitter({ quotedLineBreaks: format === 'csv' });
  const decoder = new StringDecoder('utf8');
  const results = function* (records: TextRecord[]): Generator<HashLineResult> {
    for (const record of records) {
      if (record.unclosed) {
        yield { ok: false, bad: { line: record.line, reason: `a quoted field is not closed within ${MAX_CSV_RECORD_LINES} lines or by the end of the file` } };
        continue;
      }
      const result = parser.parseLine(record.text, record.line);
      if (result) yield result;
    }
  };
  for await (const chunk of input as AsyncIterable<string | Buffer>) yield* results(splitter.push(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
  yield* results(splitter.push(decoder.end(), true));
}

/** A settings line that cannot be read (HashSetSettingsError), with the number of its line. */
export class HashListSettingsError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'HashListSettingsError';
  }
}

/**
 * The settings line (`# abuse-scan hash set: key=value ...`, see formatHashSetSettingsLine) among
 * the comment and blank lines at the top of a hash list, before its first record, with its line
 * number; undefined when there is none (the set's own, or the default, settings then apply). A
 * settings line further down is an ordinary comment. Throws HashListSettingsError for a settings
 * line that cannot be read whole (an unknown key, a bad value) and for a second one. `head` is the
 * file's start as text (FORMAT_SNIFF_BYTES, as detectHashListFormat takes).
 */
export function readHashSetSettings(head: string): { line: number; settings: HashSetSettings } | undefined {
  let found: { line: number; settings: HashSetSettings } | undefined;
  const lines = head.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (!/^\s*(?:#|$)/.test(text)) break;
    let settings: HashSetSettings | undefined;
    try {
      settings = parseHashSetSettingsLine(text);
    } catch (error) {
      if (error instanceof HashSetSettingsError) throw new HashListSettingsError(i + 1, error.message);
      throw error;
    }
    if (settings === undefined) continue;
    if (found) throw new HashListSettingsError(i + 1, `a second settings line (the first is line ${found.line}): a file holds one set`);
    found = { line: i + 1, settings };
  }
  return found;
}
