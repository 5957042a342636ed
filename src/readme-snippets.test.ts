import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * README's TypeScript/JavaScript code blocks must compile against the public API (src/index.ts,
 * imported as the package name 'abuse-scan') under the project's strict compiler options, so a
 * renamed export, option or field breaks this test instead of the readers' code.
 *
 * A block that cannot compile on its own (a fragment) is skipped when the line right before its
 * fence is `<!-- snippet: no-check: <why> -->`; keep those rare.
 */

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = path.join(REPO_ROOT, 'README.md');
const CHECKED_LANGUAGES = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);
const NO_CHECK = /^<!--\s*snippet:\s*no-check\b.*-->$/;

interface Snippet {
  /** 1-based README line of the block's first code line. */
  line: number;
  language: string;
  code: string;
  skipped: boolean;
}

function extractSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!;
    const fence = open[2]!;
    const language = open[3]!.toLowerCase();
    const end = lines.findIndex((line, j) => j > i && line.trim() === fence);
    const close = end === -1 ? lines.length : end;
    if (CHECKED_LANGUAGES.has(language)) {
      const body = lines.slice(i + 1, close).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
      snippets.push({ line: i + 2, language, code: body.join('\n'), skipped: NO_CHECK.test(lines[i - 1]?.trim() ?? '') });
    }
    i = close; // a fence inside another block is code, not a block
  }
  return snippets;
}

/** The project's tsconfig options, with 'abuse-scan' mapped to the sources instead of dist/. */
function compilerOptions(): ts.CompilerOptions {
  const { config, error } = ts.readConfigFile(path.join(REPO_ROOT, 'tsconfig.json'), ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const raw = config as { compilerOptions: Record<string, unknown> };
  raw.compilerOptions = { ...raw.compilerOptions, noEmit: true, exactOptionalPropertyTypes: true, allowJs: true, checkJs: true, paths: { 'abuse-scan': ['./src/index.ts'] } };
  const parsed = ts.parseJsonConfigFileContent(raw, ts.sys, REPO_ROOT);
  return parsed.options;
}

/**
 * Type-checks each source as an ES module at the repository root (in memory, nothing is written)
 * and returns its diagnostics, located as `<name>:<line>` with lineOffset added.
 */
function typeCheck(sources: Array<{ name: string; code: string; js: boolean; lineOffset: number }>): Map<string, string[]> {
  const options = compilerOptions();
  // .mts/.mjs: ESM whatever package.json says, so top-level await is allowed as in the README.
  const files = new Map(sources.map((s) => [path.join(REPO_ROOT, `${s.name}.${s.js ? 'mjs' : 'mts'}`), s]));
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  // A block without import or export would be a script sharing one global scope with the others.
  const text = (file: string) => `${files.get(file)!.code}\nexport {};\n`;
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file);
  host.readFile = (file) => (files.has(file) ? text(file) : readFile.call(host, file));
  host.getSourceFile = (file, language, ...rest) =>
    files.has(file) ? ts.createSourceFile(file, text(file), language, true) : getSourceFile.call(host, file, language, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  // Against the sources, never a stale dist/ (the package's own exports would point there).
  if (!program.getSourceFile(path.join(REPO_ROOT, 'src/index.ts')) || program.getSourceFiles().some((f) => f.fileName.startsWith(path.join(REPO_ROOT, 'dist')))) {
    throw new Error("'abuse-scan' did not resolve to src/index.ts");
  }
  const results = new Map<string, string[]>();
  for (const [file, source] of files) {
    const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(file));
    results.set(
      source.name,
      diagnostics.map((d) => {
        const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + source.lineOffset : '?';
        return `${source.name}:${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
  }
  return results;
}

describe("README's code blocks", () => {
  const snippets = extractSnippets(readFileSync(README, 'utf8'));
  const checked = snippets.filter((s) => !s.skipped);

  it('are found, and most are checked', () => {
    // Guards the extraction itself: the producer and consumer examples at least.
    expect(snippets.filter((s) => s.code.includes("from 'abuse-scan'")).length).toBeGreaterThanOrEqual(2);
    expect(snippets.filter((s) => s.skipped).length).toBeLessThanOrEqual(2);
  });

  it('compile against the public API with the project strict options', () => {
    const probe = "import { createScanClient, notAnExport } from 'abuse-scan';\ncreateScanClient({ conection: 'redis://x' });";
    const results = typeCheck([
      ...checked.map((s) => ({ name: `README.md-${s.line}`, code: s.code, js: s.language !== 'ts' && s.language !== 'typescript', lineOffset: s.line })),
      // Proves the check can fail: a name the API does not export and a misspelt option.
      { name: 'probe', code: probe, js: false, lineOffset: 1 },
    ]);
    const probeErrors = results.get('probe')!.join('\n');
    expect(probeErrors).toMatch(/TS2305 .*notAnExport/);
    expect(probeErrors).toMatch(/TS2561 .*conection/);
    results.delete('probe');
    // Named README.md-<first code line>; each message's line is README's line.
    const errors = [...results.values()].flat().map((message) => message.replace(/^README\.md-\d+:/, 'README.md:'));
    expect(errors).toEqual([]);
  });
});
