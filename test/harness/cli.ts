import { spawn } from 'node:child_process';
import { REPO_ROOT } from './fleet.js';
import { TEST_REDIS_URL } from './redis.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `abuse-scan <args>` from the TypeScript sources against the test Redis, with optional stdin and environment. */
export function runCli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'silent', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
