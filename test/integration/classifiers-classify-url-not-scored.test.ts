/**
 * `abuse-scan classify url` and `scan url` agree on which URLs the URL model scores: loopback and
 * private addresses, localhost and special-use names (.test, .example, ...) are skipped by the
 * fleet's url-model signal type, so classify reports them as not scored (exit 1: no score is no
 * verdict) instead of printing a score no scan would give. Run from the TypeScript sources.
 */
import { describe, expect, it } from 'vitest';
import { runNode } from '../harness/cli.js';

const classify = (...args: string[]) => runNode(['src/cli/main.ts', 'classify', 'url', ...args], { timeoutMs: 60_000 });

describe('abuse-scan classify url on URLs the fleet does not score', () => {
  it('reports each as not scored, with why, and exits 1', async () => {
    const { code, stdout } = await classify('http://127.0.0.1/', 'http://10.0.0.1/admin', 'http://localhost:8080/x', 'https://foo.test/', 'https://paypa1-login.example/verify', '--json');
    expect(stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { input: 'http://127.0.0.1/', scores: [], notScored: '127.0.0.1 is a loopback address, not a public one: the URL models score public web hosts only' },
      { input: 'http://10.0.0.1/admin', scores: [], notScored: '10.0.0.1 is a private address, not a public one: the URL models score public web hosts only' },
      { input: 'http://localhost:8080/x', scores: [], notScored: 'localhost is a special-use name, never a public site: the URL models score public web hosts only' },
      { input: 'https://foo.test/', scores: [], notScored: '.test is a special-use name, never a public site: the URL models score public web hosts only' },
      { input: 'https://paypa1-login.example/verify', scores: [], notScored: '.example is a special-use name, never a public site: the URL models score public web hosts only' },
    ]);
    expect(code).toBe(1);
  }, 70_000);

  it('says so in the text output; a scored URL next to it still sets the exit status (review: 2)', async () => {
    const { code, stdout } = await classify('http://192.168.1.1/', 'https://paypa1-login.com/verify');
    expect(stdout).toMatch(/^http:\/\/192\.168\.1\.1\/\n {2}not scored: 192\.168\.1\.1 is a private address, not a public one: the URL models score public web hosts only\n/);
    expect(stdout).toMatch(/https:\/\/paypa1-login\.com\/verify\n {2}review +0\.\d{4} {2}url-lexical-logreg@/);
    expect(code).toBe(2);
  }, 70_000);
});
