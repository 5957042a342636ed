import { spawn } from 'node:child_process';
import { REPO_ROOT } from './fleet.js';
import { TEST_REDIS_URL } from './redis.js';

/**
 * The embedded scan with nothing reached over the network: no model, no unfurl, and a Redis URL
 * nothing answers (a command that touched Redis would fail instead of using the test Redis).
 */
export const OFFLINE_CLI_ENV = { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' } as const;

export interface CliResult {
  /** Exit code; null when the command was killed at `timeoutMs`. */
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CliOptions {
  stdin?: string | Buffer;
  /** Added to this process's environment; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Kill the command after this long (code null): a test of a command that used to hang fails instead of hanging. */
  timeoutMs?: number;
}

/**
 * `abuse-scan <args>` against the test Redis, with optional stdin and environment: the compiled
 * CLI (bin/abuse-scan.js), built from the sources once per run (build-once.ts).
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnNode(['bin/abuse-scan.js', ...args], options);
}

/** `node <file> <args>` in the repository root: a compiled entry point such as dist/workers/scan-worker.js. */
export function runNodeFile(file: string, args: string[] = [], options: CliOptions = {}): Promise<CliResult> {
  return spawnNode([file, ...args], options);
}

/** `node --import tsx <args>` in the repository root: a script, or `-e` code importing ./src/... */
export function runNode(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnNode(['--import', 'tsx', ...args], options);
}

function spawnNode(args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'silent', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, durationMs: Date.now() - started });
    });
    child.stdin.end(options.stdin ?? '');
  });
}
