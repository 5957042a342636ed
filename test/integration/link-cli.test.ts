import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListStore } from '../../src/lists/list-store.js';
import { OFFLINE_CLI_ENV, runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';
import { TEST_REDIS_URL } from '../harness/redis.js';
import { listCliSuite } from '../harness/list-cli-suite.js';
import { redirect, startServer, type TestServer } from './unfurl-servers.js';

describe('abuse-scan canonicalize', () => {
  it('answers stdin line N on output line N; invalid lines are empty, errors on stderr, exit 1', async () => {
    const { code, stdout, stderr } = await runCli(['canonicalize'], { stdin: 'HTTP://Evil.EXAMPLE/a/../b\njavascript:alert(1)\n\nwww.bücher.de/%7Ex\n' });
    expect(stdout).toBe('http://evil.example/b\n\n\nhttp://www.xn--bcher-kva.de/~x\n');
    expect(stderr).toMatch(/^line 2: unsupported_scheme: .*\nline 3: invalid_url: /);
    expect(code).toBe(1);
  });

  it('a bare CR stays in its line (and is removed from the URL), and bytes that are not UTF-8 are read as those bytes', async () => {
    const stdin = Buffer.concat([Buffer.from('http://a.example/b\rc\r\nhttp://a.example/'), Buffer.from([0xe9]), Buffer.from('\nhttp://x.example/\n')]);
    const { code, stdout } = await runCli(['canonicalize'], { stdin });
    expect(stdout).toBe('http://a.example/bc\nhttp://a.example/%E9\nhttp://x.example/\n');
    expect(code).toBe(0);
  });

  it('a reader that stops early (| head) ends it quietly with the status of a broken pipe', async () => {
    const child = spawn(process.execPath, ['bin/abuse-scan.js', 'canonicalize', '-'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    child.stdin.on('error', () => undefined); // it may stop reading before all of stdin is written
    child.stdin.end('https://many.example/a\n'.repeat(200_000));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(141);
  }, 30_000);

  it('takes URLs as arguments and prints JSON lines', async () => {
    const { code, stdout } = await runCli(['canonicalize', '--json', 'https://a.b.evil.example/x/y?q', 'data:text/html,hi']);
    const [first, second] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ input: 'https://a.b.evil.example/x/y?q', canonical: 'https://a.b.evil.example/x/y?q', host: 'a.b.evil.example', registrableDomain: 'evil.example' });
    expect(first!.expressions).toContain('evil.example/x/');
    expect(second).toEqual({ input: 'data:text/html,hi', error: { code: 'unsupported_scheme', message: expect.any(String) } });
    expect(code).toBe(1);
  });

  it('where a browser visits another URL than Safe Browsing reads, prints that one too, as the verdict\'s details name it', async () => {
    const split = 'http://good.example%2F@evil.example/';
    const long = `http://good.example%2F@evil.example/${'ж'.repeat(1500)}`; // its browser href is cut to the URL limit
    const { code, stdout } = await runCli(['canonicalize', '--json', split, long, 'http://x.example/a']);
    const [first, second, third] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toEqual({
      input: split,
      canonical: 'http://good.example/@evil.example/',
      host: 'good.example',
      registrableDomain: 'good.example',
      expressions: ['good.example/@evil.example/', 'good.example/'],
      visited: 'http://evil.example/',
      visitedHost: 'evil.example',
      visitedRegistrableDomain: 'evil.example',
      visitedExpressions: ['evil.example/'],
    });
    expect(second).toMatchObject({ host: 'good.example', visitedCut: 'http://evil.example/', visitedHost: 'evil.example', visitedExpressions: ['evil.example/'] });
    expect(second).not.toHaveProperty('visited');
    expect(Object.keys(third!).filter((key) => key.startsWith('visited'))).toEqual([]);
    expect(code).toBe(0);
    // A plain line: the canonical form (no space in it), then the URL visited; line N still answers input N.
    const plain = await runCli(['canonicalize', split, 'HTTP://x.example/a/../b', long]);
    expect(plain.stdout).toBe(`http://good.example/@evil.example/ visited: http://evil.example/\nhttp://x.example/b\n${second!.canonical as string} visitedCut: http://evil.example/\n`);
    // The scan's item details say the same (one function computes both: the link preparer's).
    const scanned = await runCli(['scan', 'url', '--json', split, long], { env: OFFLINE_CLI_ENV });
    const details = scanned.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { items: Array<{ details: Record<string, unknown> }> }).items[0]!.details);
    expect(details.map((detail) => [detail.visited, detail.visitedCut])).toEqual([['http://evil.example/', undefined], [undefined, 'http://evil.example/']]);
  }, 30_000);
});

