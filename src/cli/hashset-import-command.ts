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
 * Exit code 0: all lines imported; 2: some lines were skipped or conflicted; 1: nothing written.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { BLANK_BLOCKHASH_REASON, blockhashEntryCanMatch, HASH_BITS, passesQualityFloor, type HashSetConfig } from '../hashsets/hash-set-config.js';
import { entryFromLine, HASH_LIST_FORMATS, readHashList, type HashListFormat, type ParsedHashLine } from '../hashsets/hash-list-parser.js';
import type { AddResult, HashSetStore } from '../hashsets/hash-set-store.js';
import { hashToHex } from '../matching/hash-bits.js';
import { currentUser, integerFlag } from './cli-config.js';
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
    .argument('<file>', 'hex list (one hash a line) or CSV (hash, label/tags, id[, quality]; header optional; or a hashset export)')
    .description('import a hash list, validated in full before anything is written (exit 0 ok, 2 lines skipped, 1 nothing written)')
    .option('--format <format>', `${HASH_LIST_FORMATS.join(' | ')} (default: by extension, .csv is csv)`)
    .option('--batch <n>', 'entries per write (one version each)', '2000')
    .option('--max-bad <n>', 'write nothing if more lines than this are bad', '1000')
    .action((name: string, file: string, flags: ImportFlags) =>
      withHashSetStore(async (store) => {
        const format = flags.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'hex');
        if (!HASH_LIST_FORMATS.includes(format)) throw new Error(`--format must be one of ${HASH_LIST_FORMATS.join(', ')}`);
        const { config } = await store.summary(name);
        const progress = new Progress();
        const checked = await validate(file, format, config, progress);
        const maxBad = integerFlag('max-bad', flags.maxBad)!;
        if (checked.bad > maxBad) {
          throw new Error(`${checked.bad} bad lines (more than --max-bad ${maxBad}); nothing written`);
        }
        const result = await write(store, name, file, format, config, checked.skip, integerFlag('batch', flags.batch) || 2000, progress, checked.good);
        progress.done();
        for (const id of result.conflicts.slice(0, BAD_LINES_SHOWN)) process.stderr.write(`conflict: id ${terminalSafe(id)} is in the set with another hash; left unchanged\n`);
        process.stdout.write(
          `imported ${terminalSafe(file)} into ${terminalSafe(name)}: ${checked.good} lines read, added ${result.added}, unchanged ${result.unchanged}, ` +
            `conflicts ${result.conflicts.length}, skipped ${checked.bad} bad and ${checked.duplicates} repeated lines; version ${result.version}\n`,
        );
        if (checked.bad > 0 || result.conflicts.length > 0) process.exitCode = 2;
      }),
    );
}

interface Validation {
  /** Lines the write pass skips: bad ones and repeats of an id seen earlier in the file. */
  skip: Set<number>;
  good: number;
  bad: number;
  duplicates: number;
}

async function validate(file: string, format: HashListFormat, config: HashSetConfig, progress: Progress): Promise<Validation> {
  const result: Validation = { skip: new Set(), good: 0, bad: 0, duplicates: 0 };
  /** Hash hex by id for ids given in the file (ids defaulting to the hex are their own check). */
  const seen = new Map<string, string>();
  const reject = (line: number, reason: string): void => {
    result.skip.add(line);
    // The reason can quote the file's text (a hash-sharing export from outside): escaped.
    if (++result.bad <= BAD_LINES_SHOWN) process.stderr.write(`${terminalSafe(file)}:${line}: ${terminalSafe(reason)}; skipped\n`);
    else if (result.bad === BAD_LINES_SHOWN + 1) process.stderr.write(`(more bad lines: only counted)\n`);
  };
  for await (const parsed of readHashList(createReadStream(file), format, HASH_BITS[config.algorithm])) {
    if (!parsed.ok) {
      reject(parsed.bad.line, parsed.bad.reason);
      continue;
    }
    const { entry } = parsed;
    progress.tick('checked', entry.line);
    if (!passesQualityFloor(config, entry.quality)) {
      reject(entry.line, `PDQ quality ${entry.quality} is below the set's floor of ${config.minQuality}`);
      continue;
    }
    if (!blockhashEntryCanMatch(config, entry.hash)) {
      reject(entry.line, BLANK_BLOCKHASH_REASON);
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
  return result;
}

async function write(
  store: HashSetStore,
  name: string,
  file: string,
  format: HashListFormat,
  config: HashSetConfig,
  skip: Set<number>,
  batchSize: number,
  progress: Progress,
  total: number,
): Promise<AddResult> {
  const totals: AddResult = { version: 0, added: 0, unchanged: 0, conflicts: [] };
  // Provenance for files without their own columns (see entryFromLine).
  const source = `import:${basename(file)}`;
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
  for await (const parsed of readHashList(createReadStream(file), format, HASH_BITS[config.algorithm])) {
    if (!parsed.ok || skip.has(parsed.entry.line)) continue;
    batch.push(parsed.entry);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length || written === 0) await flush();
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
