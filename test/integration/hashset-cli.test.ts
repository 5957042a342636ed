/** The hashset and hash commands, run as an operator would: `abuse-scan ...` in a child process. */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { entryIdRefusal, MAX_ID_LENGTH } from '../../src/hashsets/hash-list-parser.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex, hexToHash } from '../../src/matching/hash-bits.js';
import { runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const prefix = uniquePrefix('hashset-cli');
const fixture = (name: string) => join(REPO_ROOT, 'fixtures', 'images', name);

function cli(...args: string[]): ReturnType<typeof cliWith> {
  return cliWith({}, ...args);
}

function cliWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cliNode(['bin/abuse-scan.js', ...args], env);
}

/** The CLI as run on a terminal: stdout says it is a TTY (captured all the same). */
function cliOnTerminal(...args: string[]): ReturnType<typeof cliWith> {
  return cliNode(['--import', 'data:text/javascript,Object.defineProperty(process.stdout,"isTTY",{value:true})', 'bin/abuse-scan.js', ...args], {});
}

function cliNode(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, REDIS_URL: TEST_REDIS_URL, ABUSE_SCAN_PREFIX: prefix, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

describe('abuse-scan hashset / hash', () => {
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });
  const dir = mkdtempSync(join(tmpdir(), 'hashset-cli-'));

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('hash prints blockhash, PDQ and quality per file, with --dihedral variants and typed errors', async () => {
    const { code, stdout } = await cli('hash', '--json', '--dihedral', fixture('rings.jpg'), fixture('nope.jpg'), fixture('bad/many-frames.gif'));
    expect(code).toBe(1);
    const [rings, missing, gif] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rings).toMatchObject({ file: fixture('rings.jpg'), pdq: expect.stringMatching(/^[0-9a-f]{64}$/), blockhash: expect.stringMatching(/^[0-9a-f]{64}$/), pdqQuality: 100, width: 640, height: 480 });
    expect(Object.keys(rings!.dihedral as object)).toHaveLength(8);
    expect(missing).toMatchObject({ error: { code: 'path_not_found' } });
    expect(gif).toMatchObject({ pdqQuality: 0 });
  }, 30_000);

  it('create, add images (refusing low quality), list and stats', async () => {
    expect((await cli('hashset', 'create', 'cli-pdq', '--algorithm', 'pdq', '--threshold', '28')).code).toBe(0);
    const again = await cli('hashset', 'create', 'cli-pdq', '--algorithm', 'pdq');
    expect(again).toEqual({ code: 1, stdout: '', stderr: 'abuse-scan: already exists: hash set "cli-pdq": its configuration is unchanged\n' });

    const added = await cli('hashset', 'add', 'cli-pdq', fixture('rings.jpg'), '--id', 'rings', '--label', 'test rings');
    expect(added.code).toBe(0);
    const flat = await cli('hashset', 'add', 'cli-pdq', fixture('bad/many-frames.gif'));
    expect(flat).toMatchObject({ code: 1, stderr: expect.stringMatching(/hash_low_quality: .*PDQ quality 0 is below the set's floor of 50/) });
    const missing = await cli('hashset', 'add', 'no-such-set', A);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('hashset_not_found') });

    const list = await cli('hashset', 'list', '--json');
    expect(JSON.parse(list.stdout.trim())).toEqual({ name: 'cli-pdq', algorithm: 'pdq', kind: 'block', threshold: 28, size: 1, version: 1 });
    const stats = JSON.parse((await cli('hashset', 'stats', 'cli-pdq', '--json')).stdout) as Record<string, unknown>;
    expect(stats).toMatchObject({ size: 1, version: 1, matches: 0, suppressions: null, quarantined: [], config: { threshold: 28, minQuality: 50 } });
  }, 60_000);

  it('refuses a bad configuration with one readable line per problem, not zod issue JSON', async () => {
    const md5 = await cli('hashset', 'create', 'cli-bad', '--algorithm', 'md5');
    expect(md5.code).toBe(1);
    expect(md5.stderr).toBe("abuse-scan: invalid option: option '--algorithm <algorithm>' argument 'md5' is invalid. Allowed choices are pdq, blockhash. (see abuse-scan hashset create --help)\n");
    const threshold = await cli('hashset', 'create', 'cli-bad', '--algorithm', 'pdq', '--threshold', '999');
    expect(threshold).toMatchObject({ code: 1, stderr: 'abuse-scan: invalid input: threshold: Too big: expected number to be <=128\n' });
  }, 30_000);

  it('stats of a negative set shows its suppressions and says its matches are not counted instead of showing 0', async () => {
    expect((await cli('hashset', 'create', 'cli-known-good', '--algorithm', 'pdq', '--kind', 'negative')).code).toBe(0);
    const json = JSON.parse((await cli('hashset', 'stats', 'cli-known-good', '--json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ matches: null, suppressions: 0, config: { kind: 'negative' } });
    const text = await cli('hashset', 'stats', 'cli-known-good');
    expect(text.stdout).toMatch(/^matches +not counted for negative sets/m);
    expect(text.stdout).toMatch(/^suppressed +0 \(block and review matches/m);
    expect((await cli('hashset', 'stats', 'cli-pdq')).stdout).not.toMatch(/^suppressed/m);
  }, 30_000);

  it('import validates the whole file first, reports bad lines by number, and re-imports as a no-op', async () => {
    expect((await cli('hashset', 'create', 'cli-import', '--algorithm', 'pdq')).code).toBe(0);
    const csv = join(dir, 'export.csv');
    writeFileSync(csv, ['id,hash,tags,quality', `x1,${A},spam,90`, `x2,not-a-hash,spam,90`, `x3,${B},"a, b",10`, `x1,${A},spam,90`, `x4,${C},,`, `x1,${B},,`, ''].join('\n'));
    const first = await cli('hashset', 'import', 'cli-import', csv);
    expect(first.code).toBe(2);
    expect(first.stderr).toContain(`${csv}:3: expected 64 hex digits`);
    expect(first.stderr).toContain(`${csv}:4: PDQ quality 10 is below the set's floor of 50`);
    expect(first.stderr).toContain(`${csv}:7: id x1 appears earlier in the file with another hash`);
    expect(first.stdout).toContain('added 2, unchanged 0, conflicts 0, skipped 3 bad and 1 repeated lines; version 1');

    const second = await cli('hashset', 'import', 'cli-import', csv);
    expect(second.stdout).toContain('added 0, unchanged 2, conflicts 0');
    expect(second.stdout).toContain('version 1');
    expect(await store.version('cli-import')).toBe(1);

    const garbage = join(dir, 'garbage.txt');
    writeFileSync(garbage, `${A}\nnope\nnope\nnope\n`);
    const refused = await cli('hashset', 'import', 'cli-import', garbage, '--max-bad', '2');
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/\nhash set cli-import: nothing imported: 3 bad lines \(more than --max-bad 2\)\n$/);
    expect(await store.version('cli-import')).toBe(1);
  }, 60_000);

  it('disable, remove, export', async () => {
    expect((await cli('hashset', 'disable', 'cli-import', 'x1', '--reason', 'false positive')).stdout).toContain('disabled x1; cli-import at version 2');
    expect((await cli('hashset', 'remove', 'cli-import', 'x4')).stdout).toContain('removed 1 of 1; cli-import at version 3');
    const csv = await cli('hashset', 'export', 'cli-import');
    const lines = csv.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual([
      '# abuse-scan hash set: algorithm=pdq kind=block threshold=31 min_quality=50 flood_max_items=1000 flood_window_seconds=3600',
      'hash,label,id,source,added_at,added_by,disabled_reason',
    ]);
    expect(lines.slice(2)).toEqual([expect.stringMatching(new RegExp(`^${A},spam,x1,import:export.csv,.*,false positive$`))]);
    const hex = await cli('hashset', 'export', 'cli-import', '--format', 'hex');
    expect(hex.stdout).toBe('');
    expect(await cli('hashset', 'export', 'cli-import', '--format', 'json')).toEqual({
      code: 1,
      stdout: '',
      stderr: "abuse-scan: invalid option: option '--format <format>' argument 'json' is invalid. Allowed choices are csv, hex. (see abuse-scan hashset export --help)\n",
    });
  }, 60_000);

  it('remove takes each id once, and names the ids it did not remove (unknown) with exit 2', async () => {
    expect((await cli('hashset', 'create', 'cli-remove', '--algorithm', 'pdq')).code).toBe(0);
    await store.add('cli-remove', [{ id: 'e1', hash: hexToHash(A, 256) }, { id: 'e2', hash: hexToHash(B, 256) }]);
    expect(await cli('hashset', 'remove', 'cli-remove', 'e1', 'e1', 'e2')).toEqual({ code: 0, stdout: 'removed 2 of 2; cli-remove at version 2\n', stderr: '' });
    await store.add('cli-remove', [{ id: 'e3', hash: hexToHash(C, 256) }]);
    const esc = '\u001b';
    expect(await cli('hashset', 'remove', 'cli-remove', 'e3', `gone${esc}[2J`, 'e1', 'e3', `gone${esc}[2J`)).toEqual({
      code: 2,
      stdout: 'removed 1 of 3; cli-remove at version 4\n',
      stderr: 'not removed (unknown): gone\\x1b[2J, e1\n',
    });
    expect(await store.summary('cli-remove')).toMatchObject({ size: 0 });
  }, 60_000);

  it('add refuses what it cannot store or read: an --id import would refuse or rename, --id with several inputs, a FIFO, a device, a directory', async () => {
    expect((await cli('hashset', 'create', 'cli-add-inputs', '--algorithm', 'pdq')).code).toBe(0);
    for (const id of ['', 'x'.repeat(MAX_ID_LENGTH + 1)]) {
      expect(await cli('hashset', 'add', 'cli-add-inputs', A, '--id', id)).toEqual({ code: 1, stdout: '', stderr: `abuse-scan: invalid option: --id: ${entryIdRefusal(id)}\n` });
    }
    expect(await cli('hashset', 'add', 'cli-add-inputs', A, B, '--id', 'one')).toEqual({ code: 1, stdout: '', stderr: 'abuse-scan: invalid option: --id names one entry: give a single image or hash\n' });

    const fifo = join(dir, 'add-fifo');
    execFileSync('mkfifo', [fifo]);
    const options = { env: { ABUSE_SCAN_PREFIX: prefix }, timeoutMs: 20_000 };
    for (const [path, reason] of [[fifo, 'not a regular file'], ['/dev/zero', 'not a regular file'], [dir, 'is a directory']] as const) {
      const refused = await runCli(['hashset', 'add', 'cli-add-inputs', path], options);
      expect({ code: refused.code, stdout: refused.stdout, stderr: refused.stderr }).toEqual({ code: 1, stdout: '', stderr: `abuse-scan: ${reason}: ${path}\n` });
    }
    expect(await store.summary('cli-add-inputs')).toMatchObject({ version: 0, size: 0 });

    // The longest id add takes is one an export imports back as it is.
    const longest = 'x'.repeat(MAX_ID_LENGTH);
    expect((await cli('hashset', 'add', 'cli-add-inputs', A, '--id', longest)).code).toBe(0);
    const file = join(dir, 'add-inputs.csv');
    writeFileSync(file, (await cli('hashset', 'export', 'cli-add-inputs')).stdout);
    expect((await cli('hashset', 'create', 'cli-add-inputs-copy', '--algorithm', 'pdq')).code).toBe(0);
    const imported = await cli('hashset', 'import', 'cli-add-inputs-copy', file);
    expect(imported.code).toBe(0);
    expect(imported.stderr).not.toMatch(/skipped|conflict/);
    expect((await cli('hashset', 'export', 'cli-add-inputs-copy')).stdout.split('\n')[2]).toMatch(new RegExp(`^${A},,${longest},`));
  }, 60_000);

  it('import of a file with no good line writes nothing and exits 1: only bad lines (within --max-bad), an empty file, a header only', async () => {
    expect((await cli('hashset', 'create', 'cli-nothing', '--algorithm', 'pdq')).code).toBe(0);
    const onlyBad = join(dir, 'only-bad.txt');
    writeFileSync(onlyBad, 'nope\nnope\n');
    const bad = await cli('hashset', 'import', 'cli-nothing', onlyBad);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(new RegExp(`^${onlyBad}:1: [^\n]*; skipped\n${onlyBad}:2: [^\n]*; skipped\nhash set cli-nothing: nothing imported: no entries, only 2 bad lines\n$`));
    for (const [file, text] of [['empty.txt', ''], ['header.csv', 'hash,label,id\n']] as const) {
      const path = join(dir, file);
      writeFileSync(path, text);
      expect(await cli('hashset', 'import', 'cli-nothing', path)).toEqual({ code: 1, stdout: '', stderr: 'hash set cli-nothing: nothing imported: no entries in the file\n' });
    }
    expect(await store.summary('cli-nothing')).toMatchObject({ version: 0, size: 0 });
    // Past --max-bad, the refusal it always was.
    const overMaxBad = await cli('hashset', 'import', 'cli-nothing', onlyBad, '--max-bad', '1');
    expect(overMaxBad).toMatchObject({ code: 1, stdout: '' });
    expect(overMaxBad.stderr).toMatch(/\nhash set cli-nothing: nothing imported: 2 bad lines \(more than --max-bad 1\)\n$/);
    expect(overMaxBad.stderr).not.toMatch(/^abuse-scan: /m);
  }, 60_000);

  it('disable refuses an empty or blank --reason; an entry disabled without one (stored by other means) exports with a reason and imports back disabled', async () => {
    expect((await cli('hashset', 'create', 'cli-no-reason', '--algorithm', 'pdq')).code).toBe(0);
    await store.add('cli-no-reason', [
      { id: 'e1', hash: hexToHash(A, 256) },
      { id: 'e2', hash: hexToHash(B, 256) },
      { id: 'e3', hash: hexToHash(C, 256) },
    ]);
    for (const reason of ['', '  ']) {
      expect(await cli('hashset', 'disable', 'cli-no-reason', 'e1', '--reason', reason)).toEqual({
        code: 1,
        stdout: '',
        stderr: `abuse-scan: invalid option: --reason must say why the entry is disabled, got ${JSON.stringify(reason)}\n`,
      });
    }
    expect(await store.version('cli-no-reason')).toBe(1);

    // Through the store API (as the CLI accepted before): an empty and a blank reason.
    await store.disable('cli-no-reason', 'e1', '');
    await store.disable('cli-no-reason', 'e2', ' ');
    const exported = await cli('hashset', 'export', 'cli-no-reason');
    expect(exported.code).toBe(0);
    const reasons = Object.fromEntries(exported.stdout.trim().split('\n').slice(2).map((line) => [line.split(',')[2], line.split(',').at(-1)]));
    expect(reasons).toEqual({ e1: 'disabled (no reason recorded)', e2: 'disabled (no reason recorded)', e3: '' });

    const file = join(dir, 'no-reason.csv');
    writeFileSync(file, exported.stdout);
    expect((await cli('hashset', 'create', 'cli-no-reason-copy', '--algorithm', 'pdq')).code).toBe(0);
    expect((await cli('hashset', 'import', 'cli-no-reason-copy', file)).code).toBe(0);
    const { set } = await ReplicatedHashSet.load(store, 'cli-no-reason-copy');
    expect({ e1: set.match([hexToHash(A, 256)]).length, e2: set.match([hexToHash(B, 256)]).length, e3: set.match([hexToHash(C, 256)]).length }).toEqual({ e1: 0, e2: 0, e3: 1 });
    expect(await store.info('cli-no-reason-copy', ['e1', 'e3'])).toEqual([
      expect.objectContaining({ disabled: expect.objectContaining({ reason: 'disabled (no reason recorded)' }) }),
      expect.not.objectContaining({ disabled: expect.anything() }),
    ]);
  }, 60_000);

  it('delete says what it would delete and deletes nothing without --yes; with it deletes the whole set; a missing set: hashset_not_found', async () => {
    expect((await cli('hashset', 'create', 'cli-retired', '--algorithm', 'pdq')).code).toBe(0);
    await store.add('cli-retired', [{ id: 'a', hash: hexToHash(A, 256) }, { id: 'b', hash: hexToHash(B, 256) }]);
    const refused = await cli('hashset', 'delete', 'cli-retired');
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'abuse-scan: confirmation required: would delete hash set cli-retired and its 2 entries (version 1): pass --yes to delete it\n' });
    expect(await store.summary('cli-retired')).toMatchObject({ version: 1, size: 2 });

    const deleted = await cli('hashset', 'delete', 'cli-retired', '--yes');
    expect(deleted).toMatchObject({ code: 0, stderr: '', stdout: 'deleted hash set cli-retired: 2 entries, last version 1\n' });
    expect(await redis.keys(`${prefix}:hashset:cli-retired:*`)).toEqual([]);
    expect((await cli('hashset', 'list')).stdout).not.toMatch(/^cli-retired\t/m);
    for (const args of [['cli-retired', '--yes'], ['cli-retired'], ['no-such-set', '--yes']]) {
      expect(await cli('hashset', 'delete', ...args)).toMatchObject({ code: 1, stdout: '', stderr: `abuse-scan: hashset_not_found: no hash set named "${args[0]}"\n` });
    }

    // Created again: empty, with the configuration it is created with, at the version after the
    // deleted set's last (no version names both sets' contents).
    expect((await cli('hashset', 'create', 'cli-retired', '--algorithm', 'blockhash')).code).toBe(0);
    expect(await store.summary('cli-retired')).toMatchObject({ version: 2, size: 0, config: { algorithm: 'blockhash' } });
  }, 60_000);

  it('export -> import into a new set -> export gives the same rows: disabled entries, multi-line labels and provenance survive', async () => {
    expect((await cli('hashset', 'create', 'cli-round-trip', '--algorithm', 'pdq')).code).toBe(0);
    await store.add('cli-round-trip', [
      { id: 'case-42', hash: hexToHash(A, 256), label: 'line one\nline two, "quoted"', source: 'file:mosaic.jpg', addedAt: '2026-11-24T03:24:42.084Z', addedBy: 'alice' },
      { id: 'fp-1', hash: hexToHash(B, 256), label: ' padded ', source: 'feed:ncmec', addedAt: '2026-11-20T10:00:00.000Z' },
      { id: 'plain', hash: hexToHash(C, 256) },
    ]);
    await store.disable('cli-round-trip', 'fp-1', 'false positive, see ticket 12');
    const exported = await cli('hashset', 'export', 'cli-round-trip');
    expect(exported.code).toBe(0);
    const file = join(dir, 'round-trip.csv');
    writeFileSync(file, exported.stdout);

    expect((await cli('hashset', 'create', 'cli-round-trip-copy', '--algorithm', 'pdq')).code).toBe(0);
    const imported = await cli('hashset', 'import', 'cli-round-trip-copy', file);
    expect(imported.code).toBe(0);
    expect(imported.stderr).not.toMatch(/skipped|conflict/);
    expect(imported.stdout).toContain('3 lines read, added 3, unchanged 0, conflicts 0, skipped 0 bad');
    const again = await cli('hashset', 'export', 'cli-round-trip-copy');
    // Rows may come out in another order (HSCAN); a label's line break is inside its quoted cell.
    const rows = (csv: string): string[] => csv.split(/\n(?=[0-9a-f]{64},)/).sort();
    expect(rows(again.stdout)).toEqual(rows(exported.stdout));
    expect(rows(again.stdout)).toHaveLength(4);

    const [copy] = await store.info('cli-round-trip-copy', ['fp-1']);
    expect(copy).toMatchObject({ disabled: { reason: 'false positive, see ticket 12' }, source: 'feed:ncmec', addedAt: '2026-11-20T10:00:00.000Z' });
    const { set } = await ReplicatedHashSet.load(store, 'cli-round-trip-copy');
    expect(set.match([hexToHash(B, 256)])).toEqual([]);
    expect(set.match([hexToHash(A, 256)])).toHaveLength(1);
  }, 60_000);

  it('the embedded scan matches CSV hash sets from ABUSE_SCAN_HASHSETS_DIR, without Redis', async () => {
    const rings = hashImage(await decodeImage(readFileSync(fixture('rings.jpg'))));
    const sets = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    writeFileSync(join(sets, 'local.pdq.csv'), `hash,label,id\n${hashToHex(rings.pdq)},rings,r1\nbroken,x,y\n`);
    writeFileSync(join(sets, 'README.md'), 'not a set');
    const { code, stdout } = await cliWith({ ABUSE_SCAN_HASHSETS_DIR: sets, REDIS_URL: 'redis://127.0.0.1:1' }, 'scan', 'image', '--json', fixture('rings--rot90.jpg'), fixture('shapes.jpg'));
    const [copy, other] = stdout.trim().split('\n').map((line) => JSON.parse(line) as { decision: string; signals: Array<{ source: string; evidence: Record<string, unknown> }>; versions: { hashSets: Record<string, string> } });
    expect(code).toBe(3);
    expect(copy!.decision).toBe('block');
    expect(copy!.signals.filter((s) => s.source === 'hashset')).toMatchObject([{ evidence: { set: 'local', entryId: 'r1', label: 'rings', variant: 'rotate90' } }]);
    expect(copy!.versions.hashSets.local).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(other!.signals.filter((s) => s.source === 'hashset')).toEqual([]);
  }, 30_000);

  describe("export keeps the set's settings: ABUSE_SCAN_HASHSETS_DIR loads it as it was in Redis, import checks them", () => {
    type Verdict = { decision: string; signals: Array<{ source: string; evidence: Record<string, unknown> }> };
    const verdicts = (stdout: string): Verdict[] => stdout.trim().split('\n').map((line) => JSON.parse(line) as Verdict);
    const hashSetEvidence = (verdict: Verdict) => verdict.signals.filter((s) => s.source === 'hashset').map((s) => s.evidence);
    /** The embedded scan of `files` against the sets in `setsDir`, nothing else consulted. */
    const scanFromDir = (setsDir: string, ...files: string[]) =>
      cliWith({ ABUSE_SCAN_HASHSETS_DIR: setsDir, ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' }, 'scan', 'image', '--json', ...files);

    it('a set at threshold 8 exported into the directory gives the fleet\'s decision for clouds--half.jpg (distance 10): no match, not a block at the default 31', async () => {
      expect((await cli('hashset', 'create', 'cli-tight-pdq', '--algorithm', 'pdq', '--threshold', '8')).code).toBe(0);
      expect((await cli('hashset', 'add', 'cli-tight-pdq', fixture('clouds.jpg'), '--id', 'clouds-tight')).code).toBe(0);
      const exported = await cli('hashset', 'export', 'cli-tight-pdq');
      expect(exported.code).toBe(0);
      expect(exported.stdout.split('\n')[0]).toBe('# abuse-scan hash set: algorithm=pdq kind=block threshold=8 min_quality=50 flood_max_items=1000 flood_window_seconds=3600');
      const sets = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(sets, 'cli-tight-pdq.pdq.csv'), exported.stdout);

      const images = [fixture('clouds--half.jpg'), fixture('clouds.jpg')];
      const fleet = await cliWith({ ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off' }, 'scan', 'image', '--fleet', '--json', ...images);
      const [fleetHalf, fleetCopy] = verdicts(fleet.stdout);
      const local = await scanFromDir(sets, ...images);
      const [half, copy] = verdicts(local.stdout);
      // The fleet's decision, whichever set it is among the fleet's (other tests' sets share the prefix).
      const tight = (verdict: Verdict) => hashSetEvidence(verdict).filter((evidence) => evidence.set === 'cli-tight-pdq');
      expect(tight(fleetHalf!)).toEqual([]);
      expect(tight(half!)).toEqual([]);
      expect(half!.decision).not.toBe('block');
      // The same evidence, but for the version (Redis's number, the file's digest).
      const withoutVersion = (verdict: Verdict) => tight(verdict).map(({ setVersion: _version, ...evidence }) => evidence);
      expect(withoutVersion(copy!)).toEqual(withoutVersion(fleetCopy!));
      expect(tight(copy!)).toMatchObject([{ entryId: 'clouds-tight', distance: 0, threshold: 8 }]);
      expect(copy!.decision).toBe('block');

      // The same file without its settings line: the defaults, as before (a block at distance 10).
      writeFileSync(join(sets, 'cli-tight-pdq.pdq.csv'), exported.stdout.split('\n').slice(1).join('\n'));
      const [defaults] = verdicts((await scanFromDir(sets, fixture('clouds--half.jpg'))).stdout);
      expect(defaults!.decision).toBe('block');
      expect(tight(defaults!)).toMatchObject([{ distance: 10, threshold: 31 }]);
    }, 60_000);

    it('a set with --flood-max-items 1 exported into the directory quarantines in the embedded scan: the second image matching the entry gets review', async () => {
      expect((await cli('hashset', 'create', 'cli-flood-1', '--algorithm', 'pdq', '--flood-max-items', '1')).code).toBe(0);
      expect((await cli('hashset', 'add', 'cli-flood-1', fixture('clouds.jpg'), '--id', 'clouds')).code).toBe(0);
      const exported = await cli('hashset', 'export', 'cli-flood-1');
      expect(exported.stdout.split('\n')[0]).toContain(' flood_max_items=1 ');
      const sets = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(sets, 'cli-flood-1.pdq.csv'), exported.stdout);
      const images = [fixture('clouds.jpg'), fixture('clouds--jpeg-q20.jpg'), fixture('clouds--gray.jpg')];
      const scanned = verdicts((await scanFromDir(sets, ...images)).stdout);
      expect(scanned.map((verdict) => hashSetEvidence(verdict).length)).toEqual([1, 1, 1]);
      expect(scanned.map((verdict) => verdict.decision).sort()).toEqual(['block', 'review', 'review']);
      // Without the line, the default 1000: every one blocked.
      writeFileSync(join(sets, 'cli-flood-1.pdq.csv'), exported.stdout.split('\n').slice(1).join('\n'));
      expect(verdicts((await scanFromDir(sets, ...images)).stdout).map((verdict) => verdict.decision)).toEqual(['block', 'block', 'block']);
    }, 60_000);

    it("import warns of settings its set does not share and keeps the set's; another kind or algorithm refuses the file, writing nothing", async () => {
      expect((await cli('hashset', 'create', 'cli-settings-src', '--algorithm', 'pdq', '--threshold', '8', '--min-quality', '60')).code).toBe(0);
      await store.add('cli-settings-src', [{ id: 'e1', hash: hexToHash(A, 256) }]);
      const file = join(dir, 'settings-src.csv');
      writeFileSync(file, (await cli('hashset', 'export', 'cli-settings-src')).stdout);

      expect((await cli('hashset', 'create', 'cli-settings-default', '--algorithm', 'pdq')).code).toBe(0);
      const warned = await cli('hashset', 'import', 'cli-settings-default', file);
      expect(warned.code).toBe(0);
      // (A progress line may follow.)
      expect(warned.stderr).toMatch(/^[^\n]*: warning: [^\n]*\n(?:checked [0-9,]+ lines\n|written [0-9,]+ \/ [0-9,]+\n)*$/);
      expect(warned.stderr.split('\n')[0]! + '\n').toBe(
        `${file}:1: warning: the file's settings line says threshold=8 (set: 31), min_quality=60 (set: 50): hash set cli-settings-default keeps its own (import never changes a set's settings; create a set with the file's settings to match as it did)\n`,
      );
      expect(warned.stdout).toContain('added 1, unchanged 0');
      expect((await store.summary('cli-settings-default')).config).toMatchObject({ threshold: 31, minQuality: 50 });

      // Into a set with the same settings: not a word.
      expect((await cli('hashset', 'create', 'cli-settings-same', '--algorithm', 'pdq', '--threshold', '8', '--min-quality', '60')).code).toBe(0);
      const same = await cli('hashset', 'import', 'cli-settings-same', file);
      expect(same.code).toBe(0);
      expect(same.stderr).not.toContain('warning');

      for (const [set, args, says] of [
        ['cli-settings-negative', ['--algorithm', 'pdq', '--kind', 'negative'], 'kind=block (set: negative)'],
        ['cli-settings-blockhash', ['--algorithm', 'blockhash'], 'algorithm=pdq (set: blockhash)'],
      ] as const) {
        expect((await cli('hashset', 'create', set, ...args)).code).toBe(0);
        const refused = await cli('hashset', 'import', set, file);
        expect(refused).toMatchObject({ code: 1, stdout: '' });
        expect(refused.stderr).toContain(`abuse-scan: invalid hash list file: ${file}:1: the file's settings line says ${says}: its entries are meant for another set than ${set}; nothing imported`);
        expect(await store.summary(set)).toMatchObject({ version: 0, size: 0 });
      }

      const unknown = join(dir, 'settings-unknown.csv');
      writeFileSync(unknown, `# abuse-scan hash set: algorithm=pdq max_distance=4\nhash,label,id\n${A},,e1\n`);
      const unreadable = await cli('hashset', 'import', 'cli-settings-default', unknown);
      expect(unreadable).toMatchObject({ code: 1, stdout: '' });
      expect(unreadable.stderr).toContain(`abuse-scan: invalid hash list file: ${unknown}:1: settings line: unknown setting "max_distance"`);
    }, 60_000);

    it('the directory refuses an export whose settings line contradicts its file name: a known-good set saved without its kind', async () => {
      expect((await cli('hashset', 'create', 'cli-logos', '--algorithm', 'pdq', '--kind', 'negative')).code).toBe(0);
      expect((await cli('hashset', 'add', 'cli-logos', fixture('clouds.jpg'), '--id', 'logo')).code).toBe(0);
      const sets = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(sets, 'cli-logos.pdq.csv'), (await cli('hashset', 'export', 'cli-logos')).stdout);
      const refused = await scanFromDir(sets, fixture('clouds.jpg'));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`invalid hash set file: ${join(sets, 'cli-logos.pdq.csv')}:1: the settings line says kind=negative and the file name says block`);
    }, 30_000);
  });

  it('prints stored and outside text escaped on a terminal: ids, labels, reasons, file names, bad lines; export to a file keeps it as stored', async () => {
    /** What drives a terminal or reorders its text; human output may hold only tabs between columns and line breaks. */
    const UNSAFE_FOR_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;
    const esc = '\u001b';
    const id = `viral${esc}]0;t\u0007${esc}[2J\u202e`;
    const shownId = 'viral\\x1b]0;t\\x07\\x1b[2J\\u202e';
    expect((await cli('hashset', 'create', 'cli-hostile', '--algorithm', 'pdq', '--flood-max-items', '1')).code).toBe(0);

    const added = await cli('hashset', 'add', 'cli-hostile', A, '--id', id, '--label', `kit${esc}[8m\nline`);
    expect(added.code).toBe(0);
    expect(added.stdout).not.toMatch(UNSAFE_FOR_TERMINAL);
    expect(added.stdout).toContain(`${shownId}\t${A}\tok\n`);

    const { config } = await store.summary('cli-hostile');
    const guard = new RedisFloodGuard(redis, prefix);
    for (const item of ['item-1', 'item-2']) await guard.recordMatch(config, { entryNo: 0, id }, item);
    const stats = await cli('hashset', 'stats', 'cli-hostile');
    expect(stats.stdout).not.toMatch(UNSAFE_FOR_TERMINAL);
    expect(stats.stdout).toMatch(new RegExp(`^ {2}${shownId.replace(/[\\[\]]/g, '\\$&')}\\tsince `, 'm'));

    const disabled = await cli('hashset', 'disable', 'cli-hostile', id, '--reason', `fp${esc}[2J`);
    expect(disabled.stdout).toBe(`disabled ${shownId}; cli-hostile at version 2\n`);

    const onTerminal = await cliOnTerminal('hashset', 'export', 'cli-hostile');
    expect(onTerminal.stdout).not.toMatch(UNSAFE_FOR_TERMINAL);
    expect(onTerminal.stdout.trim().split('\n')[2]).toMatch(new RegExp(`^${A},kit\\\\x1b\\[8m\\\\x0aline,viral\\\\x1b`));
    const toFile = await cli('hashset', 'export', 'cli-hostile');
    expect(toFile.stdout).toContain(`${A},"kit${esc}[8m\nline",${id},`);

    const feed = join(dir, 'hostile.txt');
    writeFileSync(feed, `${A}\nnot${esc}[2Jhex\n`);
    const imported = await cli('hashset', 'import', 'cli-hostile', feed);
    expect(imported.stderr).not.toMatch(UNSAFE_FOR_TERMINAL);
    expect(imported.stderr).toContain(`${feed}:2: `);

    const hashed = await cli('hash', join(dir, `no${esc}[2Jsuch.jpg`));
    expect(hashed.code).toBe(1);
    expect(hashed.stderr).not.toMatch(UNSAFE_FOR_TERMINAL);
    expect(hashed.stderr).toContain(`no\\x1b[2Jsuch.jpg: error path_not_found: `);
  }, 60_000);
});

