/**
 * `npm run bench <name> [args...]` runs bench/<name>.bench.ts. Every benchmark measures its own
 * baseline in the same run and prints ratios against it, so figures compare across machines.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''));

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench <${available.join('|')}> [args...]`);
  process.exit(2);
}
const bench = (await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)) as {
  main: (args: string[]) => Promise<void>;
};
await bench.main(args);
