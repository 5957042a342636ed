import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { jobLimits, loadConfig } from '../config/config.js';
import { toScanError } from '../errors.js';
import type { ScanJobInput } from '../jobs/job-schema.js';
import { validateJob } from '../jobs/validate-job.js';
import { createScanPipeline } from '../pipeline/create-pipeline.js';
import { errorVerdict } from '../pipeline/scan-pipeline.js';
import { createLogger } from '../runtime/logger.js';
import { formatVerdict } from './verdict-format.js';
import type { Verdict } from '../jobs/verdict-schema.js';

interface ScanFlags {
  json?: boolean;
  surface: string;
  tenant?: string;
}

/**
 * The embedded scan: the same pipeline as the queue workers, in this process, with no Redis.
 * One verdict per argument. The operator names local files, so any readable path is accepted.
 */
async function scanJobs(jobs: ScanJobInput[], flags: ScanFlags): Promise<void> {
  const config = loadConfig(process.env, { imageRoot: '/' });
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'abuse-scan');
  const pipeline = await createScanPipeline(config, { logger });
  const validation = { imageRoot: '/', limits: jobLimits(config) };
  try {
    for (const [index, input] of jobs.entries()) {
      const jobId = `local-${process.pid}-${index}`;
      let verdict: Verdict;
      try {
        verdict = await pipeline.scan(validateJob(input, validation), { jobId, attempt: 1, finalAttempt: true });
      } catch (thrown) {
        verdict = errorVerdict(input, { jobId, attempt: 1 }, toScanError(thrown), config.policy, pipeline.versions());
      }
      process.stdout.write(flags.json ? `${JSON.stringify(verdict)}\n` : `${formatVerdict(verdict)}\n`);
      if (verdict.decision !== 'allow') process.exitCode = verdict.decision === 'block' ? 3 : 2;
    }
  } finally {
    await pipeline.close();
  }
}

function jobFor(item: ScanJobInput['items'][number], contentId: string, flags: ScanFlags): ScanJobInput {
  return { contentId, surface: flags.surface, ...(flags.tenant && { tenant: flags.tenant }), items: [item] };
}

export function registerScanCommand(program: Command): void {
  const scan = program
    .command('scan')
    .description('scan content in this process, without Redis, and print the verdict (exit 0 allow, 2 review, 3 block)');
  const common = (command: Command) =>
    command
      .option('--json', 'print each verdict as one JSON line')
      .option('--surface <surface>', 'surface to record in the verdict', 'cli')
      .option('--tenant <tenant>', 'tenant to record in the verdict');

  common(scan.command('url').argument('<url...>', 'URLs to scan, one verdict each').description('scan links')).action(
    (urls: string[], flags: ScanFlags) => scanJobs(urls.map((url) => jobFor(url, url, flags)), flags),
  );
  common(scan.command('image').argument('<file...>', 'image files to scan, one verdict each').description('scan image files')).action(
    (files: string[], flags: ScanFlags) => scanJobs(files.map((file) => jobFor({ path: resolve(file) }, file, flags)), flags),
  );
  common(scan.command('job').argument('<file>', 'a scan job as JSON (- for stdin)').description('scan a whole job')).action(
    async (file: string, flags: ScanFlags) => {
      const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      await scanJobs([JSON.parse(text) as ScanJobInput], flags);
    },
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