describe('abuse-scan unfurl', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer((req, res) => redirect(res, 302, '/next'));
  });
  afterAll(async () => server?.close());

  it('keeps the address guard (no override from a command) and answers every line in order', async () => {
    const { code, stdout } = await runCli(['unfurl', '--json', '-'], { stdin: `${server.origin}/start\nnot a url at all\nftp://x.example/\n` });
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { input: string; chain: unknown[]; error?: { code: string } });
    expect(lines.map((l) => [l.input, l.error?.code])).toEqual([
      [`${server.origin}/start`, 'blocked_address'],
      ['not a url at all', expect.stringMatching(/invalid_url|invalid_host/)],
      ['ftp://x.example/', 'unsupported_scheme'],
    ]);
    expect(lines[0]!.chain).toEqual([]);
    expect(server.requests).toEqual([]);
    expect(code).toBe(1);
  });
});

describe('abuse-scan blocklist', () => {
  const { prefix, env, redis, dir } = listCliSuite('blocklist-cli');

  it('imports a text file, reporting bad lines by number, idempotently', async () => {
    const file = join(dir, 'phish.txt');
    await writeFile(file, '# feed\nevil.example\nHTTP://Bad.Example/Login\nsub.evil.example\n\nkit.example/p/\n');
    const first = await runCli(['blocklist', 'import', 'phish', file, '--action', 'review', '--added-by', 'test'], { env });
    expect(first.stdout).toMatch(/^list phish: version 1, 3 added, 0 updated, 0 unchanged, 0 removed; 1 bad lines skipped/);
    expect(first.stderr).toMatch(/^line 4: sub.evil.example is not a registrable domain/);
    expect(first.code).toBe(2); // imported, a bad line skipped (as hashset import)

    const again = await runCli(['blocklist', 'import', 'phish', file, '--action', 'review', '--added-by', 'test'], { env });
    expect(again.stdout).toMatch(/^list phish: version 1, 0 added, 0 updated, 3 unchanged/);

    const summary = await new ListStore(redis, { prefix }).summary('phish');
    expect(summary).toMatchObject({ version: 1, role: 'block', action: 'review', size: 3 });
  });

  it('imports CSV as an allowlist, refuses everything with --strict when a line is bad', async () => {
    const csv = join(dir, 'partners.csv');
    await writeFile(csv, 'entry,kind,label,reason\npartner.example,domain,p1,"contract, 2026"\ncdn.partner2.example/,expression,p2,\n');
    const ok = await runCli(['blocklist', 'import', 'allow-partners', csv, '--allow'], { env });
    expect(ok.stdout).toMatch(/version 1, 2 added/);
    expect(ok.code).toBe(0);

    await writeFile(csv, 'entry\nfine.example\njavascript:x\n');
    const strict = await runCli(['blocklist', 'import', 'strict', csv, '--strict'], { env });
    expect(strict.stderr).toMatch(/line 3: unsupported_scheme[\s\S]*nothing imported/);
    expect(await new ListStore(redis, { prefix }).summary('strict')).toBeUndefined();
  });

  it('adds and removes entries, each change one version; bad entries write nothing', async () => {
    const added = await runCli(['blocklist', 'add', 'phish', 'http://evil.example/x', '1.2.3.4', '--label', 'kit-3', '--reason', 'report 881'], { env });
    expect(added.stdout).toMatch(/^list phish: version 2, 2 added/);
    const refused = await runCli(['blocklist', 'add', 'phish', 'ok.example', 'co.uk'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/entry 2: co.uk is a public suffix[\s\S]*nothing written/);
    const removed = await runCli(['blocklist', 'remove', 'phish', '1.2.3.4/'], { env });
    expect(removed.stdout).toMatch(/^list phish: version 3, 0 added, 0 updated, 0 unchanged, 1 removed/);
  });

  it('lists the lists with versions and sizes, and a list\'s entries', async () => {
    const lists = await runCli(['blocklist', 'list'], { env });
    expect(lists.stdout.trim().split('\n')).toEqual(['allow-partners\tallow\tblock\tversion 1\t2 entries', 'phish\tblock\treview\tversion 3\t4 entries']);
    const entries = await runCli(['blocklist', 'list', 'phish', '--json'], { env });
    const parsed = entries.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(parsed.map((e) => `${e.kind} ${e.value}`).sort()).toEqual(['domain evil.example', 'expression kit.example/p/', 'url http://bad.example/Login', 'url http://evil.example/x']);
    expect(parsed.find((e) => e.value === 'http://evil.example/x')).toMatchObject({ label: 'kit-3', reason: 'report 881', addedAt: expect.any(String) });
    expect(parsed.find((e) => e.value === 'evil.example')).toMatchObject({ addedBy: 'test' });
  });

  it('records the OS user name as added_by when USER is unset (add and import), as the hashset commands do', async () => {
    const noUser = { ...env, USER: undefined };
    const file = join(dir, 'who.txt');
    await writeFile(file, 'imported.example\n');
    expect((await runCli(['blocklist', 'import', 'who', file], { env: noUser })).code).toBe(0);
    expect((await runCli(['blocklist', 'add', 'who', 'added.example'], { env: noUser })).code).toBe(0);
    const entries = await runCli(['blocklist', 'list', 'who', '--json'], { env });
    const parsed = entries.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(parsed.map((e) => [e.value, e.addedBy]).sort()).toEqual([
      ['added.example', userInfo().username],
      ['imported.example', userInfo().username],
    ]);
  });
});

describe('abuse-scan blocklist: refusals that keep a live list safe', () => {
  const { prefix, env, redis, store, dir } = listCliSuite('blocklist-cli-refusals');

  it('import --replace never empties or shrinks a live list on the strength of a bad file', async () => {
    const good = join(dir, 'live.txt');
    await writeFile(good, 'evil.example\nkit.example/p/\nhttp://phish.example.com/login/\n');
    expect((await runCli(['blocklist', 'import', 'live', good], { env })).code).toBe(0);
    const live = await store.summary('live');

    // A CSV without an `entry` header: its first URL was read as the header, the rest as nothing.
    const headerless = join(dir, 'feed.csv');
    await writeFile(headerless, 'http://phish.example.com/login/\nhttp://evil2.example/\n');
    const noHeader = await runCli(['blocklist', 'import', 'live', headerless, '--replace'], { env });
    expect(noHeader.code).toBe(1);
    expect(noHeader.stderr).toBe(`abuse-scan: invalid list file: ${headerless}:1: the CSV header row must name an "entry" column (optional: kind, label, reason, added_by), got "http://phish.example.com/login/"\n`);

    const damaged = join(dir, 'damaged.txt');
    await writeFile(damaged, 'evil.example\njavascript:alert(1)\n');
    const withBadLine = await runCli(['blocklist', 'import', 'live', damaged, '--replace'], { env });
    expect(withBadLine.code).toBe(1);
    expect(withBadLine.stderr).toMatch(/^line 2: unsupported_scheme[^\n]*\nlist live: nothing imported: 1 bad lines \(--replace allows none without --max-bad\)\n$/);

    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '# nothing today\n');
    const nothing = await runCli(['blocklist', 'import', 'live', empty, '--replace'], { env });
    expect(nothing).toMatchObject({ code: 1, stderr: 'list live: nothing imported: no entries (--replace would empty the list)\n' });
    expect(await store.summary('live')).toEqual(live);

    // Allowed explicitly: the bad line is skipped, the rest replaces the list.
    const allowed = await runCli(['blocklist', 'import', 'live', damaged, '--replace', '--max-bad', '1'], { env });
    expect(allowed.stdout).toMatch(/^list live: version 2, 0 added, 0 updated, 1 unchanged, 2 removed; 1 bad lines skipped/);
    expect(allowed.code).toBe(2);
  });

  it('a list named allow-* is an allowlist, and --allow is refused for any other name', async () => {
    const added = await runCli(['blocklist', 'add', 'allow-partners', 'partner.example'], { env });
    expect(added.code).toBe(0);
    expect(await store.summary('allow-partners')).toMatchObject({ role: 'allow' });

    const refused = await runCli(['blocklist', 'add', 'partners', 'partner.example', '--allow'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('abuse-scan: list role mismatch: list partners cannot be an allowlist: allowlists are named allow-<name> (as files in ABUSE_SCAN_LISTS_DIR are)\n');
    expect(await store.summary('partners')).toBeUndefined();
  });

  it('remove from a list that does not exist says so and exits 1, like list', async () => {
    const removed = await runCli(['blocklist', 'remove', 'nosuch', 'evil.example'], { env });
    expect(removed).toMatchObject({ code: 1, stdout: '', stderr: 'no list named nosuch\n' });
    expect(await store.summary('nosuch')).toBeUndefined();
  });

  it('delete says what it would delete and deletes nothing without --yes; with it deletes the whole list; a missing list: exit 1 like remove', async () => {
    expect((await runCli(['blocklist', 'add', 'retired', 'evil.example', 'kit.example/p/'], { env })).code).toBe(0);
    expect((await runCli(['blocklist', 'add', 'retired', 'http://phish.example/x'], { env })).code).toBe(0);
    const refused = await runCli(['blocklist', 'delete', 'retired'], { env });
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'abuse-scan: confirmation required: would delete list retired and its 3 entries (version 2): pass --yes to delete it\n' });
    expect(await store.summary('retired')).toMatchObject({ version: 2, size: 3 });

    const deleted = await runCli(['blocklist', 'delete', 'retired', '--yes'], { env });
    expect(deleted).toMatchObject({ code: 0, stderr: '', stdout: 'deleted list retired: 3 entries, last version 2\n' });
    expect(await store.summary('retired')).toBeUndefined();
    expect(await redis.keys(`${prefix}:list:retired:*`)).toEqual([]);
    expect((await runCli(['blocklist', 'list'], { env })).stdout).not.toMatch(/^retired\t/m);

    for (const args of [['retired', '--yes'], ['retired'], ['nosuch', '--yes']]) {
      expect(await runCli(['blocklist', 'delete', ...args], { env })).toMatchObject({ code: 1, stdout: '', stderr: `no list named ${args[0]}\n` });
    }
  }, 60_000);
});

