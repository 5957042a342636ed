import { parseCsvCells, RecordSplitter, type TextRecord } from '../formats/csv.js';
import { canonicalEntry, ENTRY_KINDS, EntryError, entryIdentity, type EntryKind, type ListEntry } from './list-entry.js';

/**
 * Parses list files into canonical entries, all of them validated before anything is written:
 * bad lines come back with their line numbers and are left out, the good ones are imported
 * (importRefusal says when an import must write nothing). A file that cannot be read as a list
 * at all, a CSV whose header names no `entry` column, throws ListFileError.
 *
 * Both formats are read by src/formats/csv.ts: lines LF or CRLF, blank lines and lines starting with
 * `#` skipped, line numbers those of the file.
 *
 * - Plain text (`txt`): one entry per line, the kind read from the text (see guessEntryKind).
 * - CSV (`csv`): a header row naming at least `entry`, optionally `kind`, `label`, `reason`,
 *   `added_by`; fields may be double-quoted (`""` is a quote); every cell is trimmed, quoted or not.
 *   A quoted field cannot span lines: a line whose quote does not close is one bad line, and the
 *   next line is read on its own. Feeds are written a line an entry, and a stray quote must cost
 *   its own line only, never swallow the entries after it (RFC 4180 would read them into its cell).
 *
 * The same entry twice keeps the first occurrence, so parsing is idempotent; an http and an https
 * URL entry of one URL are the same entry (entryIdentity).
 */

export type ListFileFormat = 'txt' | 'csv';

export interface BadLine {
  /** 1-based line number in the file. */
  line: number;
  text: string;
  message: string;
}

export interface ParsedList {
  entries: ListEntry[];
  bad: BadLine[];
  /** Lines that repeated an entry already read (after canonicalization). */
  duplicates: number;
}

export interface ParseListOptions {
  /** Recorded as `addedBy` on entries that have none. */
  addedBy?: string;
  /** The file's name, for ListFileError messages. */
  source?: string;
}

/** The file is not a list at all (nothing in it can be imported). */
export class ListFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ListFileError';
  }
}

export interface ImportLimits {
  /** The import makes the list exactly the file's entries. */
  replace: boolean;
  /** Most bad lines tolerated. Default: any number (skipped), but none with `replace`. */
  maxBad?: number;
}

/**
 * Why an import must write nothing, or undefined when it may go ahead. A replacement drops every
 * live entry the file lacks, so a damaged file (bad lines, unless `maxBad` allows them) or one
 * with no entries at all must not replace a live list (an import never empties a list: `blocklist
 * delete` removes one). A file with no entry has nothing to import, whether its every entry line is
 * bad or it has none (empty, only comments, only a CSV header): it must not make an empty list
 * either, nor report success.
 */
export function importRefusal(parsed: ParsedList, limits: ImportLimits): string | undefined {
  const maxBad = limits.maxBad ?? (limits.replace ? 0 : Infinity);
  if (parsed.bad.length > maxBad) {
    const allowed = limits.maxBad === undefined ? '--replace allows none without --max-bad' : `more than --max-bad ${maxBad}`;
    return `${parsed.bad.length} bad lines (${allowed})`;
  }
  if (limits.replace && parsed.entries.length === 0) return 'no entries (--replace would empty the list)';
  if (parsed.entries.length === 0) return parsed.bad.length > 0 ? `no entries, only ${parsed.bad.length} bad lines` : 'no entries in the file';
  return undefined;
}

/** The format of a file by its extension: `.csv` is CSV, anything else plain text. */
export function formatOfFile(path: string): ListFileFormat {
  return path.toLowerCase().endsWith('.csv') ? 'csv' : 'txt';
}

export function parseListFile(text: string, format: ListFileFormat, options: ParseListOptions = {}): ParsedList {
  const parser = new ListFileParser(format, options);
  parser.push(text);
  return parser.end();
}

/**
 * Reads a list file piece by piece (a stream's chunks, as text), so an import never holds the
 * file whole: `push` each piece in order, then `end` for the result, which is what parseListFile
 * gives for the whole text. A CSV header that names no `entry` column throws ListFileError from
 * the `push` that completes it.
 */
export class ListFileParser {
  private readonly splitter = new RecordSplitter(ONE_LINE_RECORDS);
  private readonly collector: Collector;
  /** CSV: the column of each cell, once the header is read. */
  private columns: Array<(typeof CSV_COLUMNS)[keyof typeof CSV_COLUMNS] | undefined> | undefined;

