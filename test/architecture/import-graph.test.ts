/**
 * The layering README's Development section describes, checked on the import graph: pure logic
 * (canonicalization, expressions, hashing, indexes, policy, schemas) reaches no I/O, and a short
 * CLI command (`canonicalize` in a shell loop) loads none of the heavy runtime packages, which
 * main.ts loads on demand only for the commands that use them.
 *
 * The graph is the static imports of src/ as the compiler emits them, read with the TypeScript
 * parser: under verbatimModuleSyntax only `import type` / `export type` vanish (`import { type X }`
 * still loads its module), and dynamic `import()` is on demand, so not followed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/fleet.js';

/** The modules a file loads when it runs: its import and export-from declarations, but `import type` and `export type`. */
function loadedSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly && ts.isStringLiteral(statement.moduleSpecifier)) {
      specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
      specifiers.push(statement.moduleSpecifier.text);
    }
  }
  return specifiers;
}

/** Every module `entry` loads, as `src/...` paths for project files and package names for the rest. */
function staticClosure(entry: string): Set<string> {
  const reached = new Set<string>();
  const pending = [resolve(REPO_ROOT, entry)];
  while (pending.length) {
    const file = pending.pop()!;
    const name = relative(REPO_ROOT, file);
    if (reached.has(name)) continue;
    reached.add(name);
    for (const specifier of loadedSpecifiers(file)) {
      if (specifier.startsWith('.')) pending.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else reached.add(specifier.startsWith('node:') ? specifier : packageName(specifier));
    }
  }
  return reached;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const RUNTIME_PACKAGES = ['ioredis', 'bullmq', 'sharp', 'onnxruntime-node', 'undici'];
const IO_MODULES = [...RUNTIME_PACKAGES, 'node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:dns', 'node:child_process', 'node:worker_threads'];

describe('import graph', () => {
  it.each([
    'src/links/browser-links.ts',
    'src/links/url-parser-strip.ts',
    'src/links/canonicalize.ts',
    'src/links/expressions.ts',
    'src/links/registrable-domain.ts',
    'src/lists/list-entry.ts',
    'src/lists/list-matcher.ts',
    'src/images/pdq/hasher.ts',
    'src/images/pdq/dihedral.ts',
    'src/images/blockhash.ts',
    'src/images/blockhash-dihedral.ts',
    'src/images/border.ts',
    'src/images/contrast.ts',
    'src/images/orientation.ts',
    'src/images/alpha.ts',
    'src/images/apng.ts',
    'src/images/isobmff-boxes.ts',
    'src/links/guard/redirects.ts',
    'src/links/guard/meta-refresh.ts',
    'src/matching/bk-tree-index.ts',
    'src/matching/mih-index.ts',
    'src/matching/choose-index.ts',
    'src/matching/hash-bits.ts',
    'src/policy/decide.ts',
    'src/jobs/job-schema.ts',
    'src/jobs/verdict-schema.ts',
    'src/signals/hashset-match/hashset-match-signal.ts',
  ])('pure logic %s reaches no I/O module', (entry) => {
    const io = [...staticClosure(entry)].filter((module) => IO_MODULES.includes(module));
    expect(io).toEqual([]);
  });

  it.each(['src/cli/main.ts', 'src/cli/canonicalize-command.ts'])('%s loads none of the runtime packages (main.ts loads commands on demand)', (entry) => {
    const heavy = [...staticClosure(entry)].filter((module) => RUNTIME_PACKAGES.includes(module));
    expect(heavy).toEqual([]);
  });
});
