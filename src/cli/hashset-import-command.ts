/**
 * `abuse-scan hashset import <name> <file>`: a hash list of any size into a set, streaming.
 *
 * Two passes so that a file is never half-applied: the first reads the whole file and validates
 * every line (hash, quality floor, a blockhash that is a blank image's hash, ids repeated with
 * another hash), reporting bad lines with their numbers; only then does the second pass write the
 * good lines in batches (one version each). More bad lines than --max-bad and nothing is written.
 * Re-importing is a no-op: an id already in the set is left as it is (and counted unchanged, or as
 * a conflict when its hash differs), so an import cut short by a Redis failure (each batch is
 * atomic) is completed by running it again.
 * A `hashset export` imports back as it was: disabled entries stay disabled (with their reason),
 * provenance columns are kept, multi-line labels are read whole (a blank blockhash entry added
 * before add and import refused them is a bad line: it never matched).
 * The file is read twice from its start, so what is not a regular file (`-` for stdin, /dev/stdin,
 * a pipe, `<(curl ...)`) is first copied once to a private temporary file (removed afterwards, on
 * an error or a SIGINT/SIGTERM/SIGHUP too), and a regular file is read up to the size it had when
 * the import began (lines appended meanwhile are neither validated nor written).
 * The format is --format's, else what the file's first record says (detectHashListFormat: a CSV
 * header is csv whatever the file's name, `hash,quality,filename` lines in a PDQ set are
 * pdq-photo-hasher output), else the extension's (.csv is csv, anything else a hex list).
 * A CSV is read for the set's algorithm (see HashListParser): a file with both a `pdq` and a
 * `blockhash` column gives the set its own, a `signal_type` row of another type is a bad line, and a
 * header whose only hash column is the other algorithm's is refused (exit 1, nothing written).
 * The set's settings are its own: import does not create sets, nor change one's settings. A file's
 * settings line (`# abuse-scan hash set: ...`, which `hashset export` writes; readHashSetSettings)
 * is checked against them: another algorithm or kind refuses the file (exit 1, nothing written: a
 * known-good set's entries imported into a block set would block what they were meant to clear),
 * as does a settings line that cannot be read; another threshold, quality floor or flood setting
 * is named in a warning on stderr, and the entries are imported under the set's settings.
 * Exit code 0: all lines imported; 2: some lines were skipped or conflicted; 1: nothing written.
 * A file with no good line (only bad lines, however few, or none at all: empty, only a header)
 * writes nothing and exits 1 with `<name>: nothing imported: ...` on stderr, as `blocklist import`.
 */
import { createWriteStream, rmSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Option, type Command } from 'commander';
import { entryRefusal, hashSetSettingsDifferences, type HashSetConfig } from '../hashsets/hash-set-config.js';
import {
  detectHashListFormat,
  entryFromLine,
  FORMAT_SNIFF_BYTES,
  HASH_LIST_FORMATS,
  HashListHeaderError,
  HashListSettingsError,
  readHashList,
  readHashSetSettings,
  type HashListFormat,
  type ParsedHashLine,
} from '../hashsets/hash-list-parser.js';
import type { AddResult, HashSetStore } from '../hashsets/hash-set-store.js';
import { hashToHex } from '../matching/hash-bits.js';
import { currentUser, integerFlag } from './cli-config.js';
import { CliError } from './cli-errors.js';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

interface ImportFlags {
  format?: HashListFormat;
  batch: string;
  maxBad: string;
}

/** Batches sent before waiting for the oldest to finish. */
const BATCHES_IN_FLIGHT = 4;
/** Bad lines printed one by one; beyond this only counted. */
const BAD_LINES_SHOWN = 50;