  constructor(
    private readonly format: ListFileFormat,
    private readonly options: ParseListOptions = {},
  ) {
    this.collector = new Collector(options);
  }

  push(text: string): void {
    for (const record of this.splitter.push(text)) this.record(record);
  }

  end(): ParsedList {
    for (const record of this.splitter.push('', true)) this.record(record);
    return this.collector.result;
  }

  private record({ line, text }: TextRecord): void {
    if (this.format === 'txt') return this.collector.add(line, text, { entry: text.trim() });
    if (this.columns === undefined) this.columns = csvColumns(line, text, this.options);
    else csvRow(this.collector, this.columns, line, text);
  }
}

class Collector {
  readonly result: ParsedList = { entries: [], bad: [], duplicates: 0 };
  private readonly seen = new Set<string>();

  constructor(private readonly options: ParseListOptions) {}

  add(line: number, text: string, fields: { entry: string; kind?: EntryKind; label?: string; reason?: string; addedBy?: string }): void {
    try {
      const { kind, value } = canonicalEntry(fields.entry, fields.kind);
      const identity = entryIdentity({ kind, value });
      if (this.seen.has(identity)) {
        this.result.duplicates++;
        return;
      }
      this.seen.add(identity);
      const addedBy = fields.addedBy || this.options.addedBy;
      this.result.entries.push({
        kind,
        value: flat(value),
        ...(fields.label && { label: fields.label }),
        ...(fields.reason && { reason: fields.reason }),
        ...(addedBy && { addedBy }),
      });
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      this.bad(line, text, error.message);
    }
  }

  bad(line: number, text: string, message: string): void {
    this.result.bad.push({ line, text: text.slice(0, 200), message });
  }
}

/**
 * The string as one flat copy. Canonical values are built by concatenation, and V8 keeps such a
 * string as the tree of its parts: an import holding a million entries held some 60 MB more.
 */
function flat(text: string): string {
  return ` ${text}`.slice(1);
}

/** A record a line: a line break is never part of a list entry or its fields (see above). */
const ONE_LINE_RECORDS = { quotedLineBreaks: false };

export function parseTextList(text: string, options: ParseListOptions = {}): ParsedList {
  return parseListFile(text, 'txt', options);
}

const CSV_COLUMNS = { entry: 'entry', kind: 'kind', label: 'label', reason: 'reason', added_by: 'addedBy', addedby: 'addedBy' } as const;

export function parseCsvList(text: string, options: ParseListOptions = {}): ParsedList {
  return parseListFile(text, 'csv', options);
}

/** The columns a CSV header row names; ListFileError when it names no `entry` column. */
function csvColumns(line: number, text: string, options: ParseListOptions): Array<(typeof CSV_COLUMNS)[keyof typeof CSV_COLUMNS] | undefined> {
  const where = options.source ? `${options.source}:${line}` : `line ${line}`;
  const headerCells = parseCsvCells(text);
  if (headerCells.open) throw new ListFileError(`${where}: unterminated quoted field in the CSV header row`);
  const columns = headerCells.cells.map((name) => CSV_COLUMNS[name.trim().toLowerCase() as keyof typeof CSV_COLUMNS]);
  if (!columns.includes('entry')) {
    throw new ListFileError(`${where}: the CSV header row must name an "entry" column (optional: kind, label, reason, added_by), got ${JSON.stringify(text.slice(0, 200))}`);
  }
  return columns;
}

function csvRow(collector: Collector, columns: ReadonlyArray<string | undefined>, line: number, raw: string): void {
  const { cells, open } = parseCsvCells(raw);
  if (open) {
    collector.bad(line, raw, 'unterminated quoted field');
    return;
  }
  // Quoted cells too: no list field means blanks at its ends (canonicalEntry trims entries anyway).
  const row: Record<string, string> = {};
  columns.forEach((column, i) => {
    if (column !== undefined && cells[i] !== undefined) row[column] = cells[i]!.trim();
  });
  const kind = row.kind?.toLowerCase();
  if (kind && !(ENTRY_KINDS as readonly string[]).includes(kind)) {
    collector.bad(line, raw, `unknown kind ${JSON.stringify(kind)} (url, expression or domain)`);
    return;
  }
  collector.add(line, raw, {
    entry: row.entry ?? '',
    ...(kind && { kind: kind as EntryKind }),
    ...(row.label && { label: row.label }),
    ...(row.reason && { reason: row.reason }),
    ...(row.addedBy && { addedBy: row.addedBy }),
  });
}
