/**
 * Reads hash lists one record at a time: a plain list of hex hashes, one a line, or CSV (RFC 4180:
 * a quoted cell may hold commas, "" and line breaks) with the columns hash-sharing exports use
 * (hash, label or tags, id, optionally quality) and those of our own export (source, added_at,
 * added_by, disabled_reason), so an export imports back as it was. Each record is parsed on its own,
 * so a bad one is reported with the number of the line it starts on and the rest go on.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { isScanError } from '../errors.js';
import { hexToHash, type HashBytes } from '../matching/hash-bits.js';
import type { NewHashSetEntry } from './hash-set.js';

export const HASH_LIST_FORMATS = ['hex', 'csv'] as const;
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

/** Header names accepted for each column (lower case). */
const COLUMN_NAMES = {
  hash: ['hash', 'pdq', 'blockhash', 'signal', 'signal_value', 'value', 'hash_value'],
  label: ['label', 'tags', 'tag', 'description'],
  id: ['id', 'signal_id', 'hash_id', 'entry_id'],
  quality: ['quality', 'pdq_quality'],
  source: ['source'],
  addedAt: ['added_at'],
  addedBy: ['added_by'],
  disabledReason: ['disabled_reason'],
} as const;
type Column = keyof typeof COLUMN_NAMES;

/** Without a header, CSV columns are hash, label, id. */
const POSITIONAL: Partial<Record<Column, number>> = { hash: 0, label: 1, id: 2 };

/** Longest id accepted: ids are Redis hash fields and go into verdicts. */
const MAX_ID_LENGTH = 256;
/**
 * Most lines one CSV record may span. A quote left open (a typo) would otherwise swallow the rest
 * of the file; past this the record's first line is reported bad and reading resumes after it.
 */
const MAX_RECORD_LINES = 1000;

export class HashListParser {
  private columns: Partial<Record<Column, number>> | undefined;

  constructor(
    readonly format: HashListFormat,
    readonly bits: number,
  ) {}

