/**
 * Past the shutdown timeout, runUntilSignalled calls abandon(), which may now try to hand the work
 * in flight back (a Redis round trip that may never come back): the process exits 75 once it
 * settles, or ABANDON_TIMEOUT_MS after the timeout at the latest, and a drain that ends meanwhile
 * does not turn that into a clean exit 0. Each case runs in a child process (process.exit), under
 * tsx: no build needed.
 */
import { describe, expect, it } from 'vitest';
import { ABANDON_TIMEOUT_MS, EXIT_CODES } from '../../src/runtime/runnable.js';
import { runNode } from '../harness/cli.js';

const SHUTDOWN_TIMEOUT_MS = 200;

/**
 * A runnable whose drain never ends (or, `drains-meanwhile`, ends while abandon() runs), with an
 * abandon() that takes 300 ms (or, `hangs`, never settles); SIGTERM right after start-up. Prints
 * one JSON line at exit.
 */
const SCENARIO = `
import { runUntilSignalled } from './src/runtime/runnable.ts';
import { createLogger } from './src/runtime/logger.ts';
const mode = process.env.SCENARIO;
let signalledAt = 0;
let abandonSettled = false;
let abandonCalled;
const abandonStarted = new Promise((resolve) => (abandonCalled = resolve));
process.prependListener('SIGTERM', () => (signalledAt = Date.now()));
process.on('exit', (code) => console.log(JSON.stringify({ code, afterSignalMs: Date.now() - signalledAt, abandonSettled })));
await runUntilSignalled(
  async () => ({
    shutdown: () =>
      mode === 'drains-meanwhile'
        ? abandonStarted.then(() => new Promise((resolve) => setTimeout(() => resolve({ gaveUpWork: false }), 50)))
        : new Promise(() => undefined),
    abandon: () => {
      abandonCalled();
      if (mode === 'hangs') return new Promise(() => undefined);
      return new Promise((resolve) => setTimeout(() => ((abandonSettled = true), resolve()), 300));
    },
  }),
  createLogger('info', 'runnable-test'),
  { shutdownTimeoutMs: ${SHUTDOWN_TIMEOUT_MS} },
);
process.kill(process.pid, 'SIGTERM');
`;

async function run(scenario: 'abandons' | 'hangs' | 'drains-meanwhile') {
  const child = await runNode(['--input-type=module', '-e', SCENARIO], { env: { SCENARIO: scenario }, timeoutMs: 30_000 });
  const exit = JSON.parse(child.stdout.trim()) as { code: number; afterSignalMs: number; abandonSettled: boolean };
  return { ...exit, processCode: child.code, log: child.stderr };
}

describe('exit after the shutdown timeout', () => {
  it('waits for abandon() to settle, then exits 75', async () => {
    const exit = await run('abandons');
    expect(exit).toMatchObject({ code: EXIT_CODES.shutdownTimedOut, processCode: EXIT_CODES.shutdownTimedOut, abandonSettled: true });
    expect(exit.afterSignalMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS + 300);
    expect(exit.afterSignalMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + ABANDON_TIMEOUT_MS);
    expect(exit.log).toContain('shutdown timed out: giving up the work in flight');
  }, 40_000);

  it('exits 75 ABANDON_TIMEOUT_MS after the timeout when abandon() never settles (Redis not answering), and says so', async () => {
    const exit = await run('hangs');
    expect(exit).toMatchObject({ code: EXIT_CODES.shutdownTimedOut, processCode: EXIT_CODES.shutdownTimedOut });
    expect(exit.afterSignalMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS + ABANDON_TIMEOUT_MS);
    expect(exit.afterSignalMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + ABANDON_TIMEOUT_MS + 1000);
    expect(exit.log).toContain('giving up the work in flight took too long: exiting');
  }, 40_000);

  it('exits 75, not 0, when the drain ends while abandon() runs, once abandon() settled', async () => {
    const exit = await run('drains-meanwhile');
    expect(exit).toMatchObject({ code: EXIT_CODES.shutdownTimedOut, processCode: EXIT_CODES.shutdownTimedOut, abandonSettled: true });
  }, 40_000);
});
