/** The configuration and option parsing every command shares; their failures are CliErrors an operator can act on. */
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { decimalInteger, loadConfig, type FleetConfig, type FleetConfigInput } from '../config/config.js';
import { CliError, describeErrnoError } from './cli-errors.js';

/**
 * loadConfig on process.env, failing with `invalid configuration` and what is wrong (which
 * variable, which field), or, for the policy file it cannot read, as every file setting fails:
 * `file not found: <path> (ABUSE_SCAN_POLICY_FILE)`, `permission denied`...
 */
export function loadCliConfig(overrides: Partial<FleetConfigInput> = {}): FleetConfig {
  try {
    return loadConfig(process.env, overrides);
  } catch (error) {
    if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
      const { reason, lines } = describeErrnoError(error);
      throw new CliError(reason, lines.join('\n'), { cause: error });
    }
    throw new CliError('invalid configuration', configurationProblem(error), { cause: error });
  }
}

function configurationProblem(error: unknown): string {
  // The only file loadConfig reads is the policy file: a parse error is about it.
  if (error instanceof SyntaxError) return `ABUSE_SCAN_POLICY_FILE ${process.env.ABUSE_SCAN_POLICY_FILE} is not valid JSON: ${error.message}`;
  // loadConfig's own message: "invalid configuration:" and one line per field.
  return (error instanceof Error ? error.message : String(error)).replace(/^invalid configuration:\s*/, '');
}

/** Parses an integer flag of at least `min` (0: non-negative, 1: positive), failing with a message naming it. */
export function integerFlag(name: string, value: string | undefined, min: 0 | 1 = 0): number | undefined {
  if (value === undefined) return undefined;
  // As settings are read: Number() took ' ' for 0 and 0x50 for 80.
  const parsed = decimalInteger(value);
  if (parsed === undefined || parsed < min) throw new CliError('invalid option', `--${name} needs a ${min === 0 ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`);
  return parsed;
}

/**
 * The directories only the embedded scan reads lists and hash sets from, with the command that
 * loads such files into Redis. A worker and `scan --fleet` match against the fleet's in Redis and
 * never read them, so either set there is refused rather than silently ignored.
 */
const EMBEDDED_SCAN_DIRECTORIES = [
  { variable: 'ABUSE_SCAN_LISTS_DIR', setting: 'listsDir', holds: 'lists', importedWith: 'blocklist import' },
  { variable: 'ABUSE_SCAN_HASHSETS_DIR', setting: 'hashSetsDir', holds: 'hash sets', importedWith: 'hashset import' },
] as const;

export type EmbeddedScanDirectory = (typeof EMBEDDED_SCAN_DIRECTORIES)[number];

/** Which of the embedded scan's directory variables `config` sets (see EMBEDDED_SCAN_DIRECTORIES). */
export function embeddedScanDirectoriesSet(config: Pick<FleetConfig, 'listsDir' | 'hashSetsDir'>): EmbeddedScanDirectory[] {
  return EMBEDDED_SCAN_DIRECTORIES.filter((directory) => config[directory.setting] !== undefined);
}

/** JSON text parsed, or `invalid JSON` naming where it came from. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError('invalid JSON', `${source}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Who is running the command, recorded as `addedBy`: $USER, else the OS account (USER is unset
 * under cron, systemd and many containers; an empty USER counts as unset).
 */
export function currentUser(): string {
  try {
    return process.env.USER || userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * Why files under ABUSE_SCAN_IMAGE_ROOT `root` could not be read (as the pipeline reads them,
 * through its realpath), as a line naming the variable, or undefined.
 */
export async function imageRootProblem(root: string): Promise<string | undefined> {
  const problem = await (async () => {
    try {
      const real = await realpath(root);
      if (!(await stat(real)).isDirectory()) return 'is not a directory';
      await access(real, constants.R_OK | constants.X_OK);
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist';
      if (code === 'EACCES' || code === 'EPERM') return 'is not readable by this process (permission denied)';
      return `cannot be used: ${(error as Error).message}`;
    }
  })();
  return problem && `ABUSE_SCAN_IMAGE_ROOT: ${root} ${problem}`;
}
