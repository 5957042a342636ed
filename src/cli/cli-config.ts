/** The configuration and option parsing every command shares; their failures are CliErrors an operator can act on. */
import { userInfo } from 'node:os';
import { loadConfig, type FleetConfig, type FleetConfigInput } from '../config/config.js';
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

/** Parses a non-negative integer flag, failing with a message naming it. */
export function integerFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new CliError('invalid option', `--${name} needs a non-negative integer, got ${JSON.stringify(value)}`);
  return parsed;
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