describe('abuse-scan blocklist: entries mean what Safe Browsing lookups can reach', () => {
  const { prefix, env, redis, dir } = listCliSuite('blocklist-cli-reach');

  it('import reads a backslash as a path (no whole-domain block) and refuses expressions deeper than lookups, naming what works', async () => {
    const file = join(dir, 'feed.txt');
    await writeFile(file, 'evil11.example\\x\nevil.example/wp-content/uploads/2024/05/\na.b.c.d.evil.co.uk/\nevil.example/wp-content/uploads/2024/\n');
    const imported = await runCli(['blocklist', 'import', 'phish', file], { env });
    expect(imported.stdout).toMatch(/^list phish: version 1, 2 added, 0 updated, 0 unchanged, 0 removed; 2 bad lines skipped/);
    expect(imported.stderr).toBe(
      'line 2: evil.example/wp-content/uploads/2024/05/ is deeper than Safe Browsing lookups reach (a path prefix of more than 3 directories: only the page /wp-content/uploads/2024/05/ itself would match, not the pages under it); the longest expression that works is evil.example/wp-content/uploads/2024/: evil.example/wp-content/uploads/2024/05/\n' +
        'line 3: a.b.c.d.evil.co.uk/ is deeper than Safe Browsing lookups reach (a host of more than 5 labels: subdomains of a.b.c.d.evil.co.uk would not match); the longest expression that works is c.d.evil.co.uk/: a.b.c.d.evil.co.uk/\n',
    );
    expect(imported.code).toBe(2);
    const entries = await runCli(['blocklist', 'list', 'phish', '--json'], { env });
    const parsed = entries.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(parsed.map((e) => `${e.kind} ${e.value}`).sort()).toEqual(['expression evil.example/wp-content/uploads/2024/', 'expression evil11.example/x']);

    const refused = await runCli(['blocklist', 'add', 'phish', 'ok.example', 'evil.example/a/b/c/d/'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^entry 2: evil.example\/a\/b\/c\/d\/ is deeper than Safe Browsing lookups reach \(.*\); the longest expression that works is evil.example\/a\/b\/c\/: evil.example\/a\/b\/c\/d\/\nnothing written\n$/);
  });

  it('remove still takes out an over-deep expression stored before such entries were refused', async () => {
    // Written as an older release stored it (the store itself no longer checks depth: the entry rules do).
    await new ListStore(redis, { prefix }).add('legacy', [{ kind: 'expression', value: 'evil.example/a/b/c/d/' }]);
    const removed = await runCli(['blocklist', 'remove', 'legacy', 'evil.example/a/b/c/d/'], { env });
    expect({ code: removed.code, stderr: removed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(removed.stdout).toMatch(/1 removed/);
    const left = await runCli(['blocklist', 'list', 'legacy', '--json'], { env });
    expect(left.stdout.trim()).toBe('');
  });
});

describe('abuse-scan scan url with ABUSE_SCAN_LISTS_DIR (no Redis)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-listdir-'));
    await writeFile(join(dir, 'phish.txt'), 'evil.example\n');
    await writeFile(join(dir, 'allow-partners.csv'), 'entry\nlogin.evil.example/\nhttp://partner.example/landing\n');
    await writeFile(join(dir, 'urls.txt'), 'https://phish.example/login\npartner.example\n');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('blocks from a list file and lets an allow- file win', async () => {
    const env = { ABUSE_SCAN_LISTS_DIR: dir, ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
    const blocked = await runCli(['scan', 'url', '--json', 'https://www.evil.example/x'], { env });
    expect(blocked.code).toBe(3);
    const verdict = JSON.parse(blocked.stdout) as { signals: Array<{ source: string; evidence: Record<string, unknown> }>; versions: { lists: Record<string, string> } };
    expect(verdict.signals.find((s) => s.source === 'blocklist')!.evidence).toMatchObject({ list: 'phish', entry: 'evil.example', hop: 0 });
    expect(verdict.versions.lists.phish).toMatch(/^sha256:[0-9a-f]{12}$/);
    const allowed = await runCli(['scan', 'url', '--json', 'https://login.evil.example/x'], { env });
    // The blocklist speaks only to say the allowlist won, and over which entry.
    const allowedVerdict = JSON.parse(allowed.stdout) as { signals: Array<{ source: string; kind: string; suggests: string; evidence: Record<string, unknown> }> };
    expect(allowedVerdict.signals.filter((s) => s.source === 'blocklist')).toEqual([
      expect.objectContaining({
        kind: 'allowlist_match',
        suggests: 'allow',
        evidence: expect.objectContaining({ list: 'allow-partners', hop: 0, overrode: [{ list: 'phish', entry: 'evil.example', entryKind: 'domain', suggests: 'block' }] }),
      }),
    ]);
    expect(allowed.code).toBe(0);
  });

  it('blocks a link to a url entry under either scheme, and lets an http url allowlist entry win over https, naming the entries as written', async () => {
    const env = { ABUSE_SCAN_LISTS_DIR: dir, ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
    for (const link of ['phish.example/login', 'http://phish.example/login', 'https://phish.example/login']) {
      const blocked = await runCli(['scan', 'url', '--json', link], { env });
      const verdict = JSON.parse(blocked.stdout) as { signals: Array<{ source: string; kind: string; evidence: Record<string, unknown> }> };
      expect(verdict.signals.filter((s) => s.source === 'blocklist'), link).toEqual([
        expect.objectContaining({ kind: 'url_match', evidence: expect.objectContaining({ list: 'urls', entry: 'https://phish.example/login', entryKind: 'url' }) }),
      ]);
      expect(blocked.code, link).toBe(3);
    }
    const allowed = await runCli(['scan', 'url', '--json', 'https://partner.example/landing'], { env });
    const verdict = JSON.parse(allowed.stdout) as { signals: Array<{ source: string; kind: string; evidence: Record<string, unknown> }> };
    expect(verdict.signals.filter((s) => s.source === 'blocklist')).toEqual([
      expect.objectContaining({
        kind: 'allowlist_match',
        evidence: expect.objectContaining({ list: 'allow-partners', entry: 'http://partner.example/landing', entryKind: 'url', overrode: [{ list: 'urls', entry: 'partner.example', entryKind: 'domain', suggests: 'block' }] }),
      }),
    ]);
    expect(allowed.code).toBe(0);
  });

  it('refuses two list files of one name (phish.txt and phish.csv), naming both, and scans nothing', async () => {
    const dupDir = await mkdtemp(join(tmpdir(), 'abuse-scan-listdir-dup-'));
    try {
      await writeFile(join(dupDir, 'phish.txt'), 'evil.example\n');
      await writeFile(join(dupDir, 'phish.csv'), 'entry,reason\nother.example,feed-b\n');
      const env = { ABUSE_SCAN_LISTS_DIR: dupDir, ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
      const { code, stdout, stderr } = await runCli(['scan', 'url', '--json', 'https://evil.example/', 'https://other.example/'], { env });
      expect(stderr).toBe(`abuse-scan: invalid list file: ${join(dupDir, 'phish.csv')} and ${join(dupDir, 'phish.txt')}: both are list "phish" (one file per list: merge them or rename one)\n`);
      expect(stdout).toBe('');
      expect(code).toBe(1);
    } finally {
      await rm(dupDir, { recursive: true, force: true });
    }
  });
});

describe('abuse-scan blocklist, unfurl: outside text on a terminal', () => {
  const { env, dir } = listCliSuite('blocklist-cli-terminal');
  /** What drives a terminal or reorders its text; human output may hold only tabs between columns and line breaks. */
  const UNSAFE_FOR_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;
  const esc = '\u001b';

  it('blocklist list prints labels and reasons escaped: no escape sequences, no fake columns or lines; --json keeps them', async () => {
    const label = `kit${esc}]0;title\u0007${esc}[2J`;
    const reason = `a\tb\nphish\tblock\tversion 1\u202e`;
    expect((await runCli(['blocklist', 'add', 'hostile', 'evil.example', '--label', label, '--reason', reason, '--added-by', `me\u009b31m`], { env })).code).toBe(0);
    const listed = await runCli(['blocklist', 'list', 'hostile'], { env });
    expect(listed.stdout).not.toMatch(UNSAFE_FOR_TERMINAL);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.split('\t').slice(0, 5)).toEqual(['domain', 'evil.example', 'kit\\x1b]0;title\\x07\\x1b[2J', 'a\\x09b\\x0aphish\\x09block\\x09version 1\\u202e', 'me\\x9b31m']);
    const json = await runCli(['blocklist', 'list', 'hostile', '--json'], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ label, reason, addedBy: 'me\u009b31m' });
  });

  it('import reports a feed\'s bad line escaped', async () => {
    const feed = join(dir, 'feed.txt');
    await writeFile(feed, `good.example\nevil${esc}[2J${esc}[1;32m.example\n`);
    const imported = await runCli(['blocklist', 'import', 'hostile-feed', feed], { env });
    expect(imported.code).toBe(2);
    expect(imported.stderr).toBe('line 2: invalid_url: the URL contains control characters: evil\\x1b[2J\\x1b[1;32m.example\n');
  });

  it('unfurl prints an input it could not follow escaped', async () => {
    // Escapes in the host: no browser could visit it (in the path they are percent-encoded and followed).
    const { code, stdout } = await runCli(['unfurl', '-'], { stdin: `http://x.example${esc}[2J/${esc}]0;t\u0007\n` });
    expect(stdout).toBe('http://x.example\\x1b[2J/\\x1b]0;t\\x07 !invalid_host\n');
    expect(code).toBe(1);
  });
});
