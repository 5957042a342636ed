import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/fleet.js';

/** The sources of the image stage's COPY instructions, in order (`--from=build /app/dist`, `models`). */
async function imageCopies(): Promise<string[]> {
  const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const imageStage = lines.slice(lines.findLastIndex((line) => /^FROM\s/i.test(line)));
  return imageStage
    .map((line) => /^COPY\s+(.*)\s+\S+\s*$/i.exec(line)?.[1])
    .filter((source): source is string => source !== undefined)
    .map((source) => source.replace(/\s+/g, ' ').trim());
}

describe('the Dockerfile\'s image layers', () => {
  // Every layer after a changed one is rebuilt and pushed again: the models (about 10 MB) must not
  // ride along with each code change.
  it('copies the models before the compiled code and the dependencies', async () => {
    const copies = await imageCopies();
    const at = (source: string) => {
      const index = copies.indexOf(source);
      expect(index, `COPY ${source} in ${JSON.stringify(copies)}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    expect(at('models')).toBeLessThan(at('--from=build /app/dist'));
    expect(at('models')).toBeLessThan(at('--from=build /app/node_modules'));
  });
});