export function registerHashSetImportCommand(hashset: Command): void {
  hashset
    .command('import')
    .argument('<name>', 'hash set')
    .argument('<file>', 'hex list (one hash a line), CSV (hash, label/tags, id[, quality]; header optional; or a hashset export) or pdq-photo-hasher output; - for stdin')
    .description('import a hash list, validated in full before anything is written (exit 0 ok, 2 lines skipped, 1 nothing written)')
    .addOption(
      new Option(
        '--format <format>',
        'default: a CSV header row (naming a hash column) is csv; for a PDQ set, hash,quality,filename lines (no header) are pdq-photo-hasher; else by extension, .csv is csv',
      ).choices(HASH_LIST_FORMATS),
    )
    .option('--batch <n>', 'entries per write (one version each)', '2000')
    .option('--max-bad <n>', 'write nothing if more lines than this are bad', '1000')
    .action((name: string, file: string, flags: ImportFlags) =>
      withHashSetStore(async (store) => {
        const { config } = await store.summary(name);
        await withInput(file, async (input) => {
          await checkSettings(input, name, config);
          const format = flags.format ?? (await detectFormat(input, config));
          if (format === 'pdq-photo-hasher' && config.algorithm !== 'pdq') {
            throw new CliError('invalid option', `--format pdq-photo-hasher: pdq-photo-hasher output holds PDQ hashes, and ${name} is a ${config.algorithm} set`);
          }
          if (format === 'pdq-photo-hasher' && flags.format === undefined) {
            process.stderr.write(
              `${terminalSafe(input.shown)}: read as pdq-photo-hasher output (hash,quality,filename: the file name is the id, the quality must be at least ${config.minQuality}); --format csv reads it as hash,label,id\n`,
            );
          }
          const progress = new Progress();
          const checked = await validate(input, format, config, progress);
          const maxBad = integerFlag('max-bad', flags.maxBad)!;
          // Refused (more bad lines than --max-bad) or nothing to write: no version, no "imported"
          // line, exit 1, worded as `blocklist import` words it.
          const refusal =
            checked.bad > maxBad
              ? `${checked.bad} bad lines (more than --max-bad ${maxBad})`
              : checked.good === 0
                ? checked.bad > 0
                  ? `no entries, only ${checked.bad} bad lines`
                  : 'no entries in the file'
                : undefined;
          if (refusal !== undefined) {
            progress.done();
            process.stderr.write(`hash set ${terminalSafe(name)}: nothing imported: ${refusal}\n`);
            process.exitCode = 1;
            return;
          }
          const result = await write(store, name, input, format, config, checked.skip, integerFlag('batch', flags.batch) || 2000, progress, checked.good);
          progress.done();
          for (const id of result.conflicts.slice(0, BAD_LINES_SHOWN)) process.stderr.write(`conflict: id ${terminalSafe(id)} is in the set with another hash; left unchanged\n`);
          process.stdout.write(
            `imported ${terminalSafe(input.shown)} into ${terminalSafe(name)}: ${checked.good} lines read, added ${result.added}, unchanged ${result.unchanged}, ` +
              `conflicts ${result.conflicts.length}, skipped ${checked.bad} bad and ${checked.duplicates} repeated lines; version ${result.version}\n`,
          );
          if (checked.bad > 0 || result.conflicts.length > 0) process.exitCode = 2;
        });
      }),
    );
}

/** The import's input: the same bytes each time it is read, from the start. */
interface ImportInput {
  /** The file as given (`stdin` for `-`): in messages, and in the provenance of entries without their own. */
  shown: string;
  /** A new stream of the input from its first byte. */
  read(): Readable;
  /** Up to `bytes` of its start. */
  head(bytes: number): Promise<Buffer>;
}

/** Names of stdin itself. */
const STDIN_PATHS = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0']);

/** Signals on which a spooled copy of the input is removed before the process ends as it would have. */
const CLEANUP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `run` on `file` made readable twice: a regular file as it is, up to its size now; anything
 * else (`-` for stdin, a pipe, a device, a process substitution) read once into a private
 * temporary file, removed when `run` ends, fails, or the process is stopped by a signal. The file
 * is opened before anything else is done with it: a missing one is `file not found` with its path.
 */
