/** `abuse-scan scan` and the messages every command gives when it cannot run, as an operator runs them. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';

/** The embedded scan without models or network: what these tests look at is the CLI. */
const OFFLINE = { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
const STACK_LINE = /^\s+at /m;

describe('abuse-scan scan', () => {
  it('exits with the strictest decision of all its verdicts, not the last one', async () => {
    const env = { ...OFFLINE, ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' };
    const { code, stdout } = await runCli(['scan', 'image', 'fixtures/images/clouds--rot90.jpg', 'fixtures/images/no-such.jpg'], { env });
    expect(stdout.match(/^[A-Z]+(?= )/gm)).toEqual(['BLOCK', 'REVIEW']);
    expect(code).toBe(3);
  }, 30_000);

  it('prints the partial errors of items that were scanned, with their messages', async () => {
    const { stdout } = await runCli(['scan', 'url', 'http://127.0.0.1/x'], { env: { ...OFFLINE, ABUSE_SCAN_UNFURL: 'on' } });
    expect(stdout).toMatch(/^ {2}item 0 \[link\] http:\/\/127\.0\.0\.1\/x: ok\n {4}partial error blocked_address: refused to connect to 127\.0\.0\.1 \(loopback\)$/m);
  }, 30_000);

  it('scan job reads relative paths as producers write them: under ABUSE_SCAN_IMAGE_ROOT, else the current directory', async () => {
    const job = (path: string) => JSON.stringify({ contentId: 'j1', surface: 'upload', items: [{ path }] });
    const underRoot = await runCli(['scan', 'job', '--json', '-'], { stdin: job('images/clouds.jpg'), env: { ...OFFLINE, ABUSE_SCAN_IMAGE_ROOT: join(REPO_ROOT, 'fixtures') } });
    expect(JSON.parse(underRoot.stdout)).toMatchObject({ decision: 'allow', items: [{ status: 'ok' }], errors: [] });
    const underCwd = await runCli(['scan', 'job', '--json', '-'], { stdin: job('fixtures/images/clouds.jpg'), env: OFFLINE });
    expect(JSON.parse(underCwd.stdout)).toMatchObject({ decision: 'allow', items: [{ status: 'ok' }], errors: [] });
    const absolute = await runCli(['scan', 'job', '--json', '-'], { stdin: job(join(REPO_ROOT, 'fixtures/images/rings.jpg')), env: { ...OFFLINE, ABUSE_SCAN_IMAGE_ROOT: join(REPO_ROOT, 'fixtures/lists') } });
    expect(JSON.parse(absolute.stdout)).toMatchObject({ decision: 'allow', items: [{ status: 'ok' }] });
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
    ['a missing policy file', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_POLICY_FILE: '/nonexistent-policy.json' } }), /^abuse-scan: invalid configuration: ABUSE_SCAN_POLICY_FILE \/nonexistent-policy\.json: file not found\n$/],
    ['a policy file that is not JSON', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_POLICY_FILE: join(dir, 'bad.json') } }), /^abuse-scan: invalid configuration: ABUSE_SCAN_POLICY_FILE \S+bad\.json is not valid JSON: .*\n$/],
    ['a missing lists directory', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_LISTS_DIR: '/nonexistent-lists' } }), /^abuse-scan: file not found: \/nonexistent-lists \(ABUSE_SCAN_LISTS_DIR\)\n$/],
    ['a missing hash sets directory', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_HASHSETS_DIR: '/nonexistent-sets' } }), /^abuse-scan: file not found: \/nonexistent-sets \(ABUSE_SCAN_HASHSETS_DIR\)\n$/],
    ['a list file whose name is no list name', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_LISTS_DIR: join(dir, 'lists') } }), /^abuse-scan: invalid list file: \S+\/phish feed\.txt: invalid list name "phish feed": .*\n$/],
    ['an invalid setting', () => ({ args: ['scan', 'url', 'http://x.example/'], env: { ABUSE_SCAN_CONCURRENCY: 'many' } }), /^abuse-scan: invalid configuration: concurrency: .*\n$/],
  ];

  it.each(cases)('%s', async (_what, make, expected) => {
    const { args, env, stdin } = make();
    const result = await runCli(args, { env: { ...OFFLINE, ...env }, ...(stdin !== undefined && { stdin }), timeoutMs: 20_000 });
    expect(result.stderr).toMatch(expected);
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.code).toBe(1);
  }, 30_000);

  it('prints the stack too under LOG_LEVEL=debug', async () => {
    const result = await runCli(['scan', 'job', '/nonexistent.json'], { env: { ...OFFLINE, LOG_LEVEL: 'debug' } });
    expect(result.stderr).toMatch(/^abuse-scan: file not found: \/nonexistent\.json\nError: ENOENT[^\n]*\n\s+at /);
    expect(result.code).toBe(1);
  }, 30_000);
});
