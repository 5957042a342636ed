/**
 * What a list entry is, against real Redis: an http(s) URL entry is one entry under either scheme
 * (as matching is scheme-agnostic), also in lists written before that (both forms stored, or the
 * https one alone); and writing an entry again keeps the label, reason and added-by the write does
 * not give (add, import, import --replace), in `blocklist list` and in match evidence.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, decodeEntryInfo, encodeEntryInfo, parseEntryField, type EntryInfo, type ListEntry } from '../../src/lists/list-entry.js';
import { listKeys } from '../../src/lists/list-keys.js';
import { ListMatcher } from '../../src/lists/list-matcher.js';
import { patchList } from '../../src/lists/list-patch.js';
import { ListStore } from '../../src/lists/list-store.js';
import { runCli } from '../harness/cli.js';
import { targetOf } from '../harness/link-targets.js';
import { listCliSuite } from '../harness/list-cli-suite.js';

const entry = (text: string, info: EntryInfo = {}): ListEntry => ({ ...canonicalEntry(text), ...info });

/** `blocklist list <name> --json`, one object per entry. */
async function listed(name: string, env: Record<string, string>): Promise<Array<Record<string, string>>> {
  const { stdout, code } = await runCli(['blocklist', 'list', name, '--json'], { env });
  expect(code).toBe(0);
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, string>);
}

/** What `blocklist list <name> --json` prints, read from the store directly (a CLI run costs seconds on a busy machine). */
async function stored(store: ListStore, name: string): Promise<Array<Record<string, string>>> {
  const entries: Array<Record<string, string>> = [];
  for await (const page of store.scanEntries(name)) for (const [field, info] of page) entries.push({ ...parseEntryField(field), ...decodeEntryInfo(info) } as Record<string, string>);
  return entries;
}

/** Runs a few CLI commands: seconds each when the machine is busy. */
const CLI_TEST_TIMEOUT = 120_000;

