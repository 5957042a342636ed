import type { Command } from 'commander';
import { DECISIONS, type Decision } from '../jobs/verdict-schema.js';
import { jobIdForContent } from '../queues/scan-queue.js';
import { VerdictStore } from '../verdicts/verdict-store.js';
import { CliError } from './cli-errors.js';
import { withRedis } from './cli-redis.js';
import { terminalSafe } from './terminal-text.js';
import { exitCodeOf, formatVerdict } from './verdict-format.js';

interface VerdictFlags {
  content?: string;
  tenant?: string;
  json?: boolean;
}

/** The exit code of a stored verdict's decision; 1 for one this version does not know. */
function rawExitCode(json: string): number {
  const decision = (JSON.parse(json) as { decision?: unknown } | null)?.decision;
  return DECISIONS.includes(decision as Decision) ? exitCodeOf(decision as Decision) : 1;
}

/**
 * Said when `--content` without `--tenant` finds nothing: the job id is a hash of tenant and
 * contentId (jobIdForContent), so a job enqueued with a tenant has another id, and finding it
 * without the tenant would mean scanning every stored verdict.
 */
export const TENANT_HINT = 'the job id of --content depends on the tenant: if the job was enqueued with a tenant, add --tenant <tenant>';

/**
 * `abuse-scan verdict <jobId>` or `abuse-scan verdict --content <contentId> [--tenant <t>]`:
 * the stored verdict of one job, as the fleet emitted it (within the verdict retention), with
 * every signal's evidence: why it fired. Exit 0 allow, 2 review, 3 block, 1 not found.
 */
async function showVerdict(jobIdArgument: string | undefined, flags: VerdictFlags): Promise<void> {
  if ((jobIdArgument === undefined) === (flags.content === undefined)) {
    throw new CliError('invalid arguments', 'give either a jobId or --content <contentId> (with --tenant when the job had one)');
  }
  const jobId = jobIdArgument ?? jobIdForContent(flags.content!, flags.tenant);
  await withRedis(async (redis, config) => {
    const store = new VerdictStore(redis, { prefix: config.prefix, retentionSeconds: config.verdictRetentionSeconds, streamMaxLength: config.verdictStreamMaxLength });
    const notFound = () => {
      const hint = flags.content !== undefined && flags.tenant === undefined ? `; ${TENANT_HINT}` : '';
      process.stderr.write(`no verdict stored for job ${terminalSafe(jobId)} (not scanned yet, or older than the verdict retention of ${config.verdictRetentionSeconds} s)${hint}\n`);
      process.exitCode = 1;
    };
    if (flags.json) {
      // As the fleet stored it, a newer worker's verdict too: the JSON is for tools, which may know it.
      const json = await redis.get(store.keys.verdict(jobId));
      if (json === null) return notFound();
      process.stdout.write(`${json}\n`);
      process.exitCode = rawExitCode(json);
      return;
    }
    // The human form needs a verdict this version reads (else unsupported_schema_version).
    const verdict = await store.get(jobId);
    if (!verdict) return notFound();
    process.stdout.write(`${formatVerdict(verdict)}\n`);
    process.exitCode = exitCodeOf(verdict.decision);
  });
}

export function registerVerdictCommand(program: Command): void {
  program
    .command('verdict')
    .description('print the stored verdict of a scan job and why it fired (REDIS_URL; exit 0 allow, 2 review, 3 block, 1 not found or error)')
    .argument('[jobId]', 'the jobId enqueue returned')
    .option('--content <contentId>', 'find the job by the contentId it was enqueued with (only jobs enqueued without an explicit jobId)')
    .option('--tenant <tenant>', 'the tenant the job was enqueued with, with --content')
    .option('--json', 'print the verdict as stored, one JSON line (a newer worker\'s too)')
    .action(showVerdict);
}
