import { Command } from 'commander';
import { SCANNER_VERSION } from '../version.js';
import { registerHashCommand } from './hash-command.js';
import { registerHashSetCommand } from './hashset-command.js';
import { registerBlocklistCommand } from './blocklist-command.js';
import { registerCanonicalizeCommand } from './canonicalize-command.js';
import { registerClassifyCommand } from './classify-command.js';
import { registerScanCommand } from './scan-command.js';
import { registerStatusCommand } from './status-command.js';
import { registerUnfurlCommand } from './unfurl-command.js';
import { registerVerdictCommand } from './verdict-command.js';
import { registerWorkerCommand } from './worker-command.js';
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

registerScanCommand(program);
registerWorkerCommand(program);
registerVerdictCommand(program);
registerStatusCommand(program);
registerCanonicalizeCommand(program);
registerUnfurlCommand(program);
registerBlocklistCommand(program);
registerHashSetCommand(program);
registerHashCommand(program);
registerClassifyCommand(program);

// The one handler of what commands throw, and of commander's command-line errors:
// `abuse-scan: <code or reason>: <message>`, exit code 1.
routeCommanderErrors(program);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (isCommanderExit(error)) process.exitCode = error.exitCode;
  else reportCliError(error);
}
