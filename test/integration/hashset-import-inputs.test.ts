/**
 * `abuse-scan hashset import` reads its input twice (validate, then write): stdin (`-` or
 * /dev/stdin) and pipes (a FIFO, as `<(curl ...)` is) are copied once to a private temporary file
 * and imported from it, which is removed afterwards, on an error, and when the import is stopped by
 * a signal. The format is told by the content before the name: an export saved as backup.txt
 * imports back with its ids, labels and disabled entries; pdq-photo-hasher output
 * (`hash,quality,filename`) is read as such in a PDQ set, its quality floor applied. A CSV holding
 * both hashes (`abuse-scan hash --json`'s fields) gives each set its own algorithm's column, and a
 * `signal_type` column's rows of another type are bad lines.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import { hexToHash } from '../../src/matching/hash-bits.js';
import { runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';
import { suiteRedis, TEST_REDIS_URL } from '../harness/redis.js';

/** An image of the fixtures, hashed by `abuse-scan hash`. */
const CLOUDS = join(REPO_ROOT, 'fixtures', 'images', 'clouds.jpg');

/** Runs a few CLI commands: seconds each when the machine is busy. */
const CLI_TEST_TIMEOUT = 120_000;

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

/** The spooled copies an import left in `dir` (tsx keeps its own cache there too: not counted). */
const spools = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith('abuse-scan-import-'));

