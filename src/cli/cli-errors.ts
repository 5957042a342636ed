/**
 * How a failed command tells the operator why: one line (or a header and one line per field)
 * `abuse-scan: <code or short reason>: <message>` on stderr, exit code 1, and the stack only under
 * LOG_LEVEL=debug (or trace). main.ts sends every error a command throws through reportCliError,
 * and commander's own (a missing argument, an unknown option) too, through routeCommanderErrors.
 */
import { resolve } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { z } from 'zod';
import { isScanError } from '../errors.js';
import { EntryIdError } from '../hashsets/hash-list-parser.js';
import { HashSetFileError } from '../hashsets/hash-set-directory.js';
import { EntryError, ListRoleError } from '../lists/list-entry.js';
import { ListFileError, SpoolFileError } from '../lists/list-import.js';
import { terminalSafe } from './terminal-text.js';

/** A problem the operator can fix (a bad file, option or setting), with its short reason. */
export class CliError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export interface ErrorDescription {
  /** A ScanError's stable code, or a short reason: `not found`, `invalid JSON`, `invalid configuration`... */
  reason: string;
  /** One line, or one line per field. */
  lines: string[];
}

/** Short reasons for the filesystem errors an operator meets (missing files and directories, permissions). */
const ERRNO_REASONS: Record<string, string> = {
  ENOENT: 'file not found',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

function isErrnoError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** The ABUSE_SCAN_* variable naming this path, if one does: the operator sees which setting is wrong. */
function variableNaming(path: string): string | undefined {
  const target = resolve(path);
  return Object.entries(process.env).find(([name, value]) => name.startsWith('ABUSE_SCAN_') && value && resolve(value) === target)?.[0];
}

/** A filesystem error as `<reason>: <path> (<variable>)`. */
export function describeErrnoError(error: NodeJS.ErrnoException): ErrorDescription {
  const reason = ERRNO_REASONS[error.code!] ?? error.code!.toLowerCase();
  if (error.path === undefined) return { reason, lines: [error.message] };
  const variable = variableNaming(error.path);
  return { reason, lines: [`${error.path}${variable ? ` (${variable})` : ''}`] };
}

export function describeZodIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`);
}

export function describeError(error: unknown): ErrorDescription {
  const lines = (message: string) => message.split('\n').map((line) => line.trim()).filter(Boolean);
  if (isScanError(error)) return { reason: error.code, lines: lines(error.message) };
  if (error instanceof CliError) return { reason: error.reason, lines: lines(error.message) };
  if (error instanceof z.ZodError) return { reason: 'invalid input', lines: describeZodIssues(error.issues) };
  if (error instanceof SpoolFileError) return { reason: 'temporary file unavailable', lines: lines(error.message) };
  if (isErrnoError(error)) return describeErrnoError(error);
  if (error instanceof ListFileError) return { reason: 'invalid list file', lines: lines(error.message) };
  if (error instanceof HashSetFileError) return { reason: 'invalid hash set file', lines: lines(error.message) };
  if (error instanceof ListRoleError) return { reason: 'list role mismatch', lines: lines(error.message) };
  if (error instanceof EntryError || error instanceof EntryIdError) return { reason: 'invalid entry', lines: lines(error.message) };
  return { reason: 'error', lines: lines(error instanceof Error ? error.message : String(error)) };
}

/**
 * What commander reports about the command line, by its error code: `invalid option` for the
 * options (unknown, without its value, a value not among the choices, a mandatory one missing),
 * `invalid arguments` for the rest (a missing or extra argument, an unknown command).
 */
function commanderReason(error: CommanderError): string {
  switch (error.code) {
    case 'commander.unknownOption':
    case 'commander.optionMissingArgument':
    case 'commander.missingMandatoryOptionValue':
    case 'commander.conflictingOption':
      return 'invalid option';
    case 'commander.invalidArgument':
      return /^option /.test(error.message.replace(/^error: /, '')) ? 'invalid option' : 'invalid arguments';
    default:
      return 'invalid arguments';
  }
}

/** `abuse-scan scan image`: the command as typed, for the pointer to its help. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Help and version output end the run through commander's exit too; they are not errors. */
const COMMANDER_EXITS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

export function isCommanderExit(error: unknown): error is CommanderError {
  return error instanceof CommanderError && COMMANDER_EXITS.has(error.code);
}

/**
 * Makes commander throw its command-line errors instead of printing `error: ...` and exiting:
 * each becomes a CliError (`invalid option` or `invalid arguments`, naming the command's --help)
 * for reportCliError, exit code 1. Help and version still end the run (isCommanderExit). Call it
 * once every command is registered: it walks them all.
 */
export function routeCommanderErrors(command: Command): void {
  command.configureOutput({ outputError: () => undefined });
  command.exitOverride((error) => {
    if (COMMANDER_EXITS.has(error.code)) throw error;
    // One line: commander puts its suggestion (`(Did you mean scan?)`) on a line of its own.
    const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    throw new CliError(commanderReason(error), `${message} (see ${commandPath(command)} --help)`, { cause: error });
  });
  for (const subcommand of command.commands) routeCommanderErrors(subcommand);
}

/**
 * Prints an error for an operator and sets exit code 1. Messages often quote outside text (a
 * link, a feed's line): it goes out through terminalSafe, so it cannot drive the terminal.
 */
export function reportCliError(error: unknown, logLevel = process.env.LOG_LEVEL): void {
  const described = describeError(error);
  const reason = terminalSafe(described.reason);
  const lines = described.lines.map(terminalSafe);
  const text = lines.length === 1 ? `abuse-scan: ${reason}: ${lines[0]}` : [`abuse-scan: ${reason}:`, ...lines.map((line) => `  ${line}`)].join('\n');
  process.stderr.write(`${text}\n`);
  if (logLevel === 'debug' || logLevel === 'trace') {
    for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) process.stderr.write(`${cause === error ? '' : 'caused by: '}${cause.stack}\n`);
  }
  process.exitCode = 1;
}
