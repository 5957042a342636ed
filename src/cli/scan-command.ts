import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { jobLimits } from '../config/config.js';
import { toScanError } from '../errors.js';
import { createJobSchema, itemKind, type ItemKind, type ScanItem, type ScanJobInput } from '../jobs/job-schema.js';
import type { JobLimits } from '../jobs/limits.js';
import { validateJob } from '../jobs/validate-job.js';
import type { Decision, Verdict } from '../jobs/verdict-schema.js';
import type { FleetConfig } from '../config/config.js';
import { createScanPipeline } from '../pipeline/create-pipeline.js';
import { errorVerdict, type ScanPipeline } from '../pipeline/scan-pipeline.js';
import { strictest } from '../policy/decide.js';
import { createLogger } from '../runtime/logger.js';
import { embeddedScanDirectoriesSet, imageRootProblem, loadCliConfig, parseJson } from './cli-config.js';
import { CliError } from './cli-errors.js';
import { withRedis } from './cli-redis.js';
import { openRegularFile } from './regular-file.js';
import { exitCodeOf, formatVerdict } from './verdict-format.js';

interface OutputFlags {
  json?: boolean;
  /** Match against the fleet's lists and hash sets in Redis, read-only (see scanJobs). */
  fleet?: boolean;
}

/** `scan url` and `scan image`: the job is built from the command line, its surface and tenant from these. */
interface ScanFlags extends OutputFlags {
  surface: string;
  tenant?: string;
}

/**
 * The embedded scan: the same pipeline as the queue workers, in this process. One verdict per
 * argument. `imageRoot` is what `{ path }` items are validated and read against, as a worker does
 * with ABUSE_SCAN_IMAGE_ROOT; `/` where the operator names the files (relative paths are made
 * absolute before they get here). Exit status: the strictest decision of all.
 *
 * Without --fleet there is no Redis: lists and hash sets come from ABUSE_SCAN_LISTS_DIR and
 * ABUSE_SCAN_HASHSETS_DIR, and a note on stderr says which of those the items needed were not
 * consulted. With --fleet the pipeline loads the replicas of the fleet's lists and hash sets a
 * worker loads (REDIS_URL, ABUSE_SCAN_PREFIX) and writes nothing there (PipelineServices.readOnly:
 * no flood counting or quarantine, the unfurl cache read and not written).
 */
async function scanJobs(jobs: unknown[], flags: OutputFlags, imageRoot = '/'): Promise<void> {
  const config = { ...loadCliConfig(), imageRoot };
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'abuse-scan');
  if (!flags.fleet) {
    const pipeline = await createScanPipeline(config, { logger });
    noteWhatIsNotConsulted(config, jobs);
    return runScans(pipeline, jobs, flags, config);
  }
  // Connected (or `redis_unavailable`) before anything loads; closed after the pipeline (each
  // command checked --fleet against the directory variables before reading its input).
  await withRedis(async (connection) => runScans(await createScanPipeline(config, { logger, connection, readOnly: true }), jobs, flags, config));
}

