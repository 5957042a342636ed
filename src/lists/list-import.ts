import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
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
 *
 * parseListFile and ListFileParser give every entry at once; spoolListFile, which `blocklist
 * import` uses, reads a file of any size without holding its entries (it writes them to a private
 * temporary file, read back batch by batch as they are imported).
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

/** What importRefusal needs of a file read without holding its entries (SpooledListFile). */
export interface ListFileCounts {
  badLines: number;
  /** Lines read as an entry, repeats included (none: the file has no entry). */
  entryLines: number;
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

/** The import's private temporary file could not be made or written (TMPDIR missing, read-only, full). */
export class SpoolFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SpoolFileError';
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
export function importRefusal(parsed: ParsedList | ListFileCounts, limits: ImportLimits): string | undefined {
  const { badLines, entryLines } = 'entries' in parsed ? { badLines: parsed.bad.length, entryLines: parsed.entries.length } : parsed;
  const maxBad = limits.maxBad ?? (limits.replace ? 0 : Infinity);
  if (badLines > maxBad) {
    const allowed = limits.maxBad === undefined ? '--replace allows none without --max-bad' : `more than --max-bad ${maxBad}`;
    return `${badLines} bad lines (${allowed})`;
  }
  if (limits.replace && entryLines === 0) return 'no entries (--replace would empty the list)';
  if (entryLines === 0) return badLines > 0 ? `no entries, only ${badLines} bad lines` : 'no entries in the file';
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

/** Where a list file's lines go as they are read: good entries (not yet checked for repeats) and bad lines. */
interface LineSink {
  entry(entry: ListEntry): void;
  bad(line: number, text: string, message: string): void;
}

/**
 * Reads a list file's records piece by piece into a LineSink: canonical entries, bad lines by
 * number. Repeats are the sink's business (ListFileParser drops them as they come,
 * spoolListFile in its second pass).
 */
class ListRecordReader {
  private readonly splitter = new RecordSplitter(ONE_LINE_RECORDS);
  /** CSV: the column of each cell, once the header is read. */
  private columns: Array<(typeof CSV_COLUMNS)[keyof typeof CSV_COLUMNS] | undefined> | undefined;

  constructor(
    private readonly format: ListFileFormat,
    private readonly options: ParseListOptions,
    private readonly sink: LineSink,
  ) {}

  push(text: string, last = false): void {
    for (const record of this.splitter.push(text, last)) this.record(record);
  }

  private record({ line, text }: TextRecord): void {
    if (this.format === 'txt') return this.add(line, text, { entry: text.trim() });
    if (this.columns === undefined) this.columns = csvColumns(line, text, this.options);
    else csvRow(this, this.columns, line, text);
  }

  add(line: number, text: string, fields: { entry: string; kind?: EntryKind; label?: string; reason?: string; addedBy?: string }): void {
    let canonical: { kind: EntryKind; value: string };
    try {
      canonical = canonicalEntry(fields.entry, fields.kind);
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      return this.bad(line, text, error.message);
    }
    const addedBy = fields.addedBy || this.options.addedBy;
    this.sink.entry({
      kind: canonical.kind,
      value: flat(canonical.value),
      ...(fields.label && { label: fields.label }),
      ...(fields.reason && { reason: fields.reason }),
      ...(addedBy && { addedBy }),
    });
  }

  bad(line: number, text: string, message: string): void {
    this.sink.bad(line, text.slice(0, 200), message);
  }
}

/**
 * Reads a list file piece by piece (a stream's chunks, as text), so an import never holds the
 * file whole: `push` each piece in order, then `end` for the result, which is what parseListFile
 * gives for the whole text. A CSV header that names no `entry` column throws ListFileError from
 * the `push` that completes it. The result holds every entry: an import of a file of any size
 * reads it with spoolListFile instead.
 */
export class ListFileParser {
  private readonly result: ParsedList = { entries: [], bad: [], duplicates: 0 };
  private readonly seen = new Set<string>();
  private readonly reader: ListRecordReader;

  constructor(format: ListFileFormat, options: ParseListOptions = {}) {
    this.reader = new ListRecordReader(format, options, {
      entry: (entry) => {
        const identity = entryIdentity(entry);
        if (this.seen.has(identity)) {
          this.result.duplicates++;
          return;
        }
        this.seen.add(identity);
        this.result.entries.push(entry);
      },
      bad: (line, text, message) => void this.result.bad.push({ line, text, message }),
    });
  }

  push(text: string): void {
    this.reader.push(text);
  }

  end(): ParsedList {
    this.reader.push('', true);
    return this.result;
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

function csvRow(collector: ListRecordReader, columns: ReadonlyArray<string | undefined>, line: number, raw: string): void {
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

export interface SpoolListOptions extends ParseListOptions {
  /** Bad lines kept whole (for the report); past these they are only counted. Default 50. */
  keepBad?: number;
  /** Where the private copy of the entries is made. Default os.tmpdir(). */
  tmpdir?: string;
}

/** Text gathered before a write to the spool. */
const SPOOL_WRITE_CHARS = 1 << 16;
/** Bytes the spool is read back in, a batch of entries each. */
const SPOOL_READ_BYTES = 1 << 16;

/**
 * Reads a list file (`input`: its bytes, read once, as UTF-8 as readFile reads it: a sequence cut
 * between chunks is joined, bytes that are not UTF-8 become U+FFFD) in full, without holding its
 * entries: every line is validated, bad ones are counted (the first `keepBad` kept with their
 * text), and the canonical entries are written to a private temporary file (mode 0600, its name
 * removed at once where the system allows: nothing is left behind however the process ends),
 * from which `SpooledListFile.batches` reads them back for the write, as often as it is
 * retried. Since the input is read only once, what is written is exactly what was validated,
 * whatever happens to the file meanwhile, and stdin or a pipe needs no copy of its own.
 * A CSV header that names no `entry` column throws ListFileError (and nothing is left).
 *
 * Repeats are found with a set of 32-bit hashes of the entries' identities (8 MB for a million
 * entries, where the entries themselves took some 500 MB), then exactly among the entries whose
 * hash came again, while the spool is read back. The spool takes about as many bytes as the
 * entries' lines (a kind letter, a tab, the canonical value; the info fields as JSON when given).
 */
export async function spoolListFile(input: AsyncIterable<Buffer | string>, format: ListFileFormat, options: SpoolListOptions = {}): Promise<SpooledListFile> {
  const spool = await SpoolFile.create(options.tmpdir ?? tmpdir());
  try {
    const keepBad = options.keepBad ?? 50;
    const counts = { bad: [] as BadLine[], badLines: 0, entryLines: 0 };
    const hashes = new HashSet32();
    const repeated = new Set<number>();
    let pending = '';
    const reader = new ListRecordReader(format, options, {
      entry: (entry) => {
        counts.entryLines++;
        const hash = identityHash(entryIdentity(entry));
        if (!hashes.add(hash)) repeated.add(hash);
        pending += spoolLine(entry);
      },
      bad: (line, text, message) => {
        if (++counts.badLines <= keepBad) counts.bad.push({ line, text, message });
      },
    });
    const decoder = new StringDecoder('utf8');
    for await (const chunk of input) {
      reader.push(typeof chunk === 'string' ? chunk : decoder.write(chunk));
      if (pending.length >= SPOOL_WRITE_CHARS) {
        await spool.append(pending);
        pending = '';
      }
    }
    reader.push(decoder.end(), true);
    await spool.append(pending);
    return new SpooledListFile(spool, counts.bad, counts.badLines, counts.entryLines, repeated);
  } catch (error) {
    await spool.close();
    throw error;
  }
}

/**
 * A list file read by spoolListFile: its counts and first bad lines, and its entries, read back
 * from the spool batch by batch (ListStore.import takes it as a ListEntrySource). `close` it when
 * done (its temporary file goes with it).
 */
export class SpooledListFile implements ListFileCounts {
  private lastDuplicates: number | undefined;

  constructor(
    private readonly spool: SpoolFile,
    /** The first bad lines (SpoolListOptions.keepBad), in file order. */
    readonly bad: readonly BadLine[],
    readonly badLines: number,
    readonly entryLines: number,
    /** Hashes of identities read more than once (or sharing a hash with another): only these are compared whole. */
    private readonly repeated: ReadonlySet<number>,
  ) {}

  /** Lines that repeated an entry read before them, as ParsedList's: known once `batches` has been read to its end. */
  get duplicates(): number {
    if (this.lastDuplicates === undefined) throw new Error('duplicates are counted while the entries are read');
    return this.lastDuplicates;
  }

  /**
   * The entries in file order, each identity once (its first line, as ListFileParser keeps it),
   * a batch per SPOOL_READ_BYTES of the spool: from the start at every call.
   */
  async *batches(): AsyncGenerator<ListEntry[]> {
    const seen = new Set<string>();
    let duplicates = 0;
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(SPOOL_READ_BYTES);
    let rest = '';
    for (let position = 0; position < this.spool.size; ) {
      const bytesRead = await this.spool.read(buffer, position);
      position += bytesRead;
      const text = rest + decoder.write(buffer.subarray(0, bytesRead));
      const end = text.lastIndexOf('\n');
      rest = text.slice(end + 1);
      const entries: ListEntry[] = [];
      for (let start = 0; start < end; ) {
        const lineEnd = text.indexOf('\n', start);
        const entry = spooledEntry(text.slice(start, lineEnd));
        start = lineEnd + 1;
        if (this.repeated.size > 0) {
          const identity = entryIdentity(entry);
          if (this.repeated.has(identityHash(identity))) {
            if (seen.has(identity)) {
              duplicates++;
              continue;
            }
            seen.add(identity);
          }
        }
        entries.push(entry);
      }
      if (entries.length > 0) yield entries;
    }
    if (rest + decoder.end() !== '') throw new Error('list import spool ends inside an entry');
    this.lastDuplicates = duplicates;
  }

  close(): Promise<void> {
    return this.spool.close();
  }
}

/**
 * An entry as a line of the spool: its kind's letter, a tab and its value, then, when it has any,
 * a tab and its info as JSON (`[label, reason, addedBy]`, null for those it has not). A value
 * holding a tab or a line break (which canonical values do not) is written whole as JSON.
 */
export function spoolLine(entry: ListEntry): string {
  if (/[\t\n]/.test(entry.value)) return `${JSON.stringify([entry.kind, entry.value, entry.label ?? null, entry.reason ?? null, entry.addedBy ?? null])}\n`;
  const head = `${SPOOL_KIND_LETTERS[entry.kind]}\t${entry.value}`;
  if (entry.label === undefined && entry.reason === undefined && entry.addedBy === undefined) return `${head}\n`;
  return `${head}\t${JSON.stringify([entry.label ?? null, entry.reason ?? null, entry.addedBy ?? null])}\n`;
}

export function spooledEntry(line: string): ListEntry {
  let kind: EntryKind;
  let value: string;
  let info: [string | null, string | null, string | null] | undefined;
  if (line.startsWith('[')) {
    const all = JSON.parse(line) as [EntryKind, string, string | null, string | null, string | null];
    [kind, value] = all;
    info = [all[2], all[3], all[4]];
  } else {
    kind = SPOOL_KINDS[line[0]!]!;
    const tab = line.indexOf('\t', 2);
    value = tab < 0 ? line.slice(2) : line.slice(2, tab);
    if (tab >= 0) info = JSON.parse(line.slice(tab + 1)) as [string | null, string | null, string | null];
  }
  if (info === undefined) return { kind, value };
  const [label, reason, addedBy] = info;
  return { kind, value, ...(label !== null && { label }), ...(reason !== null && { reason }), ...(addedBy !== null && { addedBy }) };
}

const SPOOL_KIND_LETTERS: Record<EntryKind, string> = { url: 'u', expression: 'e', domain: 'd' };
const SPOOL_KINDS: Record<string, EntryKind> = { u: 'url', e: 'expression', d: 'domain' };

/** A private temporary file, written at its end and read by position. */
class SpoolFile {
  size = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly dir: string,
  ) {}

  static async create(parent: string): Promise<SpoolFile> {
    const dir = await mkdtemp(join(parent, 'abuse-scan-list-')).catch((error: unknown) => {
      throw new SpoolFileError(`cannot create the import's temporary file in ${parent} (TMPDIR): ${(error as Error).message}`, { cause: error });
    });
    try {
      const handle = await open(join(dir, 'entries'), 'wx+', 0o600);
      // An open file stays readable once its name is gone (POSIX): from here nothing is left behind
      // however the process ends. Where that is refused (Windows), close removes it.
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      return new SpoolFile(handle, dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async append(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += bytes.length;
  }

  /** Bytes read into `buffer` from `position` (more than none: the spool is never cut short). */
  async read(buffer: Buffer, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, 0, Math.min(buffer.length, this.size - position), position);
    if (bytesRead === 0) throw new Error('list import spool is shorter than written');
    return bytesRead;
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** FNV-1a of the UTF-16 code units: a 32-bit integer, never 0 (HashSet32's empty slot). */
export function identityHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash | 0 || 1;
}

/**
 * A set of non-zero 32-bit integers in one typed array (open addressing, at most 3/4 full): 5-11
 * bytes a member, where a Set<number> takes about 30 (and a Set of the identities themselves,
 * about 100 for a URL).
 */
class HashSet32 {
  private bits = 12;
  private slots = new Int32Array(1 << this.bits);
  private count = 0;

  /** False when it was there already. */
  add(value: number): boolean {
    if ((this.count + 1) * 4 > this.slots.length * 3) this.grow();
    if (!this.insert(this.slots, this.bits, value)) return false;
    this.count++;
    return true;
  }

  private insert(slots: Int32Array, bits: number, value: number): boolean {
    const mask = slots.length - 1;
    for (let at = Math.imul(value, 0x9e3779b1) >>> (32 - bits); ; at = (at + 1) & mask) {
      const held = slots[at]!;
      if (held === value) return false;
      if (held === 0) {
        slots[at] = value;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.slots;
    this.bits++;
    this.slots = new Int32Array(1 << this.bits);
    for (const value of old) if (value !== 0) this.insert(this.slots, this.bits, value);
  }
}