describe('an http(s) URL entry is one entry under either scheme', () => {
  const { prefix, env, redis, store, dir } = listCliSuite('blocklist-url-identity');

  /** Entries as an older release wrote them: each scheme its own field (no changelog needed for these checks). */
  async function storeLegacy(name: string, fields: Record<string, EntryInfo & { addedAt: string }>): Promise<void> {
    await store.add(name, [entry('placeholder.example')]);
    await store.remove(name, [entry('placeholder.example')]);
    for (const [field, info] of Object.entries(fields)) await redis.hset(listKeys(prefix, name).entries, field, encodeEntryInfo(info, info.addedAt).value);
  }

  it('blocklist remove takes out an https entry named with http (and the reverse), exit 0', async () => {
    expect((await runCli(['blocklist', 'add', 'scheme', 'https://evil.example/login'], { env })).code).toBe(0);
    const removed = await runCli(['blocklist', 'remove', 'scheme', 'http://evil.example/login'], { env });
    expect(removed).toMatchObject({ code: 0, stderr: '' });
    expect(removed.stdout).toMatch(/^list scheme: version 2, 0 added, 0 updated, 0 unchanged, 1 removed\n$/);
    expect(await listed('scheme', env)).toEqual([]);

    await store.add('scheme', [entry('http://evil.example/login')]);
    expect((await store.remove('scheme', [entry('https://evil.example/login')])).removed).toBe(1);
    expect((await store.summary('scheme'))!.size).toBe(0);
  }, CLI_TEST_TIMEOUT);

  it('blocklist add of the other scheme updates the entry, which keeps the scheme it was added with', async () => {
    await runCli(['blocklist', 'add', 'twice', 'https://evil.example/login', '--label', 'kit-1', '--added-by', 'first'], { env });
    const again = await runCli(['blocklist', 'add', 'twice', 'http://evil.example/login', '--reason', 'T-9'], { env });
    expect(again.stdout).toMatch(/^list twice: version 2, 0 added, 1 updated, 0 unchanged, 0 removed\n$/);
    expect(await listed('twice', env)).toEqual([{ kind: 'url', value: 'https://evil.example/login', label: 'kit-1', reason: 'T-9', addedBy: 'first', addedAt: expect.any(String) }]);
    // Written again in the other scheme with nothing new: unchanged, no new version.
    expect((await store.add('twice', [entry('http://evil.example/login')])).unchanged).toBe(1);
    expect((await store.summary('twice'))!.version).toBe(2);
    // Other URLs stay apart: a trailing slash, another host, another scheme than http(s).
    const others = await store.add('twice', [entry('https://evil.example/login/'), entry('https://www.evil.example/login'), entry('ftp://evil.example/login')]);
    expect(others).toMatchObject({ added: 3, updated: 0, unchanged: 0 });
  }, CLI_TEST_TIMEOUT);

  it('an import (staged, and --replace) updates the entry stored under the other scheme, and reads both forms in one file as one', async () => {
    await store.add('feed', [entry('https://evil.example/login', { label: 'kit-1' }), entry('evil.example')]);
    const file = join(dir, 'feed.txt');
    await writeFile(file, 'http://evil.example/login\nhttps://evil.example/login\nevil.example\n');
    const imported = await runCli(['blocklist', 'import', 'feed', file], { env });
    expect(imported.stdout).toBe('list feed: version 1, 0 added, 0 updated, 2 unchanged, 0 removed; 1 duplicate lines\n');
    expect(imported.code).toBe(0);

    await writeFile(file, 'http://evil.example/login\n');
    const replaced = await runCli(['blocklist', 'import', 'feed', file, '--replace'], { env });
    expect(replaced.stdout).toBe('list feed: version 2, 0 added, 0 updated, 1 unchanged, 1 removed\n');
    expect(await stored(store, 'feed')).toEqual([expect.objectContaining({ kind: 'url', value: 'https://evil.example/login', label: 'kit-1' })]);

    // Both forms given to the store at once (no parser to fold them) are one write too.
    const both = await store.import('feed2', [entry('https://evil.example/a', { label: 'x' }), entry('http://evil.example/a', { reason: 'y' })]);
    expect(both).toMatchObject({ added: 1, updated: 0, unchanged: 0, removed: 0 });
    expect(await stored(store, 'feed2')).toEqual([expect.objectContaining({ value: 'https://evil.example/a', label: 'x', reason: 'y' })]);
  }, CLI_TEST_TIMEOUT);

  it('a list written before (both forms stored): remove of either form takes out both, and a matcher hits neither any more', async () => {
    await storeLegacy('legacy', {
      'u:https://evil.example/login': { label: 'kit-1', addedAt: '2024-01-01T00:00:00.000Z' },
      'u:http://evil.example/login': { reason: 'old', addedAt: '2023-01-01T00:00:00.000Z' },
      'u:https://other.example/': { addedAt: '2024-01-01T00:00:00.000Z' },
    });
    const before = new ListMatcher([(await store.load('legacy'))!]);
    expect(before.matchTargets([targetOf('https://evil.example/login')]).matches).toHaveLength(2);

    const removed = await runCli(['blocklist', 'remove', 'legacy', 'http://evil.example/login'], { env });
    expect(removed.stdout).toMatch(/, 2 removed\n$/);
    const after = new ListMatcher([(await store.load('legacy'))!]);
    expect(after.matchTargets([targetOf('https://evil.example/login'), targetOf('http://evil.example/login')]).matches).toEqual([]);
    expect((await stored(store, 'legacy')).map((e) => e.value)).toEqual(['https://other.example/']);

    // The https entry alone, as an older release stored it: found by its http form too.
    expect((await store.remove('legacy', [entry('http://other.example/')])).removed).toBe(1);
  }, CLI_TEST_TIMEOUT);

  it('a list written before (both forms stored): an add folds them into one, keeping both infos and the first addedAt, and replicas follow', async () => {
    await storeLegacy('fold', {
      'u:https://evil.example/login': { label: 'kit-1', addedAt: '2024-01-01T00:00:00.000Z' },
      'u:http://evil.example/login': { label: 'kit-0', reason: 'old', addedAt: '2023-01-01T00:00:00.000Z' },
    });
    const loaded = (await store.loadWithIdentity('fold'))!;
    const change = await store.add('fold', [entry('https://evil.example/login', { addedBy: 'me' })]);
    expect(change).toMatchObject({ added: 0, updated: 1, unchanged: 0, removed: 1 });
    const entries = await stored(store, 'fold');
    expect(entries).toEqual([{ kind: 'url', value: 'https://evil.example/login', label: 'kit-1', reason: 'old', addedBy: 'me', addedAt: '2023-01-01T00:00:00.000Z' }]);

    // The changelog takes a replica there without a full load: the twin's removal, then the entry.
    const since = await store.changesSince('fold', loaded.identity.version);
    expect(since.gap).toBe(false);
    const patched = patchList(loaded.list, since.gap ? [] : since.changes, String(change.version));
    expect([...patched.urls.keys()]).toEqual(['https://evil.example/login']);
    expect(decodeEntryInfo(patched.urls.get('https://evil.example/login')!)).toMatchObject({ label: 'kit-1', reason: 'old', addedBy: 'me' });

    // The same through a staged import (the staging log records the fold).
    await storeLegacy('fold-import', {
      'u:https://evil.example/login': { addedAt: '2024-01-01T00:00:00.000Z' },
      'u:http://evil.example/login': { addedAt: '2024-01-01T00:00:00.000Z' },
    });
    const staged = await store.import('fold-import', [entry('http://evil.example/login')]);
    expect(staged).toMatchObject({ added: 0, updated: 0, unchanged: 1, removed: 1 });
    expect((await stored(store, 'fold-import')).map((e) => e.value)).toEqual(['http://evil.example/login']);
  });

  it('a removal larger than a batch (staged) takes out both forms too', async () => {
    const small = new ListStore(redis, { prefix, batchSize: 3 });
    await small.add('big-remove', [entry('https://a.example/x'), entry('http://b.example/x'), entry('c.example'), entry('https://d.example/')]);
    const change = await small.remove('big-remove', [entry('http://a.example/x'), entry('https://b.example/x'), entry('c.example')]);
    expect(change).toMatchObject({ removed: 3 });
    expect((await stored(store, 'big-remove')).map((e) => e.value)).toEqual(['https://d.example/']);
  });
});