describe('abuse-scan hashset import: stdin, pipes, and the format told by the content', () => {
  const { prefix, redis } = suiteRedis('hashset-import-inputs');
  const store = new HashSetStore(redis, { prefix });
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-hashset-import-inputs-'));
  /** TMPDIR of the commands: where their spooled copies would be left behind. */
  const tmp = mkdtempSync(join(tmpdir(), 'abuse-scan-hashset-import-tmp-'));
  const env = { ABUSE_SCAN_PREFIX: prefix, TMPDIR: tmp };
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });
  const cli = (args: string[], stdin?: string) => runCli(args, { env, ...(stdin !== undefined && { stdin }) });
  const ids = async (name: string) => {
    const all: string[] = [];
    for await (const batch of store.scanEntries(name)) all.push(...batch.map((entry) => entry.id.toString()));
    return all.sort();
  };

  it('imports from stdin as - and as /dev/stdin (here a socket, as Node gives a child its stdin), CSV with a header or hex lines, writing what it validated; nothing is left in TMPDIR', async () => {
    expect((await cli(['hashset', 'create', 'piped', '--algorithm', 'pdq'])).code).toBe(0);
    const csv = await cli(['hashset', 'import', 'piped', '/dev/stdin'], `hash,label,id\n${A},clouds,clouds\n${B},mosaic,mosaic\n`);
    expect(csv).toMatchObject({ code: 0, stdout: 'imported /dev/stdin into piped: 2 lines read, added 2, unchanged 0, conflicts 0, skipped 0 bad and 0 repeated lines; version 1\n' });
    const hex = await cli(['hashset', 'import', 'piped', '-'], `${C}\nnot-hex\n`);
    expect(hex.stdout).toBe('imported stdin into piped: 1 lines read, added 1, unchanged 0, conflicts 0, skipped 1 bad and 0 repeated lines; version 2\n');
    expect(hex.stderr).toContain('stdin:2: expected 64 hex digits');
    expect(hex.code).toBe(2);
    expect(await ids('piped')).toEqual(['clouds', C, 'mosaic'].sort());
    const [info] = await store.info('piped', [C]);
    expect(info).toMatchObject({ source: 'import:stdin' });
    // A path that is no file is still named: nothing is copied from it.
    expect(await cli(['hashset', 'import', 'piped', dir])).toMatchObject({ code: 1, stderr: `abuse-scan: is a directory: ${dir}\n` });
    expect(await cli(['hashset', 'import', 'piped', join(dir, 'missing.csv')])).toMatchObject({ code: 1, stderr: `abuse-scan: file not found: ${join(dir, 'missing.csv')}\n` });
    expect(spools(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);

  it('imports a large stdin in batches, every line once', async () => {
    expect((await cli(['hashset', 'create', 'piped-large', '--algorithm', 'pdq'])).code).toBe(0);
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i.toString(16).padStart(64, '0')}\n`).join('');
    const result = await cli(['hashset', 'import', 'piped-large', '-', '--batch', '3000'], lines);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining(': 20000 lines read, added 20000, unchanged 0,') });
    expect((await store.summary('piped-large')).size).toBe(20_000);
    expect(spools(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);

  it('imports from a named pipe (what <(curl ...) gives), and removes the copy when the import then fails', async () => {
    expect((await cli(['hashset', 'create', 'fifo', '--algorithm', 'pdq'])).code).toBe(0);
    const fifo = join(dir, 'feed.fifo');
    execFileSync('mkfifo', [fifo]);
    createWriteStream(fifo).end(`${A}\n${B}\n`);
    expect(await cli(['hashset', 'import', 'fifo', fifo])).toMatchObject({ code: 0, stdout: expect.stringContaining(': 2 lines read, added 2,') });
    expect(await ids('fifo')).toEqual([A, B]);

    // Refused past --max-bad after the copy was made: an error, and the copy is gone all the same.
    createWriteStream(fifo).end(`nope\nnope\n${C}\n`);
    expect(await cli(['hashset', 'import', 'fifo', fifo, '--max-bad', '1'])).toMatchObject({ code: 1, stderr: expect.stringContaining('hash set fifo: nothing imported: 2 bad lines (more than --max-bad 1)\n') });
    expect(await store.version('fifo')).toBe(1);
    expect(spools(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);

  it('removes the copy of stdin when stopped by SIGTERM while reading it, and writes nothing', async () => {
    expect((await cli(['hashset', 'create', 'stopped', '--algorithm', 'pdq'])).code).toBe(0);
    const child = spawn(process.execPath, ['bin/abuse-scan.js', 'hashset', 'import', 'stopped', '-'], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'silent', ...env },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    child.stdin.write(`${A}\n`); // stdin stays open: the import is still copying it
    const deadline = Date.now() + 60_000;
    while (!spools(tmp).some((spool) => existsSync(join(tmp, spool, 'input')))) {
      if (Date.now() > deadline) throw new Error('the import never started copying stdin');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGTERM');
    expect(await closed).toEqual({ code: null, signal: 'SIGTERM' });
    expect(spools(tmp)).toEqual([]);
    expect(await store.version('stopped')).toBe(0);
  }, CLI_TEST_TIMEOUT);

  it('an export saved under a .txt name imports back as CSV: ids, labels, disabled entries and provenance kept', async () => {
    expect((await cli(['hashset', 'create', 'txt-source', '--algorithm', 'pdq'])).code).toBe(0);
    await store.add('txt-source', [
      { id: 'fp-entry', hash: hexToHash(A, 256), label: 'false positive', source: 'feed:x', addedAt: '2026-11-20T10:00:00.000Z', addedBy: 'alice' },
      { id: 'kept', hash: hexToHash(B, 256), label: 'two\nlines, "quoted"' },
    ]);
    await store.disable('txt-source', 'fp-entry', 'FP ticket 99');
    const exported = await cli(['hashset', 'export', 'txt-source']);
    expect(exported.code).toBe(0);
    const backup = join(dir, 'backup.txt');
    writeFileSync(backup, exported.stdout);

    expect((await cli(['hashset', 'create', 'txt-copy', '--algorithm', 'pdq'])).code).toBe(0);
    const imported = await cli(['hashset', 'import', 'txt-copy', backup]);
    expect(imported).toMatchObject({ code: 0, stdout: expect.stringContaining(': 2 lines read, added 2, unchanged 0, conflicts 0, skipped 0 bad') });
    expect(imported.stderr).not.toMatch(/skipped|conflict/);
    const rows = (csv: string): string[] => csv.split(/\n(?=[0-9a-f]{64},)/).sort();
    expect(rows((await cli(['hashset', 'export', 'txt-copy'])).stdout)).toEqual(rows(exported.stdout));
    expect(await store.info('txt-copy', ['fp-entry', 'kept'])).toEqual([
      expect.objectContaining({ label: 'false positive', disabled: expect.objectContaining({ reason: 'FP ticket 99' }) }),
      expect.objectContaining({ label: 'two\nlines, "quoted"' }),
    ]);
    const { set } = await ReplicatedHashSet.load(store, 'txt-copy');
    expect(set.match([hexToHash(A, 256)])).toEqual([]);

    // The same export through stdin (no name at all); --format hex refuses its lines, which hold
    // more than a hash: no good line, nothing imported (exit 1). Line 1 is the export's settings
    // line, a comment in every format: the header, line 2, is the first line refused.
    expect((await cli(['hashset', 'create', 'txt-stdin', '--algorithm', 'pdq'])).code).toBe(0);
    expect(await cli(['hashset', 'import', 'txt-stdin', '-'], exported.stdout)).toMatchObject({ code: 0, stdout: expect.stringContaining(': 2 lines read, added 2,') });
    expect(await ids('txt-stdin')).toEqual(['fp-entry', 'kept']);
    expect((await cli(['hashset', 'create', 'txt-hex', '--algorithm', 'pdq'])).code).toBe(0);
    const hex = await cli(['hashset', 'import', 'txt-hex', backup, '--format', 'hex']);
    expect(hex.stderr).toContain(`${backup}:2: a hex list holds one hash a line and this line has more (for hash,label,id or hash,quality,filename use --format csv or --format pdq-photo-hasher); skipped`);
    expect(hex).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/\nhash set txt-hex: nothing imported: no entries, only \d+ bad lines\n$/) });
  }, CLI_TEST_TIMEOUT);

  it("a CSV with both hashes imports each set's own (the PDQ set then matches clouds.jpg); a signal_type column's other types are bad lines; a header with only the other algorithm's column is refused", async () => {
    // The fields `abuse-scan hash --json` prints: both hashes are 256 bits, so the wrong column would load without a word.
    const hashed = await cli(['hash', CLOUDS, '--json']);
    expect(hashed.code).toBe(0);
    const clouds = JSON.parse(hashed.stdout) as { blockhash: string; pdq: string; pdqQuality: number };
    const both = join(dir, 'partner.pdq.csv');
    writeFileSync(both, `id,blockhash,pdq,pdq_quality\nclouds,${clouds.blockhash},${clouds.pdq},${clouds.pdqQuality}\n`);
    const matches = async (name: string, hex: string) => {
      const { set } = await ReplicatedHashSet.load(store, name);
      const found = set.match([hexToHash(hex, 256)]);
      return (await set.describe(found.map((match) => match.entryNo))).map((entry) => entry?.id);
    };

    expect((await cli(['hashset', 'create', 'partner', '--algorithm', 'pdq', '--threshold', '31'])).code).toBe(0);
    expect(await cli(['hashset', 'import', 'partner', both])).toMatchObject({ code: 0, stdout: expect.stringContaining(': 1 lines read, added 1, unchanged 0, conflicts 0, skipped 0 bad') });
    expect(await matches('partner', clouds.pdq)).toEqual(['clouds']);
    expect(await matches('partner', clouds.blockhash)).toEqual([]);
    expect((await cli(['hashset', 'create', 'partner-bh', '--algorithm', 'blockhash'])).code).toBe(0);
    expect((await cli(['hashset', 'import', 'partner-bh', both])).code).toBe(0);
    expect(await matches('partner-bh', clouds.blockhash)).toEqual(['clouds']);

    // A ThreatExchange-style export into a blockhash set: only its blockhash rows, the others named by type.
    const te = join(dir, 'te-export.csv');
    writeFileSync(te, `signal_type,signal_value\npdq,${clouds.pdq}\nphoto_md5,d41d8cd98f00b204e9800998ecf8427e\nblockhash,${clouds.blockhash}\n`);
    expect((await cli(['hashset', 'create', 'te-bh', '--algorithm', 'blockhash'])).code).toBe(0);
    const typed = await cli(['hashset', 'import', 'te-bh', te]);
    expect(typed).toMatchObject({ code: 2, stdout: expect.stringContaining(': 1 lines read, added 1, unchanged 0, conflicts 0, skipped 2 bad') });
    expect(typed.stderr).toContain(`${te}:2: signal_type pdq is not blockhash; skipped\n${te}:3: signal_type photo_md5 is not blockhash; skipped\n`);
    expect(await ids('te-bh')).toEqual([clouds.blockhash]);

    // Only the other algorithm's column: the file is refused, nothing written.
    const wrong = join(dir, 'blockhash-only.csv');
    writeFileSync(wrong, `id,blockhash\nclouds,${clouds.blockhash}\n`);
    expect((await cli(['hashset', 'create', 'wrong-column', '--algorithm', 'pdq'])).code).toBe(0);
    expect(await cli(['hashset', 'import', 'wrong-column', wrong])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `abuse-scan: invalid hash list file: ${wrong}:1: the header's hash column "blockhash" holds blockhash hashes and this is a pdq set (name the pdq hashes' column "pdq" or "hash"); nothing imported\n`,
    });
    expect(await store.summary('wrong-column')).toMatchObject({ version: 0, size: 0 });
    expect(spools(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);

  it("reads pdq-photo-hasher output (hash,quality,filename) in a PDQ set: a line below the quality floor is refused, the file name is the id", async () => {
    expect((await cli(['hashset', 'create', 'hasher', '--algorithm', 'pdq'])).code).toBe(0);
    const output = join(dir, 'hashes.txt');
    writeFileSync(output, `${A},100,bridge.jpg\n${B},20,flat.png\n${C},75,dir/with, comma.jpg\n`);
    const result = await cli(['hashset', 'import', 'hasher', output]);
    expect(result.stderr).toContain(`${output}: read as pdq-photo-hasher output (hash,quality,filename: the file name is the id, the quality must be at least 50); --format csv reads it as hash,label,id\n`);
    expect(result.stderr).toContain(`${output}:2: PDQ quality 20 is below the set's floor of 50; skipped`);
    expect(result.stdout).toContain(': 2 lines read, added 2, unchanged 0, conflicts 0, skipped 1 bad');
    expect(result.code).toBe(2);
    expect(await ids('hasher')).toEqual(['bridge.jpg', 'dir/with, comma.jpg']);
    const [bridge] = await store.info('hasher', ['bridge.jpg']);
    expect(bridge).not.toHaveProperty('label');

    // --format csv reads the same lines as hash,label,id (the escape for numeric labels).
    expect((await cli(['hashset', 'create', 'hasher-as-csv', '--algorithm', 'pdq'])).code).toBe(0);
    // (The third line's fourth cell, `comma.jpg`, is no quality there: a bad line.)
    expect((await cli(['hashset', 'import', 'hasher-as-csv', output, '--format', 'csv'])).code).toBe(2);
    expect(await store.info('hasher-as-csv', ['bridge.jpg', 'flat.png'])).toEqual([expect.objectContaining({ label: '100' }), expect.objectContaining({ label: '20' })]);

    // Explicitly, from stdin; refused for a blockhash set, whose hashes it cannot hold.
    expect((await cli(['hashset', 'create', 'hasher-stdin', '--algorithm', 'pdq'])).code).toBe(0);
    const piped = await cli(['hashset', 'import', 'hasher-stdin', '-', '--format', 'pdq-photo-hasher'], `${A},20,low.jpg\n${B},90,ok.jpg\n`);
    expect(piped).toMatchObject({ code: 2, stderr: expect.stringContaining("stdin:1: PDQ quality 20 is below the set's floor of 50; skipped") });
    expect(piped.stderr).not.toContain('read as pdq-photo-hasher output');
    expect(await ids('hasher-stdin')).toEqual(['ok.jpg']);
    expect((await cli(['hashset', 'create', 'hasher-bh', '--algorithm', 'blockhash'])).code).toBe(0);
    expect(await cli(['hashset', 'import', 'hasher-bh', output, '--format', 'pdq-photo-hasher'])).toMatchObject({
      code: 1,
      stderr: 'abuse-scan: invalid option: --format pdq-photo-hasher: pdq-photo-hasher output holds PDQ hashes, and hasher-bh is a blockhash set\n',
    });
    // Without --format, a blockhash set reads such a file by its name, as a hex list: one hash a
    // line, so these lines are refused (dropping the rest would drop a quality without a word),
    // and with no good line nothing is imported (exit 1).
    const asHex = await cli(['hashset', 'import', 'hasher-bh', output]);
    expect(asHex).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining(`${output}:1: a hex list holds one hash a line and this line has more`) });
    expect(asHex.stderr).toMatch(/\nhash set hasher-bh: nothing imported: no entries, only 3 bad lines\n$/);
    expect(await store.summary('hasher-bh')).toMatchObject({ version: 0, size: 0 });
    expect(await cli(['hashset', 'import', 'hasher', output, '--format', 'xml'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^abuse-scan: invalid option: option '--format <format>' argument 'xml' is invalid/) });
    expect(spools(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);
});
