/** `abuse-scan scan` and the messages every command gives when it cannot run, as an operator runs them. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ListStore } from '../../src/lists/list-store.js';
import { runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';
import { fixtureHashes } from '../harness/hashes.js';
import { closedPort, suiteRedis, TEST_REDIS_URL } from '../harness/redis.js';

/** The embedded scan without models or network: what these tests look at is the CLI. */
const OFFLINE = { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
const STACK_LINE = /^\s+at /m;
/** The one stderr line of a scan without --fleet that consults no list (links) or no hash set (images). */
const NOTE = {
  lists: "abuse-scan: note: no block/allow lists consulted: set ABUSE_SCAN_LISTS_DIR to a directory of list files, or pass --fleet to match against the fleet's in Redis\n",
  hashSets: "abuse-scan: note: no hash sets consulted: set ABUSE_SCAN_HASHSETS_DIR to a directory of hash-set files, or pass --fleet to match against the fleet's in Redis\n",
  both: "abuse-scan: note: no block/allow lists or hash sets consulted: set ABUSE_SCAN_LISTS_DIR and ABUSE_SCAN_HASHSETS_DIR to directories of list and hash-set files, or pass --fleet to match against the fleet's in Redis\n",
};

describe('abuse-scan scan', () => {
  it('exits with the strictest decision of all its verdicts, not the last one', async () => {
    const env = { ...OFFLINE, ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' };
    const { code, stdout } = await runCli(['scan', 'image', 'fixtures/images/clouds--rot90.jpg', 'fixtures/images/bad/random.bin'], { env });
    expect(stdout.match(/^[A-Z]+(?= )/gm)).toEqual(['BLOCK', 'REVIEW']);
    expect(code).toBe(3);
  }, 30_000);

  it('a file that is there but no image is scanned: its verdict names the decode error (review, exit 2)', async () => {
    const { code, stdout, stderr } = await runCli(['scan', 'image', 'fixtures/images/bad/random.bin'], { env: OFFLINE });
    expect(stdout).toMatch(/^REVIEW {2}fixtures\/images\/bad\/random\.bin /);
    expect(stdout).toMatch(/^ {2}item 0 \[image\] .*random\.bin: error image_unsupported_format: /m);
    expect(stderr).toBe(NOTE.hashSets);
    expect(code).toBe(2);
  }, 30_000);

  it('a missing image file is a mistake in the command: `file not found`, exit 1, and nothing is scanned', async () => {
    const missing = await runCli(['scan', 'image', 'missing.jpg'], { env: OFFLINE });
    expect({ code: missing.code, stdout: missing.stdout, stderr: missing.stderr }).toEqual({ code: 1, stdout: '', stderr: 'abuse-scan: file not found: missing.jpg\n' });
    // Among files that are there: still a usage error, before any verdict is printed.
    const among = await runCli(['scan', 'image', 'fixtures/images/clouds--rot90.jpg', 'fixtures/images/no-such.jpg', '--json'], { env: OFFLINE });
    expect({ code: among.code, stdout: among.stdout, stderr: among.stderr }).toEqual({ code: 1, stdout: '', stderr: 'abuse-scan: file not found: fixtures/images/no-such.jpg\n' });
    const directory = await runCli(['scan', 'image', 'fixtures/images'], { env: OFFLINE });
    expect({ code: directory.code, stdout: directory.stdout, stderr: directory.stderr }).toEqual({ code: 1, stdout: '', stderr: 'abuse-scan: is a directory: fixtures/images\n' });
  }, 30_000);

  it('a FIFO is no image file: refused at once (opening it would wait for a writer for ever), by scan image and by hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'abuse-scan-fifo-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const scanned = await runCli(['scan', 'image', fifo], { env: OFFLINE });
      expect({ code: scanned.code, stdout: scanned.stdout, stderr: scanned.stderr }).toEqual({ code: 1, stdout: '', stderr: `abuse-scan: not a regular file: ${fifo}\n` });
      const hashed = await runCli(['hash', fifo, '--json'], { env: OFFLINE });
      expect(hashed.code).toBe(1);
      expect(JSON.parse(hashed.stdout)).toMatchObject({ file: fifo, error: { code: 'path_not_found', message: `${fifo} is not a regular file` } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('scans arguments longer than a contentId may be: the id is their start and a digest, the item is the whole argument', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'abuse-scan-long-'));
    try {
      const lists = join(dir, 'lists');
      await mkdir(lists);
      await writeFile(join(lists, 'phish.txt'), 'evil.example\n');
      const url = `https://evil.example/${'a'.repeat(300)}`;
      const { code, stdout } = await runCli(['scan', 'url', url, '--json'], { env: { ...OFFLINE, ABUSE_SCAN_LISTS_DIR: lists } });
      const verdict = JSON.parse(stdout);
      expect(verdict).toMatchObject({ decision: 'block', errors: [], items: [{ input: expect.stringContaining('evil.example') }] });
      expect(verdict.contentId).toHaveLength(256);
      expect(verdict.contentId).toMatch(/^https:\/\/evil\.example\/a+…sha256:[0-9a-f]{16}$/);
      expect(code).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('prints hostile text escaped: a link cannot clear the screen, retitle the terminal or fake the decision line', async () => {
    const esc = '\u001b';
    const link = `http://x.example/${esc}]0;title\u0007${esc}[2J${esc}[1;31mALLOW\u202e`;
    const { code, stdout } = await runCli(['scan', 'url', '--surface', `cli${esc}[8m`, link], { env: OFFLINE });
    expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/);
    const shown = 'http://x.example/\\x1b]0;title\\x07\\x1b[2J\\x1b[1;31mALLOW\\u202e';
    // The controls are percent-encoded for matching (canonical %1B...), so the link is scanned: allow.
    expect(stdout.split('\n').filter((line) => /^[A-Z]+ {2}/.test(line))).toEqual([`ALLOW  ${shown} (job local-${stdout.match(/local-(\d+-0)/)?.[1]}, surface cli\\x1b[8m)`]);
    expect(stdout).toContain(`  item 0 [link] ${shown}: ok\n`);
    expect(code).toBe(0);
    // --json is JSON: the link as it was, for programs.
    const json = await runCli(['scan', 'url', '--json', link], { env: OFFLINE });
    expect(JSON.parse(json.stdout)).toMatchObject({ contentId: link, items: [{ input: link }] });
  }, 30_000);

  it('prints the partial errors of items that were scanned, with their messages', async () => {
    const { stdout } = await runCli(['scan', 'url', 'http://127.0.0.1/x'], { env: { ...OFFLINE, ABUSE_SCAN_UNFURL: 'on' } });
    expect(stdout).toMatch(/^ {2}item 0 \[link\] http:\/\/127\.0\.0\.1\/x: ok\n {4}partial error blocked_address: refused to connect to 127\.0\.0\.1 \(loopback\)$/m);
  }, 30_000);

  it('a bad --surface or --tenant of scan url or image is the operator\'s mistake: `invalid option`, exit 1, nothing scanned', async () => {
    const image = 'fixtures/images/clouds.jpg';
    const cases: Array<[string[], string]> = [
      [['--tenant', 't'.repeat(300)], '--tenant: Too big: expected string to have <=256 characters'],
      [['--tenant', ''], '--tenant: Too small: expected string to have >=1 characters'],
      [['--surface', 's'.repeat(257)], '--surface: Too big: expected string to have <=256 characters'],
      [['--surface', ''], '--surface: Too small: expected string to have >=1 characters'],
    ];
    for (const [flags, message] of cases) {
      for (const args of [['scan', 'url', ...flags, 'http://x.example/'], ['scan', 'image', ...flags, image]]) {
        const result = await runCli(args, { env: OFFLINE });
        expect({ args, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ args, code: 1, stdout: '', stderr: `abuse-scan: invalid option: ${message}\n` });
      }
    }
    // Within the workers' limit (ABUSE_SCAN_MAX_ID_LENGTH), they are the verdict's.
    const long = await runCli(['scan', 'url', '--json', '--tenant', 't'.repeat(300), '--surface', 'inbox', 'http://x.example/'], { env: { ...OFFLINE, ABUSE_SCAN_MAX_ID_LENGTH: '512' } });
    expect(JSON.parse(long.stdout)).toMatchObject({ decision: 'allow', tenant: 't'.repeat(300), surface: 'inbox' });
  }, 60_000);

  it('scan job takes its surface and tenant from the job: it has no --surface or --tenant (an unknown option), and its help lists none', async () => {
    const job = JSON.stringify({ contentId: 'j1', surface: 'upload', tenant: 'acme', items: ['http://x.example/'] });
    for (const flag of ['--surface', '--tenant']) {
      const result = await runCli(['scan', 'job', '--json', flag, 'other', '-'], { stdin: job, env: OFFLINE });
      expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 1, stdout: '', stderr: `abuse-scan: invalid option: unknown option '${flag}' (see abuse-scan scan job --help)\n` });
    }
    const scanned = await runCli(['scan', 'job', '--json', '-'], { stdin: job, env: OFFLINE });
    expect(JSON.parse(scanned.stdout)).toMatchObject({ contentId: 'j1', surface: 'upload', tenant: 'acme' });
    const help = await runCli(['scan', 'job', '--help'], { env: OFFLINE });
    expect(help.stdout).toMatch(/^ {2}--json\b/m);
    expect(help.stdout).not.toMatch(/--surface|--tenant/);
    for (const command of ['url', 'image']) expect((await runCli(['scan', command, '--help'], { env: OFFLINE })).stdout).toMatch(/--surface <surface>[\s\S]*--tenant <tenant>/);
  }, 60_000);

  it('scan job reads paths as producers write them: under ABUSE_SCAN_IMAGE_ROOT, else relative to the current directory', async () => {
    const job = (path: string) => JSON.stringify({ contentId: 'j1', surface: 'upload', items: [{ path }] });
    const underRoot = await runCli(['scan', 'job', '--json', '-'], { stdin: job('images/clouds.jpg'), env: { ...OFFLINE, ABUSE_SCAN_IMAGE_ROOT: join(REPO_ROOT, 'fixtures') } });
    expect(JSON.parse(underRoot.stdout)).toMatchObject({ decision: 'allow', items: [{ status: 'ok' }], errors: [] });
    const underCwd = await runCli(['scan', 'job', '--json', '-'], { stdin: job('fixtures/images/clouds.jpg'), env: OFFLINE });
    expect(JSON.parse(underCwd.stdout)).toMatchObject({ decision: 'allow', items: [{ status: 'ok' }], errors: [] });
    const absolute = await runCli(['scan', 'job', '--json', '-'], { stdin: job(join(REPO_ROOT, 'fixtures/images/rings.jpg')), env: { ...OFFLINE, ABUSE_SCAN_IMAGE_ROOT: join(REPO_ROOT, 'fixtures') } });
    expect(JSON.parse(absolute.stdout)).toMatchObject({ decision: 'allow', items: [{ status: 'ok' }] });
    // Outside the root: refused, as a worker of that root refuses it (readme-scan-job-image-root.test.ts).
    const outside = await runCli(['scan', 'job', '--json', '-'], { stdin: job(join(REPO_ROOT, 'fixtures/images/rings.jpg')), env: { ...OFFLINE, ABUSE_SCAN_IMAGE_ROOT: join(REPO_ROOT, 'fixtures/lists') } });
    expect(JSON.parse(outside.stdout)).toMatchObject({ decision: 'review', errors: [expect.objectContaining({ code: 'path_outside_root' })] });
  }, 30_000);
});

describe('abuse-scan scan --fleet: the fleet\'s lists and hash sets in Redis, read-only', () => {
  const { prefix, redis } = suiteRedis('scan-fleet');
  /** The fleet's Redis and prefix, as a worker of that fleet has them; no directory of lists or sets. */
  const FLEET = { ...OFFLINE, REDIS_URL: TEST_REDIS_URL, ABUSE_SCAN_PREFIX: prefix };
  const LINK = 'http://good.example%2F@evil.example/';
  const lists = new ListStore(redis, { prefix });
  const sets = new HashSetStore(redis, { prefix });
  let listVersion: string;
  let setVersion: string;
  /** Every key under the prefix with its value as Redis dumps it: what a read-only scan must leave as it was. */
  const snapshot = async () => {
    const keys = (await redis.keys(`${prefix}*`)).sort();
    return Object.fromEntries(await Promise.all(keys.map(async (key) => [key, (await redis.dumpBuffer(key))?.toString('hex')] as const)));
  };

  beforeAll(async () => {
    await lists.add('phish', [{ kind: 'domain', value: 'evil.example' }]);
    listVersion = String((await lists.summary('phish'))!.version);
    await sets.create({ name: 'known-bad', algorithm: 'pdq' });
    await sets.add('known-bad', [{ id: 'clouds', hash: (await fixtureHashes('clouds.jpg')).pdq, label: 'fixture clouds' }]);
    setVersion = String(await sets.version('known-bad'));
  });

  it('without --fleet, REDIS_URL and ABUSE_SCAN_PREFIX are not read: allow, and one note that no list was consulted', async () => {
    const { code, stdout, stderr } = await runCli(['scan', 'url', '--json', LINK], { env: FLEET });
    expect(JSON.parse(stdout)).toMatchObject({ decision: 'allow', signals: [], versions: { lists: {}, hashSets: {} } });
    expect({ code, stderr }).toEqual({ code: 0, stderr: NOTE.lists });
    // Only what is missing for the items scanned: images with hash sets from files (the quick start) get no note.
    const images = await runCli(['scan', 'image', 'fixtures/images/rings.jpg'], { env: { ...FLEET, ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' } });
    expect({ code: images.code, stderr: images.stderr }).toEqual({ code: 0, stderr: '' });
    const job = JSON.stringify({ contentId: 'j1', surface: 'upload', items: [LINK, { path: 'fixtures/images/rings.jpg' }] });
    expect((await runCli(['scan', 'job', '-'], { stdin: job, env: FLEET })).stderr).toBe(NOTE.both);
    expect((await runCli(['scan', 'url', LINK], { env: { ...FLEET, ABUSE_SCAN_LISTS_DIR: 'fixtures/lists' } })).stderr).toBe('');
  }, 60_000);

  it('scan url --fleet blocks a link through the list in Redis, naming the list and its version; no note', async () => {
    const { code, stdout, stderr } = await runCli(['scan', 'url', '--fleet', '--json', LINK], { env: FLEET });
    const verdict = JSON.parse(stdout);
    expect(verdict).toMatchObject({
      decision: 'block',
      signals: [{ source: 'blocklist', suggests: 'block', evidence: { list: 'phish', listVersion, entry: 'evil.example', url: 'http://evil.example/' } }],
      items: [{ details: { host: 'good.example', visited: 'http://evil.example/' } }],
      versions: { lists: { phish: listVersion } },
    });
    expect({ code, stderr }).toEqual({ code: 3, stderr: '' });
  }, 30_000);

  it('scan image --fleet blocks an image of a hash set in Redis, naming the set and its version, and writes nothing to the fleet', async () => {
    const meta = `${prefix}:hashset:known-bad:meta`;
    const before = await snapshot();
    const matchesBefore = await redis.hget(meta, 'matches');
    const { code, stdout, stderr } = await runCli(['scan', 'image', '--fleet', '--json', 'fixtures/images/clouds--rot90.jpg', 'fixtures/images/rings.jpg'], { env: FLEET });
    const [rotated, other] = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(rotated).toMatchObject({
      decision: 'block',
      signals: [{ source: 'hashset', suggests: 'block', evidence: { set: 'known-bad', setVersion, entryId: 'clouds', variant: 'rotate90' } }],
      versions: { hashSets: { 'known-bad': setVersion } },
    });
    expect(rotated.signals[0].evidence).not.toHaveProperty('quarantined');
    expect(other).toMatchObject({ decision: 'allow', signals: [] });
    expect({ code, stderr }).toEqual({ code: 3, stderr: '' });
    // No flood counter, no `matches` for `hashset stats`, no quarantine: the keys are as they were.
    expect(await snapshot()).toEqual(before);
    expect(await redis.keys(`${prefix}:hashset:known-bad:flood:*`)).toEqual([]);
    expect(await redis.hget(meta, 'matches')).toBe(matchesBefore);
    expect(await redis.exists(`${prefix}:hashset:known-bad:quarantine`)).toBe(0);
  }, 30_000);

  it('honours a quarantine the fleet holds (review, as a worker answers) and leaves it in place', async () => {
    const quarantine = `${prefix}:hashset:known-bad:quarantine`;
    await redis.hset(quarantine, 'clouds', JSON.stringify({ at: new Date().toISOString(), items: 2000, windowSeconds: 3600 }));
    try {
      const { code, stdout } = await runCli(['scan', 'image', '--fleet', '--json', 'fixtures/images/clouds--rot90.jpg'], { env: FLEET });
      expect(JSON.parse(stdout)).toMatchObject({ decision: 'review', signals: [{ suggests: 'review', evidence: { set: 'known-bad', entryId: 'clouds', quarantined: true } }] });
      expect(code).toBe(2);
      expect(await redis.hkeys(quarantine)).toEqual(['clouds']);
    } finally {
      await redis.del(quarantine);
    }
  }, 30_000);

  it('scan job --fleet: a job of links and images is judged against both', async () => {
    const job = JSON.stringify({ contentId: 'j1', surface: 'upload', items: ['http://fine.example/', LINK, { path: 'fixtures/images/clouds--rot90.jpg' }] });
    const { code, stdout, stderr } = await runCli(['scan', 'job', '--fleet', '--json', '-'], { stdin: job, env: FLEET });
    const verdict = JSON.parse(stdout);
    expect(verdict.decision).toBe('block');
    expect(verdict.signals.map((signal: { source: string; item: number }) => [signal.source, signal.item])).toEqual(expect.arrayContaining([['blocklist', 1], ['hashset', 2]]));
    expect({ code, stderr }).toEqual({ code: 3, stderr: '' });
  }, 30_000);

  it('reads the unfurl cache but does not write it: an unfurl from an operator\'s machine is not the fleet\'s', async () => {
    const { code, stdout } = await runCli(['scan', 'url', '--fleet', '--json', 'http://127.0.0.1/x'], { env: { ...FLEET, ABUSE_SCAN_UNFURL: 'on' } });
    // A permanent outcome a worker would cache (unfurl-cache.test.ts).
    expect(JSON.parse(stdout)).toMatchObject({ errors: [{ code: 'blocked_address' }] });
    expect(code).toBe(2);
    expect(await redis.keys(`${prefix}:unfurl:*`)).toEqual([]);
  }, 30_000);

  it('refuses ABUSE_SCAN_LISTS_DIR or ABUSE_SCAN_HASHSETS_DIR with --fleet before scanning anything', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ ABUSE_SCAN_LISTS_DIR: 'fixtures/lists' }, 'unset ABUSE_SCAN_LISTS_DIR (or scan without --fleet to use that directory)'],
      [{ ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' }, 'unset ABUSE_SCAN_HASHSETS_DIR (or scan without --fleet to use that directory)'],
      [{ ABUSE_SCAN_LISTS_DIR: 'fixtures/lists', ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' }, 'unset ABUSE_SCAN_LISTS_DIR and ABUSE_SCAN_HASHSETS_DIR (or scan without --fleet to use those directories)'],
    ];
    for (const [env, fix] of cases) {
      for (const args of [['scan', 'url', '--fleet', LINK], ['scan', 'image', '--fleet', 'fixtures/images/rings.jpg'], ['scan', 'job', '--fleet', '-']]) {
        const result = await runCli(args, { env: { ...FLEET, ...env }, stdin: '{"contentId":"j1","surface":"upload","items":["http://x.example/"]}' });
        expect({ args, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
          args,
          code: 1,
          stdout: '',
          stderr: `abuse-scan: invalid option: --fleet matches against the fleet's lists and hash sets in Redis, not files: ${fix}\n`,
        });
      }
    }
  }, 60_000);

  it('a Redis that cannot be reached is `redis_unavailable`, exit 1, nothing scanned', async () => {
    const port = await closedPort();
    const result = await runCli(['scan', 'url', '--fleet', LINK], { env: { ...FLEET, REDIS_URL: `redis://127.0.0.1:${port}` }, timeoutMs: 15_000 });
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `abuse-scan: redis_unavailable: Redis at 127.0.0.1:${port} could not be reached (last connection error: connect ECONNREFUSED 127.0.0.1:${port})\n`,
    });
  }, 30_000);
});

describe('errors: one line `abuse-scan: <code or reason>: <message>`, exit 1, no stack trace', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-cli-errors-'));
    await writeFile(join(dir, 'bad.json'), '{bad');
    await mkdir(join(dir, 'lists'));
    await writeFile(join(dir, 'lists', 'phish feed.txt'), 'evil.example\n');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, () => { args: string[]; env?: Record<string, string>; stdin?: string }, RegExp]> = [
    ['a missing job file', () => ({ args: ['scan', 'job', '/nonexistent.json'] }), /^abuse-scan: file not found: \/nonexistent\.json\n$/],
    ['a job that is not JSON', () => ({ args: ['scan', 'job', '-'], stdin: '{bad' }), /^abuse-scan: invalid JSON: stdin: .*JSON.*\n$/],
    ['a missing list file', () => ({ args: ['blocklist', 'import', 'phish', '/nonexistent.txt'] }), /^abuse-scan: file not found: \/nonexistent\.txt\n$/],
    ['an invalid list name', () => ({ args: ['blocklist', 'add', 'bad name!', 'evil.example'], env: { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } }), /^abuse-scan: invalid_name: invalid list name "bad name!": .*\n$/],
    ['a missing policy file', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_POLICY_FILE: '/nonexistent-policy.json' } }), /^abuse-scan: file not found: \/nonexistent-policy\.json \(ABUSE_SCAN_POLICY_FILE\)\n$/],
    ['a policy file that is not JSON', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_POLICY_FILE: join(dir, 'bad.json') } }), /^abuse-scan: invalid configuration: ABUSE_SCAN_POLICY_FILE \S+bad\.json is not valid JSON: .*\n$/],
    ['a missing lists directory', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_LISTS_DIR: '/nonexistent-lists' } }), /^abuse-scan: file not found: \/nonexistent-lists \(ABUSE_SCAN_LISTS_DIR\)\n$/],
    ['a missing hash sets directory', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_HASHSETS_DIR: '/nonexistent-sets' } }), /^abuse-scan: file not found: \/nonexistent-sets \(ABUSE_SCAN_HASHSETS_DIR\)\n$/],
    ['a list file whose name is no list name', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_LISTS_DIR: join(dir, 'lists') } }), /^abuse-scan: invalid list file: \S+\/phish feed\.txt: invalid list name "phish feed": .*\n$/],
    ['an invalid setting', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_CONCURRENCY: 'many' } }), /^abuse-scan: invalid configuration: ABUSE_SCAN_CONCURRENCY: .*\n$/],
    // commander's command-line errors, through the same printer.
    ['verdict with neither a jobId nor --content', () => ({ args: ['verdict'] }), /^abuse-scan: invalid arguments: give either a jobId or --content <contentId> \(with --tenant when the job had one\)\n$/],
    ['scan image without a file', () => ({ args: ['scan', 'image'] }), /^abuse-scan: invalid arguments: missing required argument 'file' \(see abuse-scan scan image --help\)\n$/],
    ['hash without a file', () => ({ args: ['hash'] }), /^abuse-scan: invalid arguments: missing required argument 'file' \(see abuse-scan hash --help\)\n$/],
    ['blocklist add without entries', () => ({ args: ['blocklist', 'add', 'phish'] }), /^abuse-scan: invalid arguments: missing required argument 'entry' \(see abuse-scan blocklist add --help\)\n$/],
    ['an unknown option', () => ({ args: ['scan', 'url', '--bogus', 'http://x.example/'] }), /^abuse-scan: invalid option: unknown option '--bogus' \(see abuse-scan scan url --help\)\n$/],
    ['an option without its value', () => ({ args: ['verdict', '--content'] }), /^abuse-scan: invalid option: option '--content <contentId>' argument missing \(see abuse-scan verdict --help\)\n$/],
    ['a value not among the choices', () => ({ args: ['blocklist', 'import', 'phish', 'feed.txt', '--action', 'delete'] }), /^abuse-scan: invalid option: option '--action <action>' argument 'delete' is invalid\. Allowed choices are block, review\. \(see abuse-scan blocklist import --help\)\n$/],
    ['a mandatory option missing', () => ({ args: ['hashset', 'create', 'x'] }), /^abuse-scan: invalid option: required option '--algorithm <algorithm>' not specified \(see abuse-scan hashset create --help\)\n$/],
    ['an unknown command', () => ({ args: ['scna', 'url', 'x'] }), /^abuse-scan: invalid arguments: unknown command 'scna' \(Did you mean scan\?\) \(see abuse-scan --help\)\n$/],
    ['too many arguments', () => ({ args: ['status', 'extra'] }), /^abuse-scan: invalid arguments: too many arguments for 'status'\. Expected 0 arguments but got 1\. \(see abuse-scan status --help\)\n$/],
    ['an unknown option naming hostile text', () => ({ args: ['status', '--\u001b[2J'] }), /^abuse-scan: invalid option: unknown option '--\\x1b\[2J' \(see abuse-scan status --help\)\n$/],
  ];

  it.each(cases)('%s', async (_what, make, expected) => {
    const { args, env, stdin } = make();
    const result = await runCli(args, { env: { ...OFFLINE, ...env }, ...(stdin !== undefined && { stdin }), timeoutMs: 20_000 });
    expect(result.stderr).toMatch(expected);
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.code).toBe(1);
  }, 30_000);

  it('help and version are no errors: stdout, exit 0', async () => {
    const help = await runCli(['scan', 'image', '--help'], { env: OFFLINE });
    expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: abuse-scan scan image /);
    const version = await runCli(['--version'], { env: OFFLINE });
    expect({ code: version.code, stderr: version.stderr }).toEqual({ code: 0, stderr: '' });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  }, 30_000);

  // main.ts loads only the command named on the line; help without one must still list them all.
  it.each([[['--help']], [['help']]])('%j lists every command', async (args) => {
    const help = await runCli(args, { env: OFFLINE });
    expect(help.code).toBe(0);
    const listed = [...(help.stdout + help.stderr).matchAll(/^ {2}([a-z]+)\b/gm)].map((match) => match[1]);
    expect(listed).toEqual(['scan', 'worker', 'verdict', 'status', 'canonicalize', 'unfurl', 'blocklist', 'hashset', 'hash', 'classify', 'help']);
  }, 30_000);

  it('prints the stack too under LOG_LEVEL=debug', async () => {
    const result = await runCli(['scan', 'job', '/nonexistent.json'], { env: { ...OFFLINE, LOG_LEVEL: 'debug' } });
    expect(result.stderr).toMatch(/^abuse-scan: file not found: \/nonexistent\.json\nError: ENOENT[^\n]*\n\s+at /);
    expect(result.code).toBe(1);
  }, 30_000);
});