async function withInput(file: string, run: (input: ImportInput) => Promise<void>): Promise<void> {
  const shown = file === '-' ? 'stdin' : file;
  const source = file === '-' ? undefined : await open(file, 'r').catch((error: unknown) => {
    // Linux cannot open a socket by its /proc path: stdin given as a socket (as Node's child
    // processes and some supervisors give it) is read as `-` is.
    if ((error as NodeJS.ErrnoException).code === 'ENXIO' && STDIN_PATHS.has(file)) return undefined;
    throw error;
  });
  try {
    const stats = await source?.stat();
    if (source && stats!.isFile()) return await run(fileInput(source, stats!.size, shown));
    if (stats?.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${file}'`), { code: 'EISDIR', syscall: 'read', path: file });
    await withSpooledCopy(source ? source.createReadStream({ autoClose: false }) : process.stdin, shown, run);
  } finally {
    await source?.close();
  }
}

async function withSpooledCopy(stream: Readable, shown: string, run: (input: ImportInput) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'abuse-scan-import-'));
  const onSignal = (signal: NodeJS.Signals): void => {
    rmSync(dir, { recursive: true, force: true });
    for (const name of CLEANUP_SIGNALS) process.removeListener(name, onSignal);
    // No listener left: the signal now ends the process as it would have without this one.
    process.kill(process.pid, signal);
  };
  for (const name of CLEANUP_SIGNALS) process.on(name, onSignal);
  try {
    const path = join(dir, 'input');
    await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    const copy = await open(path, 'r');
    try {
      const { size } = await copy.stat();
      // An open file stays readable once its name is gone (POSIX): from here nothing is left behind
      // however the process ends. Where that is refused (Windows), the finally below removes it.
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      await run(fileInput(copy, size, shown));
    } finally {
      await copy.close();
    }
  } finally {
    for (const name of CLEANUP_SIGNALS) process.removeListener(name, onSignal);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first `size` bytes of an open regular file, read by position (the handle is closed by its owner). */
function fileInput(handle: FileHandle, size: number, shown: string): ImportInput {
  return {
    shown,
    read: () => (size === 0 ? Readable.from([]) : handle.createReadStream({ start: 0, end: size - 1, autoClose: false })),
    head: async (bytes) => {
      const buffer = Buffer.alloc(Math.min(bytes, size));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead);
    },
  };
}

/** The format the input's first record says, else its extension's (.csv is csv, anything else hex). */
async function detectFormat(input: ImportInput, config: HashSetConfig): Promise<HashListFormat> {
  const head = (await input.head(FORMAT_SNIFF_BYTES)).toString('utf8');
  return detectHashListFormat(head, config.algorithm) ?? (input.shown.toLowerCase().endsWith('.csv') ? 'csv' : 'hex');
}

/**
 * The input's settings line (if any) against the set's settings (see the module comment): throws
 * `invalid hash list file` for one that cannot be read or names another algorithm or kind, and
 * warns on stderr of the other settings it gives that the set does not have.
 */
async function checkSettings(input: ImportInput, name: string, config: HashSetConfig): Promise<void> {
  const head = (await input.head(FORMAT_SNIFF_BYTES)).toString('utf8');
  let found: ReturnType<typeof readHashSetSettings>;
  try {
    found = readHashSetSettings(head);
  } catch (error) {
    if (!(error instanceof HashListSettingsError)) throw error;
    throw new CliError('invalid hash list file', `${input.shown}:${error.line}: ${error.message}; nothing imported`);
  }
  if (found === undefined) return;
  const refused = hashSetSettingsDifferences(found.settings, config, ['algorithm', 'kind']);
  if (refused.length > 0) {
    throw new CliError(
      'invalid hash list file',
      `${input.shown}:${found.line}: the file's settings line says ${refused.join(', ')}: its entries are meant for another set than ${name}; nothing imported ` +
        `(create a set with the file's settings and import into that, or delete the settings line to import the entries into ${name} all the same)`,
    );
  }
  const differing = hashSetSettingsDifferences(found.settings, config, ['threshold', 'min_quality', 'flood_max_items', 'flood_window_seconds']);
  if (differing.length > 0) {
    process.stderr.write(
      `${terminalSafe(input.shown)}:${found.line}: warning: the file's settings line says ${differing.join(', ')}: hash set ${terminalSafe(name)} keeps its own ` +
        `(import never changes a set's settings; create a set with the file's settings to match as it did)\n`,
    );
  }
}

interface Validation {
  /** Lines the write pass skips: bad ones and repeats of an id seen earlier in the file. */
  skip: Set<number>;
  good: number;
  bad: number;
  duplicates: number;
}

