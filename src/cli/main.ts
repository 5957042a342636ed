import { Command } from 'commander';
import { SCANNER_VERSION } from '../version.js';
import { isCommanderExit, reportCliError, routeCommanderErrors } from './cli-errors.js';

/** The exit status of a process that SIGPIPE ended (128 + 13), what a shell shows for `yes | head`. */
const EXIT_BROKEN_PIPE = 141;
// A reader that stops early (`abuse-scan scan ... | head`) closes the pipe: end as a command killed
// by SIGPIPE would (Node ignores the signal), not with an unhandled EPIPE stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT_BROKEN_PIPE);
});

const program = new Command()
  .name('abuse-scan')
  .description('Content- and link-abuse scanning: workers, producer tools and trust-engineer commands')
  .version(SCANNER_VERSION);

/**
 * Each command's module, in the order `--help` lists them. Loaded on demand: the commands
 * together import sharp, onnxruntime, BullMQ and undici, which cost a short command
 * (`canonicalize` in a shell loop, say) most of a second of start-up it never uses.
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  scan: async () => (await import('./scan-command.js')).registerScanCommand,
  worker: async () => (await import('./worker-command.js')).registerWorkerCommand,
  verdict: async () => (await import('./verdict-command.js')).registerVerdictCommand,
  status: async () => (await import('./status-command.js')).registerStatusCommand,
  canonicalize: async () => (await import('./canonicalize-command.js')).registerCanonicalizeCommand,
  unfurl: async () => (await import('./unfurl-command.js')).registerUnfurlCommand,
  blocklist: async () => (await import('./blocklist-command.js')).registerBlocklistCommand,
  hashset: async () => (await import('./hashset-command.js')).registerHashSetCommand,
  hash: async () => (await import('./hash-command.js')).registerHashCommand,
  classify: async () => (await import('./classify-command.js')).registerClassifyCommand,
};

// The command named first on the line is the only one loaded. Anything else (`--help`, `help`,
// `--version`, a mistyped command that commander suggests a name for) needs them all.
const named = process.argv[2];
const wanted = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
for (const register of await Promise.all(wanted.map((load) => load()))) register(program);

// The one handler of what commands throw, and of commander's command-line errors:
// `abuse-scan: <code or reason>: <message>`, exit code 1.
routeCommanderErrors(program);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (isCommanderExit(error)) process.exitCode = error.exitCode;
  else reportCliError(error);
}
