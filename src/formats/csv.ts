/**
 * CSV as every importer and exporter of this project reads and writes it, and the line reading the
 * one-value-a-line formats beside it share (hex hash lists, txt lists). Pure: text in, records and
 * cells out, no I/O.
 *
 * - Records: one a line (LF or CRLF, a leading byte order mark dropped), numbered by the line they
 *   start on; blank lines and lines whose first non-blank character is `#` are skipped. With
 *   `quotedLineBreaks` (RFC 4180) a record goes on over the next lines while a quoted cell is open.
 * - Cells (RFC 4180, leniently): commas separate cells; a cell whose first non-blank character is a
 *   double quote is quoted, and keeps everything up to the closing quote exactly (commas, line
 *   breaks, spaces; `""` is a literal quote); a quote elsewhere is just a character; unquoted cells
 *   are trimmed.
 */

export interface TextRecord {
  /** Number of the line the record starts on (1-based). */
  line: number;
  /** The record without its final line ending; the line breaks inside a quoted cell as written. */
  text: string;
  /**
   * A record whose quoted cell did not close within MAX_CSV_RECORD_LINES lines or by the end of the
   * input: `text` is its first line only, and the lines after it were read again as records.
   */
  unclosed?: boolean;
}

export interface RecordOptions {
  /** A quoted cell may hold line breaks (RFC 4180); without, every line is one record. */
  quotedLineBreaks: boolean;
}

/**
 * Most lines one record may span. A quote left open (a typo) would otherwise swallow the rest of
 * the file; past this the record's first line is reported unclosed and reading resumes after it.
 */
export const MAX_CSV_RECORD_LINES = 1000;

/** Blank, or a `#` comment: not a record (outside a quoted cell). */
const SKIPPED_LINE = /^\s*(?:#|$)/;

interface PhysicalLine {
  text: string;
  /** '\n', '\r\n', or '' for a last line without one. */
  ending: string;
}

/**
 * Cuts text into records, chunk by chunk and synchronously, so that a million-line import costs no
 * more than reading lines.
 */
export class RecordSplitter {
  /** The input after the last complete line. */
  private rest = '';
  private lineNo = 0;
  /** Lines of the record being read, while a quoted cell is open. */
  private pending: PhysicalLine[] = [];

  constructor(private readonly options: RecordOptions) {}

  /** The records that `text`, the next piece of the input, completes (all the rest when `last`). */
  push(text: string, last = false): TextRecord[] {
    const records: TextRecord[] = [];
    this.rest += this.lineNo === 0 && this.rest === '' ? text.replace(/^\uFEFF/, '') : text;
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
    if (this.pending.length === 0) {
      // Comments may hold a lone quote: they never start a multi-line record.
      if (SKIPPED_LINE.test(line.text)) return;
      // Most lines hold no quote.
      if (!this.options.quotedLineBreaks || !line.text.includes('"')) {
        records.push({ line: this.lineNo, text: line.text });
        return;
      }
    }
    const open = parseCsvCells(line.text, this.pending.length > 0).open;
    this.pending.push(line);
    if (!open) {
      const text = this.pending.map((part, i) => (i < this.pending.length - 1 ? part.text + part.ending : part.text)).join('');
      records.push({ line: this.lineNo - this.pending.length + 1, text });
      this.pending = [];
    } else if (this.pending.length >= MAX_CSV_RECORD_LINES) this.unclosed(records);
  }

  /** Reports the open record by its first line, then reads its other lines again as records of their own. */
  private unclosed(records: TextRecord[]): void {
    const [first, ...others] = this.pending;
    this.lineNo -= others.length;
    records.push({ line: this.lineNo, text: first!.text, unclosed: true });
    this.pending = [];
    for (const line of others) this.line(line, records);
  }
}

/** Every record of a whole text. */
export function splitRecords(text: string, options: RecordOptions): TextRecord[] {
  return new RecordSplitter(options).push(text, true);
}

/**
 * The cells of one record. `open` says the text ended inside a quoted cell (the record is cut
 * short, or goes on on the next line); `insideQuotes` starts the scan in one.
 */
export function parseCsvCells(text: string, insideQuotes = false): { cells: string[]; open: boolean } {
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
export function quoteCsvCell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
