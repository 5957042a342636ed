/**
 * Where a worker thread's code lives. Compiled (dist/), the pool starts the sibling .js file.
 * Run from TypeScript sources (tsx, vitest), a worker thread has no TypeScript loader and
 * Node 20 ignores `--import` in a worker's execArgv, so the thread is started from a one-line
 * bootstrap that registers tsx's ESM hooks in the thread, then imports the .ts file.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { WorkerOptions } from 'node:worker_threads';

export interface WorkerEntry {
  /** The first argument of `new Worker(...)`. */
  filename: string | URL;
  options: Pick<WorkerOptions, 'eval'>;
}

/** `baseUrl` is the caller's import.meta.url; `stem` the worker module's name without extension. */
export function workerEntry(baseUrl: string, stem: string): WorkerEntry {
  if (!baseUrl.endsWith('.ts')) return { filename: new URL(`./${stem}.js`, baseUrl), options: {} };
  const target = new URL(`./${stem}.ts`, baseUrl).href;
  // tsx resolves to its CommonJS API from here; the ESM one sits beside it.
  const tsxApi = pathToFileURL(createRequire(baseUrl).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(target)}); });`;
  return { filename: bootstrap, options: { eval: true } };
}
