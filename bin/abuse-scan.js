#!/usr/bin/env node
// The installed command runs the compiled CLI (`npm run build` makes dist/).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('abuse-scan is not built yet: run `npm run build` in the package folder first.');
  process.exit(1);
}
await import(entry.href);
