/**
 * Reads hash lists one line at a time: a plain list of hex hashes, or CSV with the columns
 * hash-sharing exports use (hash, label or tags, id, and optionally quality). Each line is parsed
 * on its own, so a bad line is reported with its number and the rest go on.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { isScanError } from '../errors.js';
import { hexToHash, type HashBytes } from '../matching/hash-bits.js';

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
} as const;
type Column = keyof typeof COLUMN_NAMES;

/** Without a header, CSV columns are hash, label, id. */
const POSITIONAL: Partial<Record<Column, number>> = { hash: 0, label: 1, id: 2 };

/** Longest id accepted: ids are Redis hash fields and go into verdicts. */
const MAX_ID_LENGTH = 256;

export class HashListParser {
  private columns: Partial<Record<Column, number>> | undefined;

  constructor(
    readonly format: HashListFormat,
    readonly bits: number,
  ) {}

  /** Parses one line; null for blank lines, `#` comments and the CSV header. */
  parseLine(text: string, line: number): HashLineResult | null {
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return null;
    if (this.format === 'hex') return this.entry(line, trimmed.split(/[\s,]/)[0]!, undefined, undefined, undefined);

    const cells = splitCsvLine(trimmed);
    if (this.columns === undefined) {
      this.columns = headerColumns(cells);
      if (this.columns) return null;
      this.columns = POSITIONAL;
    }
    const cell = (column: Column): string | undefined => {
      const at = this.columns![column];
      const value = at === undefined ? undefined : cells[at]?.trim();
      return value === '' ? undefined : value;
    };
    const hashText = cell('hash');
    if (hashText === undefined) return { ok: false, bad: { line, reason: 'no hash column' } };
    return this.entry(line, hashText, cell('label'), cell('id'), cell('quality'));
  }

  private entry(line: number, hex: string, label: string | undefined, id: string | undefined, qualityText: string | undefined): HashLineResult {
    let hash: HashBytes;
    try {
      hash = hexToHash(hex, this.bits);
    } catch (error) {
      if (!isScanError(error)) throw error;
      return { ok: false, bad: { line, reason: error.message } };
    }
    if (id !== undefined && id.length > MAX_ID_LENGTH) return { ok: false, bad: { line, reason: `id longer than ${MAX_ID_LENGTH} characters` } };
    let quality: number | undefined;
    if (qualityText !== undefined) {
      quality = Number(qualityText);
      if (!Number.isInteger(quality) || quality < 0 || quality > 100) {
        return { ok: false, bad: { line, reason: `quality must be an integer 0-100, got ${JSON.stringify(qualityText)}` } };
      }
    }
    const entry: ParsedHashLine = { line, id: id ?? hex.toLowerCase(), hash };
    if (label !== undefined) entry.label = label;
    if (quality !== undefined) entry.quality = quality;
    return { ok: true, entry };
  }
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

/** One CSV record on one line: commas separate, double quotes group, "" is a literal quote. */
export function splitCsvLine(text: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') cells.push(cell), (cell = '');
    else cell += char;
  }
  cells.push(cell);
  return cells;
}

/** Quotes a CSV cell when it needs it. */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Every line of `input` parsed in order (blank lines, comments and the header skipped). */
export async function* readHashList(input: Readable, format: HashListFormat, bits: number): AsyncGenerator<HashLineResult> {
  const parser = new HashListParser(format, bits);
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    const result = parser.parseLine(text, ++line);
    if (result) yield result;
  }
}
