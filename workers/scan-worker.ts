/**
 * Process entry point of a scan worker, for process managers that start a file rather than a
 * command: the same as `abuse-scan worker`, configured by environment variables only.
 */
import { runWorker } from '../src/cli/worker-command.js';

await runWorker({});