async function validate(input: ImportInput, format: HashListFormat, config: HashSetConfig, progress: Progress): Promise<Validation> {
  const result: Validation = { skip: new Set(), good: 0, bad: 0, duplicates: 0 };
  /** Hash hex by id for ids given in the file (ids defaulting to the hex are their own check). */
  const seen = new Map<string, string>();
  const reject = (line: number, reason: string): void => {
    result.skip.add(line);
    // The reason can quote the file's text (a hash-sharing export from outside): escaped.
    if (++result.bad <= BAD_LINES_SHOWN) process.stderr.write(`${terminalSafe(input.shown)}:${line}: ${terminalSafe(reason)}; skipped\n`);
    else if (result.bad === BAD_LINES_SHOWN + 1) process.stderr.write(`(more bad lines: only counted)\n`);
  };
  try {
    for await (const parsed of readHashList(input.read(), format, config.algorithm)) {
      if (!parsed.ok) {
        reject(parsed.bad.line, parsed.bad.reason);
        continue;
      }
      const { entry } = parsed;
      progress.tick('checked', entry.line);
      const refusal = entryRefusal(config, entry.hash, entry.quality);
      if (refusal) {
        reject(entry.line, refusal);
        continue;
      }
      const hex = hashToHex(entry.hash);
      const earlier = entry.id === hex ? (seen.has(hex) ? hex : (seen.set(hex, hex), undefined)) : seen.get(entry.id);
      if (earlier === undefined) {
        if (entry.id !== hex) seen.set(entry.id, hex);
        result.good++;
      } else if (earlier === hex) {
        result.skip.add(entry.line);
        result.duplicates++;
      } else {
        reject(entry.line, `id ${entry.id} appears earlier in the file with another hash`);
      }
    }
  } catch (error) {
    // A CSV header whose only hash column is the other algorithm's refuses the whole file: nothing is written.
    if (!(error instanceof HashListHeaderError)) throw error;
    throw new CliError('invalid hash list file', `${input.shown}:${error.line}: ${error.message}; nothing imported`);
  }
  return result;
}

async function write(
  store: HashSetStore,
  name: string,
  input: ImportInput,
  format: HashListFormat,
  config: HashSetConfig,
  skip: Set<number>,
  batchSize: number,
  progress: Progress,
  total: number,
): Promise<AddResult> {
  const totals: AddResult = { version: 0, added: 0, unchanged: 0, conflicts: [] };
  // Provenance for files without their own columns (see entryFromLine).
  const source = `import:${basename(input.shown)}`;
  const addedBy = currentUser();
  const importedAt = new Date().toISOString();
  let batch: ParsedHashLine[] = [];
  let written = 0;
  // Batches are pipelined: Redis runs them one after the other, in order, while the next is parsed.
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const flush = async (): Promise<void> => {
    const entries = batch.map((entry) => entryFromLine(entry, { source, addedBy, at: importedAt }));
    batch = [];
    const sent = store.add(name, entries).then((result) => {
      totals.version = Math.max(totals.version, result.version);
      totals.added += result.added;
      totals.unchanged += result.unchanged;
      totals.conflicts.push(...result.conflicts);
      written += entries.length;
      progress.tick('written', written, total);
    });
    inFlight.add(sent);
    sent.then(
      () => inFlight.delete(sent),
      (error: unknown) => (inFlight.delete(sent), (failure ??= error)),
    );
    if (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight).catch(() => undefined);
    if (failure !== undefined) throw failure;
  };
  for await (const parsed of readHashList(input.read(), format, config.algorithm)) {
    if (!parsed.ok || skip.has(parsed.entry.line)) continue;
    batch.push(parsed.entry);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length) await flush();
  await Promise.allSettled(inFlight);
  if (failure !== undefined) throw failure;
  return totals;
}

/** One progress line on stderr, rewritten in place on a terminal, every 10 s in a log otherwise. */
class Progress {
  private last = 0;
  private shown = false;
  private readonly everyMs = process.stderr.isTTY ? 250 : 10_000;

  tick(stage: string, count: number, total?: number): void {
    const now = Date.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    const text = `${stage} ${count.toLocaleString('en')}${total ? ` / ${total.toLocaleString('en')}` : ' lines'}`;
    process.stderr.write(process.stderr.isTTY ? `\r${text}\u001b[K` : `${text}\n`);
    this.shown = true;
  }

  done(): void {
    if (this.shown && process.stderr.isTTY) process.stderr.write('\n');
  }
}
