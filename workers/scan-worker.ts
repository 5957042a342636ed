/**
 * Process entry point of a scan worker, for process managers that start a file rather than a
 * command: the same as `abuse-scan worker`, configured by environment variables only.
 */
import { reportCliError } from '../src/cli/cli-errors.js';
import { runWorker } from '../src/cli/worker-command.js';

// What main.ts does with a command's error, so that a bad setting ends this entry as it ends
// `abuse-scan worker`: one `abuse-scan: invalid configuration: ...` line and exit 1, no stack.
try {
  await runWorker({});
} catch (error) {
  reportCliError(error);
}
