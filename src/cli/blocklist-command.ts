import { open } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { canonicalEntry, decodeEntryInfo, EntryError, entryAsWritten, parseEntryField, type EntryKind, type ListAction, type ListEntry } from '../lists/list-entry.js';
import { formatOfFile, importRefusal, spoolListFile, type BadLine, type ListFileFormat, type SpooledListFile, type SpoolListOptions } from '../lists/list-import.js';
import { ListStore, type ListChange } from '../lists/list-store.js';
import { currentUser, integerFlag } from './cli-config.js';
import { CliError } from './cli-errors.js';
import { withRedis } from './cli-redis.js';
import { LineWriter } from './line-io.js';
import { terminalSafe } from './terminal-text.js';

/**
 * `abuse-scan blocklist import|add|remove|list|delete`: manage the lists workers match links against,
 * in Redis (REDIS_URL, ABUSE_SCAN_PREFIX). Every change bumps the list's version and reaches
 * running workers within a second. Entries are canonicalized first; bad ones are reported by
 * line (import) or argument (add/remove), the first 50 one by one, then counted. `import` skips
 * bad lines unless `--strict` or more than `--max-bad`; `import --replace` allows none unless
 * `--max-bad` says so, and never replaces a list with nothing (a damaged feed must not empty a live
 * list); a file with no entry (every entry line bad, or none: empty, only comments) imports
 * nothing (and makes no list). `add` and `remove` write nothing when any entry is bad. Re-adding or re-importing an entry keeps the
 * label, reason and added-by it does not give (see ListStore.add). Lists named `allow-*` are
 * allowlists (see listRoleOfName). `delete` removes a whole list, and only with `--yes` (without it,
 * it says what it would delete and exits 1); the list is gone from running workers within a second.
 *
 * `import` reads its file (`-`: stdin, or a pipe) once, validating every line before anything is
 * written, into a private temporary file of canonical entries that the write then reads back
 * batch by batch (spoolListFile): it never holds the file's entries, and what it writes is what it
 * validated, whatever happens to the file meanwhile.
 *
 * Exit status, as `hashset import`'s: 0 done; 2 imported with bad lines skipped; 1 nothing written
 * (an import refused, a bad entry for add or remove, a missing list or file, a delete without --yes).
 */

interface SettingsFlags {
  allow?: boolean;
  action?: ListAction;
}

interface ImportFlags extends SettingsFlags {
  format?: ListFileFormat;
  replace?: boolean;
  strict?: boolean;
  maxBad?: string;
  addedBy?: string;
}

interface EntryFlags extends SettingsFlags {
  kind?: EntryKind;
  label?: string;
  reason?: string;
  addedBy?: string;
}

function withStore<T>(fn: (store: ListStore) => Promise<T>): Promise<T> {
  return withRedis((redis, config) => fn(new ListStore(redis, { prefix: config.prefix })));
}

function settingsOf(flags: SettingsFlags) {
  return { ...(flags.allow && { role: 'allow' as const }), ...(flags.action && { action: flags.action }) };
}

/** Bad lines printed one by one (as `hashset import` does); beyond this only counted. */
const BAD_LINES_SHOWN = 50;

/** Exit status of an import that wrote its good lines and skipped bad ones (as `hashset import`). */
const EXIT_LINES_SKIPPED = 2;

/** The first of `bad` (`total` in all), one by one, then how many more. */
function reportBad(bad: readonly BadLine[], total: number, what: string): void {
  // A feed's line is outside text: shown escaped, it cannot drive the terminal.
  let text = '';
  for (const line of bad.slice(0, BAD_LINES_SHOWN)) text += `${what} ${line.line}: ${terminalSafe(line.message)}: ${terminalSafe(line.text)}\n`;
  if (total > BAD_LINES_SHOWN) text += `(${total - BAD_LINES_SHOWN} more bad ${what === 'line' ? 'lines' : 'entries'} not shown)\n`;
  if (text) process.stderr.write(text);
}

function summarize(name: string, change: ListChange): string {
  return `list ${terminalSafe(name)}: version ${change.version}, ${change.added} added, ${change.updated} updated, ${change.unchanged} unchanged, ${change.removed} removed`;
}

/**
 * With `--added-by`, every entry the file names gets it (a CSV added_by cell wins on its line),
 * listed ones too. Without it, the user only fills in new entries' (see EntryWriteOptions), so a
 * re-import of the same feed by someone else leaves the entries as they were.
 */