  /** Parses one record; null for blank lines, `#` comments and the CSV header. */
  parseLine(text: string, line: number): HashLineResult | null {
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return null;
    if (this.format === 'hex') return this.entry(line, trimmed.split(/[\s,]/)[0]!, {});

    const cells = splitCsvLine(trimmed);
    if (this.columns === undefined) {
      this.columns = headerColumns(cells);
      if (this.columns) return null;
      this.columns = POSITIONAL;
    }
    const cell = (column: Column): string | undefined => {
      const at = this.columns![column];
      const value = at === undefined ? undefined : cells[at];
      return value === '' ? undefined : value;
    };
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
    if (id !== undefined && id.length > MAX_ID_LENGTH) return { ok: false, bad: { line, reason: `id longer than ${MAX_ID_LENGTH} characters` } };
    let quality: number | undefined;
    if (qualityText !== undefined) {
      quality = Number(qualityText);
      if (!Number.isInteger(quality) || quality < 0 || quality > 100) {
        return { ok: false, bad: { line, reason: `quality must be an integer 0-100, got ${JSON.stringify(qualityText)}` } };
      }
    }
    if (addedAt !== undefined && Number.isNaN(Date.parse(addedAt))) {
      return { ok: false, bad: { line, reason: `added_at must be a date, got ${JSON.stringify(addedAt.slice(0, 80))}` } };
    }
    const entry: ParsedHashLine = { line, id: id ?? hex.toLowerCase(), hash };
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

/** Column positions when `cells` is a header row (it names a hash column), else undefined. */
function headerColumns(cells: string[]): Partial<Record<Column, number>> | undefined {
  const names = cells.map((cell) => cell.trim().toLowerCase());
  const columns: Partial<Record<Column, number>> = {};
  for (const column of Object.keys(COLUMN_NAMES) as Column[]) {
    const at = names.findIndex((name) => (COLUMN_NAMES[column] as readonly string[]).includes(name));
    if (at >= 0) columns[column] = at;
  }
  return columns.hash === undefined ? undefined : columns;
}

/** The cells of one CSV record (see scanCsv). */
export function splitCsvLine(text: string): string[] {
  return scanCsv(text).cells;
}

/**
 * CSV by RFC 4180, leniently: commas separate cells; a cell whose first non-blank character is a
 * double quote is quoted, and keeps everything up to the closing quote exactly (commas, line
 * breaks, spaces; "" is a literal quote); a quote elsewhere is just a character; unquoted cells
 * are trimmed. `open` says the text ended inside a quoted cell (the record goes on on the next
 * line); `insideQuotes` starts the scan in one.
 */
function scanCsv(text: string, insideQuotes = false): { cells: string[]; open: boolean } {
  const cells: string[] = [];
  let cell = '';
  let quoted = insideQuotes;
  let open = insideQuotes;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (open) {
      if (char !== '"') cell += char;
      else if (text[i + 1] === '"') (cell += '"'), i++;
      else open = false;
    } else if (char === ',') {
      cells.push(quoted ? cell : cell.trim());
      cell = '';
      quoted = false;
    } else if (char === '"' && !quoted && cell.trim() === '') {
      cell = '';
      quoted = open = true;
    } else if (!quoted || (char !== ' ' && char !== '\t')) cell += char;
  }
  cells.push(quoted ? cell : cell.trim());
  return { cells, open };
}

/** Quotes a CSV cell when it needs it: separators, quotes, line breaks, or blanks at either end. */
export function csvCell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Every record of `input` parsed in order (blank lines, comments and the header skipped). */
export async function* readHashList(input: Readable, format: HashListFormat, bits: number): AsyncGenerator<HashLineResult> {
  const parser = new HashListParser(format, bits);
  const splitter = new RecordSplitter(format === 'csv');
  const decoder = new StringDecoder('utf8');
  const results = function* (records: TextRecord[]): Generator<HashLineResult> {
    for (const record of records) {
      if (record.unclosed) {
        yield { ok: false, bad: { line: record.line, reason: `a quoted field is not closed within ${MAX_RECORD_LINES} lines or by the end of the file` } };
        continue;
      }
      const result = parser.parseLine(record.text, record.line);
      if (result) yield result;
    }
  };
  for await (const chunk of input as AsyncIterable<string | Buffer>) yield* results(splitter.push(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
  yield* results(splitter.push(decoder.end(), true));
}

interface TextRecord {
  /** Number of the line the record starts on. */
  line: number;
  text: string;
  /** A CSV record whose quoted field never closed: reported, not parsed. */
  unclosed?: boolean;
}

interface PhysicalLine {
  text: string;
  /** '\n', '\r\n', or '' for a last line without one. */
  ending: string;
}

/**
 * Cuts text into records: one a line (LF or CRLF), or for CSV, a record going on over the next
 * lines while a quoted cell is open, its line breaks kept exactly as written. Synchronous, chunk by
 * chunk, so that a million-line import costs no more than reading lines.
 */
class RecordSplitter {
  /** The input after the last complete line. */
  private rest = '';
  private lineNo = 0;
  /** Lines of the CSV record being read, while a quoted cell is open. */
  private pending: PhysicalLine[] = [];

  constructor(private readonly csv: boolean) {}

  /** The records that `text`, the next piece of the input, completes (all the rest when `last`). */
  push(text: string, last = false): TextRecord[] {
    const records: TextRecord[] = [];
    this.rest += text;
    let from = 0;
    for (let at = this.rest.indexOf('\n'); at >= 0; from = at + 1, at = this.rest.indexOf('\n', from)) {
      const crlf = at > from && this.rest[at - 1] === '\r';
      this.line({ text: this.rest.slice(from, crlf ? at - 1 : at), ending: crlf ? '\r\n' : '\n' }, records);
    }
    this.rest = this.rest.slice(from);
    if (last) {
      if (this.rest !== '') this.line({ text: this.rest, ending: '' }, records);
      this.rest = '';
      while (this.pending.length) this.unclosed(records);
    }
    return records;
  }

  private line(line: PhysicalLine, records: TextRecord[]): void {
    this.lineNo++;
    // Most lines hold no quote; comments may hold a lone one and never start a multi-line record.
    if (!this.csv || (this.pending.length === 0 && (!line.text.includes('"') || line.text.trimStart().startsWith('#')))) {
      records.push({ line: this.lineNo, text: line.text });
      return;
    }
    const open = scanCsv(line.text, this.pending.length > 0).open;
    this.pending.push(line);
    if (!open) {
      const text = this.pending.map((part, i) => (i < this.pending.length - 1 ? part.text + part.ending : part.text)).join('');
      records.push({ line: this.lineNo - this.pending.length + 1, text });
      this.pending = [];
    } else if (this.pending.length >= MAX_RECORD_LINES) this.unclosed(records);
  }

  /** Reports the open record by its first line, then reads its other lines again as records of their own. */
  private unclosed(records: TextRecord[]): void {
    const others = this.pending.slice(1);
    this.lineNo -= others.length;
    records.push({ line: this.lineNo, text: '', unclosed: true });
    this.pending = [];
    for (const line of others) this.line(line, records);
  }
}