/** Scans each job with `pipeline` and prints its verdict; closes the pipeline. */
async function runScans(pipeline: ScanPipeline, jobs: unknown[], flags: OutputFlags, config: FleetConfig & { imageRoot: string }): Promise<void> {
  const { imageRoot } = config;
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

/**
 * --fleet takes every list and hash set from Redis, as a worker does (a worker given a connection
 * reads no directory): with ABUSE_SCAN_LISTS_DIR or ABUSE_SCAN_HASHSETS_DIR set too, which of them
 * the operator meant is unclear, so the command is refused before anything is read or scanned.
 */
function checkFleetFlag(flags: OutputFlags, config: Pick<FleetConfig, 'listsDir' | 'hashSetsDir'>): void {
  if (!flags.fleet) return;
  const set = embeddedScanDirectoriesSet(config).map((directory) => directory.variable);
  if (set.length === 0) return;
  throw new CliError(
    'invalid option',
    `--fleet matches against the fleet's lists and hash sets in Redis, not files: unset ${set.join(' and ')} (or scan without --fleet to use ${set.length > 1 ? 'those directories' : 'that directory'})`,
  );
}

/** The item kinds of jobs as given (a link is a string item, anything else an image); what is no job has none. */
function itemKindsOf(jobs: readonly unknown[]): Set<ItemKind> {
  const kinds = new Set<ItemKind>();
  for (const job of jobs) {
    const items = typeof job === 'object' && job !== null ? (job as { items?: unknown }).items : undefined;
    if (Array.isArray(items)) for (const item of items as ScanItem[]) kinds.add(itemKind(item));
  }
  return kinds;
}

/**
 * One line on stderr when the embedded scan, without --fleet, consults no block/allow list for
 * its links or no hash set for its images (the directory variable unset): an ALLOW is then only
 * what the models (and a link's unfurl) said. Names only what is missing and needed, so the
 * quick start's `scan image` with ABUSE_SCAN_HASHSETS_DIR prints none.
 */
function noteWhatIsNotConsulted(config: Pick<FleetConfig, 'listsDir' | 'hashSetsDir'>, jobs: readonly unknown[]): void {
  const kinds = itemKindsOf(jobs);
  const lists = kinds.has('link') && config.listsDir === undefined;
  const hashSets = kinds.has('image') && config.hashSetsDir === undefined;
  if (!lists && !hashSets) return;
  const [what, variables, files] =
    lists && hashSets
      ? ['block/allow lists or hash sets', 'ABUSE_SCAN_LISTS_DIR and ABUSE_SCAN_HASHSETS_DIR', 'directories of list and hash-set files']
      : lists
        ? ['block/allow lists', 'ABUSE_SCAN_LISTS_DIR', 'a directory of list files']
        : ['hash sets', 'ABUSE_SCAN_HASHSETS_DIR', 'a directory of hash-set files'];
  process.stderr.write(`abuse-scan: note: no ${what} consulted: set ${variables} to ${files}, or pass --fleet to match against the fleet's in Redis\n`);
}

function jobFor(item: ScanJobInput['items'][number], contentId: string, flags: ScanFlags): ScanJobInput {
  return { contentId, surface: flags.surface, ...(flags.tenant !== undefined && { tenant: flags.tenant }), items: [item] };
}

export function registerScanCommand(program: Command): void {
  const scan = program
    .command('scan')
    .description(
      "scan content in this process and print the verdict (exit 0 allow, 2 review, 3 block): without Redis (lists from ABUSE_SCAN_LISTS_DIR, hash sets from ABUSE_SCAN_HASHSETS_DIR), or with --fleet against the fleet's lists and hash sets in Redis",
    );
  const outputFlags = (command: Command) =>
    command
      .option('--json', 'print each verdict as one JSON line')
      .option(
        '--fleet',
        "match against the fleet's lists and hash sets in Redis (REDIS_URL, ABUSE_SCAN_PREFIX), read-only: nothing is written there (matches are not counted toward flood quarantine, though entries the fleet quarantined are honoured; the unfurl cache is read, not written); not with ABUSE_SCAN_LISTS_DIR or ABUSE_SCAN_HASHSETS_DIR",
      );
  // The job `url` and `image` build is the command line's: its surface and tenant too.
  const jobFlags = (command: Command) =>
    outputFlags(command)
      .option('--surface <surface>', 'surface to record in the verdict', 'cli')
      .option('--tenant <tenant>', 'tenant to record in the verdict');

  jobFlags(scan.command('url').argument('<url...>', 'URLs to scan, one verdict each').description('scan links')).action(
    (urls: string[], flags: ScanFlags) => {
      const config = loadCliConfig();
      checkJobFlags(flags, jobLimits(config));
      checkFleetFlag(flags, config);
      return scanJobs(urls.map((url) => jobFor(url, contentIdFor(url, config.maxIdLength), flags)), flags);
    },
  );
  jobFlags(scan.command('image').argument('<file...>', 'image files to scan, one verdict each').description('scan image files')).action(
    async (files: string[], flags: ScanFlags) => {
      const config = loadCliConfig();
      checkJobFlags(flags, jobLimits(config));
      checkFleetFlag(flags, config);
      await checkReadable(files);
      await scanJobs(files.map((file) => jobFor({ path: resolve(file) }, contentIdFor(file, config.maxIdLength), flags)), flags);
    },
  );
  // A job file is scanned as a worker would get it: its own contentId, surface, tenant and
  // metadata, which no option changes (an unknown option: `invalid option`).
  outputFlags(
    scan
      .command('job')
      .argument('<file>', 'a scan job as JSON (- for stdin)')
      .description('scan a whole job, as producers send it (its surface and tenant are the job\'s); with ABUSE_SCAN_IMAGE_ROOT set, { path } items must lie under it as workers require (else path_outside_root), without it they are read as given, relative to the current directory'),
  ).action(
    async (file: string, flags: OutputFlags) => {
      checkFleetFlag(flags, loadCliConfig());
      const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      const job = parseJson(text, file === '-' ? 'stdin' : file);
      const { imageRoot } = loadCliConfig();
      // With a root, the job is judged as a worker of that root judges it (validateJob, then the
      // pipeline's realpath checks): a path a worker refuses must not be read here either. A root
      // that cannot be read is refused as a worker refuses it, not reported as path_not_found.
      const problem = imageRoot === undefined ? undefined : await imageRootProblem(imageRoot);
      if (problem) throw new CliError('invalid configuration', problem);
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