describe('writing an entry again keeps what the write does not give', () => {
  const suite = listCliSuite('blocklist-readd');
  const { prefix, redis, store, dir } = suite;
  const env = { ...suite.env, USER: 'alice' };

  async function evidenceOf(name: string, url: string): Promise<EntryInfo> {
    const [match] = new ListMatcher([(await store.load(name))!]).matchTargets([targetOf(url)]).matches;
    return match!.entryInfo;
  }

  it('blocklist add without --label or --reason keeps them, in list and in match evidence; given ones replace, "" clears', async () => {
    await runCli(['blocklist', 'add', 'wipe', 'labelled.example', '--label', 'campaign-42', '--reason', 'ticket T-1'], { env });
    const again = await runCli(['blocklist', 'add', 'wipe', 'labelled.example'], { env: { ...env, USER: 'bob' } });
    expect(again.stdout).toMatch(/^list wipe: version 1, 0 added, 0 updated, 1 unchanged, 0 removed\n$/);
    expect(await listed('wipe', env)).toEqual([{ kind: 'domain', value: 'labelled.example', label: 'campaign-42', reason: 'ticket T-1', addedBy: 'alice', addedAt: expect.any(String) }]);
    expect(await evidenceOf('wipe', 'https://www.labelled.example/x')).toMatchObject({ label: 'campaign-42', reason: 'ticket T-1' });

    const relabelled = await runCli(['blocklist', 'add', 'wipe', 'labelled.example', '--label', 'campaign-43'], { env });
    expect(relabelled.stdout).toMatch(/0 added, 1 updated/);
    expect(await evidenceOf('wipe', 'https://labelled.example/')).toMatchObject({ label: 'campaign-43', reason: 'ticket T-1' });

    await runCli(['blocklist', 'add', 'wipe', 'labelled.example', '--reason', '', '--added-by', 'carol'], { env });
    const [cleared] = await stored(store, 'wipe');
    expect(cleared).toEqual({ kind: 'domain', value: 'labelled.example', label: 'campaign-43', addedBy: 'carol', addedAt: expect.any(String) });
  }, CLI_TEST_TIMEOUT);

  it('a txt or CSV import without a label keeps it; a CSV label replaces it; --replace keeps the info of the entries it keeps', async () => {
    await runCli(['blocklist', 'add', 'nightly', 'labelled.example', '--label', 'campaign-42', '--reason', 'ticket T-1'], { env });
    const firstAddedAt = (await stored(store, 'nightly'))[0]!.addedAt;
    const txt = join(dir, 'nightly-feed.txt');
    await writeFile(txt, 'labelled.example\nother.example\n');
    const imported = await runCli(['blocklist', 'import', 'nightly', txt], { env: { ...env, USER: 'feedbot' } });
    expect(imported.stdout).toBe('list nightly: version 2, 1 added, 0 updated, 1 unchanged, 0 removed\n');
    const byValue = async () => Object.fromEntries((await stored(store, 'nightly')).map((e) => [e.value, e]));
    expect(await byValue()).toEqual({
      'labelled.example': { kind: 'domain', value: 'labelled.example', label: 'campaign-42', reason: 'ticket T-1', addedBy: 'alice', addedAt: firstAddedAt },
      // The importing user is recorded on the entries it adds.
      'other.example': { kind: 'domain', value: 'other.example', addedBy: 'feedbot', addedAt: expect.any(String) },
    });

    const csv = join(dir, 'nightly.csv');
    await writeFile(csv, 'entry,label,reason\nlabelled.example,,\nother.example,kit-7,\n');
    const fromCsv = await runCli(['blocklist', 'import', 'nightly', csv], { env });
    expect(fromCsv.stdout).toBe('list nightly: version 3, 0 added, 1 updated, 1 unchanged, 0 removed\n');
    expect(await byValue()).toMatchObject({ 'labelled.example': { label: 'campaign-42', reason: 'ticket T-1' }, 'other.example': { label: 'kit-7' } });

    await writeFile(txt, 'labelled.example\n');
    const replaced = await runCli(['blocklist', 'import', 'nightly', txt, '--replace'], { env });
    expect(replaced.stdout).toBe('list nightly: version 4, 0 added, 0 updated, 1 unchanged, 1 removed\n');
    expect(await byValue()).toEqual({ 'labelled.example': { kind: 'domain', value: 'labelled.example', label: 'campaign-42', reason: 'ticket T-1', addedBy: 'alice', addedAt: firstAddedAt } });
    expect(await evidenceOf('nightly', 'http://labelled.example/')).toMatchObject({ label: 'campaign-42', reason: 'ticket T-1' });

    // --added-by is given: it replaces the added-by of the entries the file names.
    const by = await runCli(['blocklist', 'import', 'nightly', txt, '--added-by', 'soc'], { env });
    expect(by.stdout).toMatch(/0 added, 1 updated/);
    expect((await byValue())['labelled.example']).toMatchObject({ label: 'campaign-42', addedBy: 'soc', addedAt: firstAddedAt });
  }, CLI_TEST_TIMEOUT);

  it('the scripts write info exactly as JSON.stringify does: text with quotes, escapes and non-ASCII re-writes unchanged, also over info an older release stored', async () => {
    const label = 'kit "7" \\ \u0000\u0001\b\f\n\r\t\u001b\u007f é \u2028 😀 </a>';
    const reason = 'a\u0085b';
    await store.add('escapes', [entry('escapes.example', { label, reason, addedBy: 'me' })]);
    const stored = await redis.hget(listKeys(prefix, 'escapes').entries, 'd:escapes.example');
    const [at] = stored!.split(' ', 1);
    expect(stored).toBe(encodeEntryInfo({ label, reason, addedBy: 'me' }, at!).value);
    expect((await store.add('escapes', [entry('escapes.example', { label })])).unchanged).toBe(1);

    // As an older release stored it (JSON.stringify), then written again with the same info.
    await redis.hset(listKeys(prefix, 'escapes').entries, 'd:old.example', encodeEntryInfo({ label, addedBy: 'me' }, '2024-01-01T00:00:00.000Z').value);
    expect(await store.add('escapes', [entry('old.example', { label, addedBy: 'me' })])).toMatchObject({ unchanged: 1, updated: 0 });
    expect(await store.add('escapes', [entry('old.example')])).toMatchObject({ unchanged: 1, updated: 0 });
    expect(decodeEntryInfo((await redis.hget(listKeys(prefix, 'escapes').entries, 'd:old.example'))!)).toEqual({ label, addedBy: 'me', addedAt: '2024-01-01T00:00:00.000Z' });
  });
});
