import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { jobLimits } from '../config/config.js';
import { toScanError } from '../errors.js';
import { createJobSchema, type ScanJobInput } from '../jobs/job-schema.js';
import type { JobLimits } from '../jobs/limits.js';
import { validateJob } from '../jobs/validate-job.js';
import type { Decision, Verdict } from '../jobs/verdict-schema.js';
import { createScanPipeline } from '../pipeline/create-pipeline.js';
import { errorVerdict } from '../pipeline/scan-pipeline.js';
import { strictest } from '../policy/decide.js';
import { createLogger } from '../runtime/logger.js';
import { loadCliConfig, parseJson } from './cli-config.js';
import { CliError } from './cli-errors.js';
import { openRegularFile } from './regular-file.js';
import { exitCodeOf, formatVerdict } from './verdict-format.js';

interface OutputFlags {
  json?: boolean;
}

/** `scan url` and `scan image`: the job is built from the command line, its surface and tenant from these. */
interface ScanFlags extends OutputFlags {
  surface: string;
  tenant?: string;
}

/**
 * The embedded scan: the same pipeline as the queue workers, in this process, with no Redis.
 * One verdict per argument. `imageRoot` is what `{ path }` items are validated and read against,
 * as a worker does with ABUSE_SCAN_IMAGE_ROOT; `/` where the operator names the files (relative
 * paths are made absolute before they get here). Exit status: the strictest decision of all.
 */
async function scanJobs(jobs: unknown[], flags: OutputFlags, imageRoot = '/'): Promise<void> {
  const config = { ...loadCliConfig(), imageRoot };
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'abuse-scan');
  const pipeline = await createScanPipeline(config, { logger });
  const validation = { imageRoot, limits: jobLimits(config) };
  let strictestDecision: Decision = 'allow';
  try {
    for (const [index, input] of jobs.entries()) {
      const jobId = `local-${process.pid}-${index}`;
      let verdict: Verdict;
      try {
        verdict = await pipeline.scan(validateJob(input, validation), { jobId, attempt: 1, finalAttempt: true });
      } catch (thrown) {
        verdict = errorVerdict(input, { jobId, attempt: 1 }, toScanError(thrown), config.policy, pipeline.versions(), { validation });
      }
      process.stdout.write(flags.json ? `${JSON.stringify(verdict)}\n` : `${formatVerdict(verdict)}\n`);
      strictestDecision = strictest(strictestDecision, verdict.decision);
    }
    process.exitCode = exitCodeOf(strictestDecision);
  } finally {
    await pipeline.close();
  }
}

/**
 * A job file's relative `{ path }` items made absolute under `base`, for a job scanned without
 * ABUSE_SCAN_IMAGE_ROOT. Absolute paths stay as they are. Anything that is not a job is left for
 * validation to refuse.
 */
function withPathsResolved(input: unknown, base: string): unknown {
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
  if (!isObject(input) || !Array.isArray(input.items)) return input;
  const items = input.items.map((item: unknown) => (isObject(item) && typeof item.path === 'string' ? { ...item, path: resolve(base, item.path) } : item));
  return { ...input, items };
}

/**
 * The image files named on the command line, each one there and readable, before anything is
 * scanned: a missing or unreadable file is a mistake in the command (`abuse-scan: file not found:
 * <file>`, `permission denied`, exit 1), not content to judge. A file that can be read is scanned
 * whatever it holds: one that is no image gets its verdict with the decode error.
 */
async function checkReadable(files: readonly string[]): Promise<void> {
  for (const file of files) {
    // ENOENT, EACCES... with the path as given; `is a directory`, `not a regular file` (a FIFO,
    // opened without waiting for a writer), as hash and hashset add check what they read.
    const { handle } = await openRegularFile(file);
    await handle.close();
  }
}

/** Hex digits of the SHA-256 that stand for the whole of an argument too long to be its own contentId. */
const CONTENT_DIGEST_HEX = 16;

/**
 * The contentId a scanned argument is recorded under: the argument itself, or, past the id limit
 * (a URL may be 8192 characters and a path 4096, an id ABUSE_SCAN_MAX_ID_LENGTH, 256 by default),
 * its start and a digest of the whole: the item is scanned as given either way, where the
 * argument as the id would fail the job's validation and leave it unscanned.
 */
