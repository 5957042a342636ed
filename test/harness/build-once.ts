/**
 * vitest globalSetup: builds dist/ once, with `npm run build`'s compiler settings, before any test
 * file runs. CLI tests run the compiled CLI (runCli), as README's commands and the image do: a
 * process started through tsx spends about as long again transforming and resolving the sources.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export default function buildOnce(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: 'inherit' });
}