async function runImport(name: string, file: string, flags: ImportFlags): Promise<void> {
  const maxBad = flags.strict ? 0 : integerFlag('max-bad', flags.maxBad);
  const read = await readInput(file, flags.format ?? formatOfFile(file), { source: file === '-' ? 'stdin' : file, keepBad: BAD_LINES_SHOWN, ...(flags.addedBy && { addedBy: flags.addedBy }) });
  try {
    reportBad(read.bad, read.badLines, 'line');
    const refusal = importRefusal(read, { replace: flags.replace ?? false, ...(maxBad !== undefined && { maxBad }) });
    if (refusal) {
      process.stderr.write(`list ${terminalSafe(name)}: nothing imported: ${terminalSafe(refusal)}\n`);
      process.exitCode = 1;
      return;
    }
    const addedBy = currentUser();
    const change = await withStore((store) => store.import(name, read, { ...settingsOf(flags), replace: flags.replace ?? false, ...(addedBy && { addedBy }) }));
    const skipped = read.badLines ? `; ${read.badLines} bad lines skipped` : '';
    process.stdout.write(`${summarize(name, change)}${skipped}${read.duplicates ? `; ${read.duplicates} duplicate lines` : ''}\n`);
    if (read.badLines) process.exitCode = EXIT_LINES_SKIPPED;
  } finally {
    await read.close();
  }
}

/**
 * Canonical entries of the arguments; undefined (and errors printed) when any is bad. For a
 * removal, entries no longer accepted (an expression deeper than lookups, stored before that was
 * refused) are still named, so they can be taken out.
 */
function entriesOf(texts: string[], flags: EntryFlags, purpose: 'add' | 'remove' = 'add'): ListEntry[] | undefined {
  const entries: ListEntry[] = [];
  const bad: BadLine[] = [];
  texts.forEach((text, index) => {
    try {
      entries.push(canonicalEntry(text, flags.kind, { toRemove: purpose === 'remove' }));
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      bad.push({ line: index + 1, text, message: error.message });
    }
  });
  if (bad.length === 0) return entries;
  reportBad(bad, bad.length, 'entry');
  process.stderr.write('nothing written\n');
  process.exitCode = 1;
  return undefined;
}

/**
 * The options given replace the entries' fields (`--label ''` clears the label); those not given
 * keep what an entry already listed has. The user (without `--added-by`) only fills in new
 * entries' added-by.
 */
async function runAdd(name: string, texts: string[], flags: EntryFlags): Promise<void> {
  const entries = entriesOf(texts, flags)?.map((entry) => ({
    ...entry,
    ...(flags.label !== undefined && { label: flags.label }),
    ...(flags.reason !== undefined && { reason: flags.reason }),
    ...(flags.addedBy !== undefined && { addedBy: flags.addedBy }),
  }));
  if (!entries) return;
  const addedBy = currentUser();
  const change = await withStore((store) => store.add(name, entries, { ...settingsOf(flags), ...(addedBy && { addedBy }) }));
  process.stdout.write(`${summarize(name, change)}\n`);
}

async function runRemove(name: string, texts: string[], flags: EntryFlags): Promise<void> {
  const entries = entriesOf(texts, flags, 'remove');
  if (!entries) return;
  await withStore(async (store) => {
    if ((await store.summary(name)) === undefined) return reportNoList(name);
    process.stdout.write(`${summarize(name, await store.remove(name, entries))}\n`);
  });
}

/** Deletes the whole list (ListStore.delete) when `--yes` confirms it. */
async function runDelete(name: string, flags: { yes?: boolean }): Promise<void> {
  await withStore(async (store) => {
    if (!flags.yes) {
      const summary = await store.summary(name);
      if (summary === undefined) return reportNoList(name);
      throw new CliError('confirmation required', `would delete list ${name} and its ${summary.size} entries (version ${summary.version}): pass --yes to delete it`);
    }
    const deleted = await store.delete(name);
    if (deleted === undefined) return reportNoList(name);
    process.stdout.write(`deleted list ${terminalSafe(name)}: ${deleted.entries} entries, last version ${deleted.version}\n`);
  });
}

function reportNoList(name: string): void {
  process.stderr.write(`no list named ${terminalSafe(name)}\n`);
  process.exitCode = 1;
}

async function runList(name: string | undefined, flags: { json?: boolean }): Promise<void> {
  await withStore(async (store) => {
    const out = new LineWriter();
    if (name === undefined) {
      for (const listName of await store.names()) {
        const summary = await store.summary(listName);
        if (!summary) continue;
        await out.line(flags.json ? JSON.stringify(summary) : `${terminalSafe(summary.name)}\t${summary.role}\t${summary.action}\tversion ${summary.version}\t${summary.size} entries`);
      }
    } else {
      if ((await store.summary(name)) === undefined) return reportNoList(name);
      for await (const page of store.scanEntries(name)) {
        for (const [field, stored] of page) {
          const entry = { ...parseEntryField(field), ...decodeEntryInfo(stored) };
          // Labels and reasons come from feeds and other people: escaped, a tab or a newline in
          // one cannot fake a column or a line, nor an escape sequence drive the terminal.
          const cells = [entry.kind, entryAsWritten(entry), entry.label ?? '', entry.reason ?? '', entry.addedBy ?? '', entry.addedAt ?? ''];
          await out.line(flags.json ? JSON.stringify(entry) : cells.map(terminalSafe).join('\t'));
        }
      }
    }
    await out.flush();
  });
}