export function contentIdFor(argument: string, maxIdLength: number): string {
  if (argument.length <= maxIdLength) return argument;
  const digest = `…sha256:${createHash('sha256').update(argument).digest('hex').slice(0, CONTENT_DIGEST_HEX)}`;
  return digest.length >= maxIdLength ? digest.slice(-maxIdLength) : `${argument.slice(0, maxIdLength - digest.length)}${digest}`;
}

/**
 * --surface and --tenant as a job would hold them, checked by the job schema's own rules (1 to
 * ABUSE_SCAN_MAX_ID_LENGTH characters, well-formed, no U+0000 in a tenant) before anything is
 * scanned: a bad one is the operator's `invalid option` (exit 1), not an invalid_job verdict.
 */
function checkJobFlags(flags: ScanFlags, limits: JobLimits): void {
  const { surface, tenant } = createJobSchema(limits).shape;
  const check = (option: string, schema: typeof surface, value: string): void => {
    const result = schema.safeParse(value);
    if (!result.success) throw new CliError('invalid option', `${option}: ${result.error.issues.map((issue) => issue.message).join('; ')}`);
  };
  check('--surface', surface, flags.surface);
  if (flags.tenant !== undefined) check('--tenant', tenant.unwrap(), flags.tenant);
}

function jobFor(item: ScanJobInput['items'][number], contentId: string, flags: ScanFlags): ScanJobInput {
  return { contentId, surface: flags.surface, ...(flags.tenant !== undefined && { tenant: flags.tenant }), items: [item] };
}

export function registerScanCommand(program: Command): void {
  const scan = program
    .command('scan')
    .description('scan content in this process, without Redis (lists from ABUSE_SCAN_LISTS_DIR, hash sets from ABUSE_SCAN_HASHSETS_DIR), and print the verdict (exit 0 allow, 2 review, 3 block)');
  const json = (command: Command) => command.option('--json', 'print each verdict as one JSON line');
  // The job `url` and `image` build is the command line's: its surface and tenant too.
  const jobFlags = (command: Command) =>
    json(command)
      .option('--surface <surface>', 'surface to record in the verdict', 'cli')
      .option('--tenant <tenant>', 'tenant to record in the verdict');

  jobFlags(scan.command('url').argument('<url...>', 'URLs to scan, one verdict each').description('scan links')).action(
    (urls: string[], flags: ScanFlags) => {
      const config = loadCliConfig();
      checkJobFlags(flags, jobLimits(config));
      return scanJobs(urls.map((url) => jobFor(url, contentIdFor(url, config.maxIdLength), flags)), flags);
    },
  );
  jobFlags(scan.command('image').argument('<file...>', 'image files to scan, one verdict each').description('scan image files')).action(
    async (files: string[], flags: ScanFlags) => {
      const config = loadCliConfig();
      checkJobFlags(flags, jobLimits(config));
      await checkReadable(files);
      await scanJobs(files.map((file) => jobFor({ path: resolve(file) }, contentIdFor(file, config.maxIdLength), flags)), flags);
    },
  );
  // A job file is scanned as a worker would get it: its own contentId, surface, tenant and
  // metadata, which no option changes (an unknown option: `invalid option`).
  json(
    scan
      .command('job')
      .argument('<file>', 'a scan job as JSON (- for stdin)')
      .description('scan a whole job, as producers send it (its surface and tenant are the job\'s); with ABUSE_SCAN_IMAGE_ROOT set, { path } items must lie under it as workers require (else path_outside_root), without it they are read as given, relative to the current directory'),
  ).action(
    async (file: string, flags: OutputFlags) => {
      const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      const job = parseJson(text, file === '-' ? 'stdin' : file);
      const { imageRoot } = loadCliConfig();
      // With a root, the job is judged as a worker of that root judges it (validateJob, then the
      // pipeline's realpath checks): a path a worker refuses must not be read here either.
      if (imageRoot !== undefined) await scanJobs([job], flags, imageRoot);
      else await scanJobs([withPathsResolved(job, process.cwd())], flags);
    },
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
