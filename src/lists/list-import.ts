import { canonicalEntry, ENTRY_KINDS, EntryError, entryField, type EntryKind, type ListEntry } from './list-entry.js';

/**
 * Parses list files into canonical entries, all of them validated before anything is written:
 * bad lines come back with their line numbers and are left out, the good ones are imported
 * (importRefusal says when an import must write nothing). A file that cannot be read as a list
 * at all, a CSV whose header names no `entry` column, throws ListFileError.
 *
 * - Plain text (`txt`): one entry per line, the kind read from the text (see guessEntryKind);
 *   blank lines and lines starting with `#` are skipped.
 * - CSV (`csv`): a header row naming at least `entry`, optionally `kind`, `label`, `reason`,
 *   `added_by`; fields may be double-quoted (`""` is a quote). A quoted field cannot span lines.
 *
 * The same entry twice keeps the first occurrence, so parsing is idempotent.
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
 * with no entries at all must not replace a live list.
 */
export function importRefusal(parsed: ParsedList, limits: ImportLimits): string | undefined {
  const maxBad = limits.maxBad ?? (limits.replace ? 0 : Infinity);
  if (parsed.bad.length > maxBad) {
    const allowed = limits.maxBad === undefined ? '--replace allows none without --max-bad' : `more than --max-bad ${maxBad}`;
    return `${parsed.bad.length} bad lines (${allowed})`;
  }
  if (limits.replace && parsed.entries.length === 0) return 'no entries (--replace would empty the list)';
  return undefined;
}

/** The format of a file by its extension: `.csv` is CSV, anything else plain text. */
export function formatOfFile(path: string): ListFileFormat {
  return path.toLowerCase().endsWith('.csv') ? 'csv' : 'txt';
}

export function parseListFile(text: string, format: ListFileFormat, options: ParseListOptions = {}): ParsedList {
  return format === 'csv' ? parseCsvList(text, options) : parseTextList(text, options);
}

class Collector {
  readonly result: ParsedList = { entries: [], bad: [], duplicates: 0 };
  private readonly seen = new Set<string>();

  constructor(private readonly options: ParseListOptions) {}

  add(line: number, text: string, fields: { entry: string; kind?: EntryKind; label?: string; reason?: string; addedBy?: string }): void {
    try {
      const { kind, value } = canonicalEntry(fields.entry, fields.kind);
      const field = entryField({ kind, value });
      if (this.seen.has(field)) {
        this.result.duplicates++;
        return;
      }
      this.seen.add(field);
      const addedBy = fields.addedBy || this.options.addedBy;
      this.result.entries.push({
        kind,
        value,
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

function lines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

export function parseTextList(text: string, options: ParseListOptions = {}): ParsedList {
  const collector = new Collector(options);
  lines(text).forEach((raw, index) => {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) return;
    collector.add(index + 1, raw, { entry });
  });
  return collector.result;
}

const CSV_COLUMNS = { entry: 'entry', kind: 'kind', label: 'label', reason: 'reason', added_by: 'addedBy', addedby: 'addedBy' } as const;

export function parseCsvList(text: string, options: ParseListOptions = {}): ParsedList {
  const collector = new Collector(options);
  const all = lines(text);
  const headerIndex = all.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  if (headerIndex < 0) return collector.result;
  const header = splitCsvLine(all[headerIndex]!);
  const columns = header?.map((name) => CSV_COLUMNS[name.trim().toLowerCase() as keyof typeof CSV_COLUMNS]);
  if (!columns?.includes('entry')) {
    const where = options.source ? `${options.source}:${headerIndex + 1}` : `line ${headerIndex + 1}`;
    throw new ListFileError(`${where}: the CSV header row must name an "entry" column (optional: kind, label, reason, added_by), got ${JSON.stringify(all[headerIndex]!.slice(0, 200))}`);
  }
  for (let index = headerIndex + 1; index < all.length; index++) {
    const raw = all[index]!;
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const cells = splitCsvLine(raw);
    if (cells === null) {
      collector.bad(index + 1, raw, 'unterminated quoted field');
      continue;
    }
    const row: Record<string, string> = {};
    columns.forEach((column, i) => {
      if (column !== undefined && cells[i] !== undefined) row[column] = cells[i]!.trim();
    });
    const kind = row.kind?.toLowerCase();
    if (kind && !(ENTRY_KINDS as readonly string[]).includes(kind)) {
      collector.bad(index + 1, raw, `unknown kind ${JSON.stringify(kind)} (url, expression or domain)`);
      continue;
    }
    collector.add(index + 1, raw, {
      entry: row.entry ?? '',
      ...(kind && { kind: kind as EntryKind }),
      ...(row.label && { label: row.label }),
      ...(row.reason && { reason: row.reason }),
      ...(row.addedBy && { addedBy: row.addedBy }),
    });
  }
  return collector.result;
}

/** Cells of one CSV line (RFC 4180 quoting); null when a quoted field is not closed. */
export function splitCsvLine(line: string): string[] | null {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += line[i++];
      }
      const comma = line.indexOf(',', i);
      cell += comma < 0 ? line.slice(i) : line.slice(i, comma);
      i = comma < 0 ? line.length : comma;
    } else {
      const comma = line.indexOf(',', i);
      cell = comma < 0 ? line.slice(i) : line.slice(i, comma);
      i = comma < 0 ? line.length : comma;
    }
    cells.push(cell);
    if (i >= line.length) return cells;
    i++; // the comma
  }
}