export function registerBlocklistCommand(program: Command): void {
  const blocklist = program.command('blocklist').description('manage the block- and allowlists in Redis (REDIS_URL); changes reach running workers within a second');
  const settings = (command: Command) =>
    command
      .option('--allow', 'assert the list is an allowlist (lists named allow-* are; refused for other names): its entries suppress block matches of the URLs they cover')
      .addOption(new Option('--action <action>', 'what a match of this blocklist suggests (default: block for a new list, unchanged for an existing one)').choices(['block', 'review']))
      .option('--added-by <who>', 'recorded with each entry written, replacing a listed entry\'s (default: $USER, else the OS user name, for new entries only)');

  settings(blocklist.command('import').argument('<list>', 'list name').argument('<file>', 'entries file (- for stdin)'))
    .addOption(new Option('--format <format>', 'file format (default from the extension: .csv is CSV)').choices(['txt', 'csv']))
    .option('--replace', 'make the list exactly the file\'s entries (drop those not in it; those kept keep the label, reason and added-by the file does not give); refused when any line is bad (see --max-bad) or the file has no entries')
    .option('--strict', 'import nothing when any line is bad (--max-bad 0)')
    .option('--max-bad <n>', 'import nothing when more than n lines are bad (default: bad lines are skipped; with --replace, 0)')
    .description('import a text file (one entry per line, # comments) or CSV (header with entry[,kind,label,reason,added_by]); listed entries keep the label, reason and added-by the file does not give (exit 0 ok, 2 bad lines skipped, 1 nothing imported)')
    .action((name: string, file: string, flags: ImportFlags) => runImport(name, file, flags));

  const entryOptions = (command: Command) =>
    command.addOption(new Option('--kind <kind>', 'entry kind (default: a scheme makes a URL, a "/" an expression, else a domain)').choices(['url', 'expression', 'domain']));
  settings(entryOptions(blocklist.command('add').argument('<list>', 'list name').argument('<entry...>', 'URLs, expressions (evil.example/path/) or domains')))
    .option('--label <label>', 'label of the entries (replaces a listed entry\'s; "" clears it; without it a listed entry keeps its label)')
    .option('--reason <reason>', 'why they are listed (replaces a listed entry\'s; "" clears it)')
    .description('add entries (creates the list); an entry already listed (an http(s) URL under either scheme) is updated, keeping what is not given')
    .action((name: string, entries: string[], flags: EntryFlags) => runAdd(name, entries, flags));

  entryOptions(blocklist.command('remove').argument('<list>', 'list name').argument('<entry...>', 'entries to remove'))
    .description('remove entries (an http(s) URL entry under either scheme)')
    .action((name: string, entries: string[], flags: EntryFlags) => runRemove(name, entries, flags));

  blocklist
    .command('list')
    .argument('[list]', 'a list whose entries to print')
    .option('--json', 'one JSON object per line')
    .description('the lists with role, action, version and size; or one list\'s entries (kind, value, label, reason, added by, added at)')
    .action((name: string | undefined, flags: { json?: boolean }) => runList(name, flags));

  blocklist
    .command('delete')
    .argument('<list>', 'list name')
    .option('--yes', 'delete it (without: say what would be deleted, exit 1)')
    .description('delete a list and all its entries (workers drop it within a second); a list made again under the name starts empty')
    .action((name: string, flags: { yes?: boolean }) => runDelete(name, flags));
}

/**
 * The file (`-`: stdin) read once, as it comes, and validated in full (spoolListFile): the import
 * holds neither the file's text nor its entries, which go to a private temporary file of
 * canonical entries that the write reads back. Nothing is written before every line is read,
 * and what is written is what was validated, whatever happens to the file meanwhile.
 */
async function readInput(file: string, format: ListFileFormat, options: SpoolListOptions): Promise<SpooledListFile> {
  // Opened first: a missing file fails here, naming its path, before anything else is made.
  const input = file === '-' ? process.stdin : (await open(file, 'r')).createReadStream();
  try {
    return await spoolListFile(input, format, options);
  } catch (error) {
    // Not read to its end (no temporary file could be made, a CSV with no entry column): closed now.
    input.destroy();
    throw error;
  }
}
