import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../runtime/logger.js';
import { importRefusal, ListFileError, parseListFile, type BadLine } from './list-import.js';
import { assertListName } from './list-keys.js';
import { compileList, ListMatcher, type CompiledList } from './list-matcher.js';
import { listRoleOfName } from './list-entry.js';

/**
 * Lists from a directory, for the embedded scan without Redis (ABUSE_SCAN_LISTS_DIR): every
 * `<name>[.block|.review].txt|csv` file is one list, parsed like an import. A file whose name
 * starts with `allow-` is an allowlist (the rule of lists in Redis too: listRoleOfName), any other
 * a blocklist whose matches suggest `block`, or `review` for `<name>.review.txt|csv` (what
 * `blocklist import --action review` makes in Redis: from a file such a list blocked). A list's version is `sha256:` and the first 12 hex digits
 * of the file's hash. A file that is not a list (an invalid name, a CSV without an `entry`
 * column, no entry at all: only bad lines, or empty or comments only) throws ListFileError naming
 * it: a scan must not run without a list it was given. So do two files of one list name
 * (`phish.txt` and `phish.csv`), naming both: a list has one version. Bad lines among good ones
 * are skipped with a warning, as an import skips them.
 */

export interface DirectoryList {
  list: CompiledList;
  file: string;
  bad: BadLine[];
}

export async function loadListDirectory(dir: string, logger?: Logger): Promise<{ matcher: ListMatcher; lists: DirectoryList[] }> {
  const files = (await readdir(dir)).filter((file) => /\.(txt|csv)$/i.test(file)).sort();
  const lists: DirectoryList[] = [];
  const fileOfName = new Map<string, string>();
  for (const file of files) {
    const { name, action } = listOfFile(file);
    const path = join(dir, file);
    try {
      assertListName(name);
    } catch (error) {
      throw new ListFileError(`${path}: ${(error as Error).message}`, { cause: error });
    }
    if (listRoleOfName(name) === 'allow' && action !== 'block') {
      throw new ListFileError(`${path}: an allowlist has no action (name it ${name}.${/\.csv$/i.test(file) ? 'csv' : 'txt'})`);
    }
    const other = fileOfName.get(name);
    if (other !== undefined) {
      throw new ListFileError(`${join(dir, other)} and ${path}: both are list ${JSON.stringify(name)} (one file per list: merge them or rename one)`);
    }
    fileOfName.set(name, file);
    const text = await readFile(path, 'utf8');
    const parsed = parseListFile(text, /\.csv$/i.test(file) ? 'csv' : 'txt', { source: path });
    // A file with no entry would be an empty list, matching nothing while verdicts name it as
    // consulted (a CSV feed saved as .txt: every line bad): refused as `blocklist import` refuses it.
    const refusal = importRefusal(parsed, { replace: false });
    if (refusal !== undefined) {
      const first = parsed.bad[0];
      const example = first ? ` (line ${first.line} ${JSON.stringify(first.text)}: ${first.message})` : '';
      throw new ListFileError(`${path}: ${refusal}${example}`);
    }
    const version = `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
    const list = compileList({ name, version, role: listRoleOfName(name), action }, parsed.entries);
    if (parsed.bad.length) logger?.warn({ file, bad: parsed.bad.slice(0, 20), count: parsed.bad.length }, 'list file lines skipped');
    lists.push({ list, file, bad: parsed.bad });
  }
  return { matcher: new ListMatcher(lists.map((l) => l.list)), lists };
}

/** A list file's list name and action: `phish.txt` blocks, `sus.review.csv` is list `sus` suggesting review. */
function listOfFile(file: string): { name: string; action: 'block' | 'review' } {
  const [, name, action] = /^(.*?)(?:\.(block|review))?\.(?:txt|csv)$/i.exec(file)!;
  return { name: name!, action: action?.toLowerCase() === 'review' ? 'review' : 'block' };
}
