import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_DECODE_OPTIONS } from '../images/decode-options.js';
import { DEFAULT_JOB_LIMITS, type JobLimits } from '../jobs/limits.js';
import { DEFAULT_CONNECTIONS_PER_ADDRESS, DEFAULT_FETCHES_PER_HOST } from '../links/guard/host-limiter.js';
import { userAgentProblem } from '../links/user-agent.js';
import { DEFAULT_REDIS_HEALTH_TIMEOUT_MS } from '../ops/redis-liveness.js';
import { DEFAULT_MAX_FILE_BYTES } from '../pipeline/image-source.js';
import { DEFAULT_POLICY, policyConfigSchema } from '../policy/policy-config.js';
import { DEFAULT_PREFIX, SCAN_QUEUE_KINDS } from '../queues/names.js';
import { MAX_TIMEOUT_MS } from '../runtime/deadline.js';
import { DEFAULT_REDIS_URL, isClusterUrl, redisUrlProblem } from '../runtime/redis.js';

/**
 * A setting's number, read from a string as a whole number in decimal (trimmed): Number() took
 * ' ' for 0 and 0x50 for 80. A minus sign is read, so a negative is refused by its range.
 */
function wholeNumber<T extends z.ZodType<number>>(schema: T) {
  return z.preprocess((value) => (typeof value === 'string' ? (decimalInteger(value) ?? value) : value), schema);
}

/** `text` as a whole number written in decimal (blanks around it aside, a minus sign read), else undefined. */
export function decimalInteger(text: string): number | undefined {
  const trimmed = text.trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}
const integer = z.number({ error: (issue) => (typeof issue.input === 'string' ? `must be a whole number, not ${JSON.stringify(issue.input.slice(0, 40))}` : undefined) }).int();
const positiveNumber = integer.positive();
/** A delay or deadline in ms: Node's timers fire after 1 ms for anything longer than 2^31 - 1. */
const millisecondsNumber = positiveNumber.max(MAX_TIMEOUT_MS, 'must be at most 2147483647 ms (about 24.8 days, the longest timer Node keeps)');
const positiveInt = wholeNumber(positiveNumber);
const nonnegativeInt = wholeNumber(integer.nonnegative());
const milliseconds = wholeNumber(millisecondsNumber);

/** Whether a key prefix carries a Redis Cluster hash tag: `{`, at least one character, then `}`. */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
}

/**
 * The fleet's configuration: environment variables, validated, with every default documented.
 * CLI flags override the matching variable.
 */
export const configSchema = z.object({
  /**
   * REDIS_URL: where queues, lists and hash sets live. Default redis://127.0.0.1:6379. Several
   * comma-separated nodes, or `redis-cluster://host:port,...`, connect to a Redis Cluster; a comma
   * in a password keeps one node.
   */
  redisUrl: z
    .string()
    .default(DEFAULT_REDIS_URL)
    .superRefine((url, ctx) => {
      const problem = redisUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /**
   * ABUSE_SCAN_PREFIX: key prefix of every queue. The braces are a Redis Cluster hash tag, so
   * all of the fleet's keys land in one slot and BullMQ's multi-key scripts run on a cluster
   * (on a cluster URL a prefix without one is refused).
   */
  prefix: z.string().min(1).default(DEFAULT_PREFIX),
  /** ABUSE_SCAN_QUEUES: comma-separated scan queues a worker takes jobs from. Default links,images. */
  queues: z
    .string()
    .default(SCAN_QUEUE_KINDS.join(','))
    // Each queue once: a queue named twice would get two workers, twice the concurrency.
    .transform((value) => [...new Set(value.split(',').map((q) => q.trim()).filter(Boolean))])
    .pipe(z.array(z.enum(SCAN_QUEUE_KINDS)).min(1)),
  /** ABUSE_SCAN_CONCURRENCY: jobs in flight per queue per process. Default 16. */
  concurrency: positiveInt.default(16),
  /**
   * ABUSE_SCAN_IMAGE_ROOT: directory `{ path }` items must lie under (symlinks resolved); unset
   * refuses path items. The producer client reads it too (unless given `imageRoot`), and
   * `abuse-scan scan job` holds path items to it as workers do (unset, it reads them as given).
   */
  imageRoot: z.string().min(1).optional(),
  /**
   * ABUSE_SCAN_MAX_ITEMS, _MAX_URL_LENGTH, _MAX_INLINE_BYTES, _MAX_ID_LENGTH: the job limits workers
   * enforce (jobs over them get an `invalid_job` or `payload_too_large` verdict). Producer clients
   * given other `limits` must stay within these. Defaults: 100 items, 8192 characters per URL,
   * 5242880 bytes (5 MiB, decoded) per inline image, 256 characters per id (contentId, surface, tenant).
   */
  maxItems: positiveInt.default(DEFAULT_JOB_LIMITS.maxItems),
  maxUrlLength: positiveInt.default(DEFAULT_JOB_LIMITS.maxUrlLength),
  maxInlineBytes: positiveInt.default(DEFAULT_JOB_LIMITS.maxInlineBytes),
  maxIdLength: positiveInt.default(DEFAULT_JOB_LIMITS.maxIdLength),
  /**
   * ABUSE_SCAN_MAX_METADATA_KEYS, _MAX_METADATA_KEY_LENGTH, _MAX_METADATA_BYTES: bounds of a job's
   * `metadata`, which every verdict echoes (jobs over them get an `invalid_job` verdict). Defaults:
   * 64 keys, 128 characters per key, 16384 bytes (UTF-8, keys and values together; a value is at
   * most 1024 characters).
   */
  maxMetadataKeys: positiveInt.default(DEFAULT_JOB_LIMITS.maxMetadataKeys),
  maxMetadataKeyLength: positiveInt.default(DEFAULT_JOB_LIMITS.maxMetadataKeyLength),
  maxMetadataBytes: positiveInt.default(DEFAULT_JOB_LIMITS.maxMetadataBytes),
  /**
   * ABUSE_SCAN_MAX_JOB_BYTES: UTF-8 bytes of a whole job serialized as JSON, as stored in Redis
   * (jobs over it get a `payload_too_large` verdict). Default 33554432 (32 MiB: four inline images
   * at the 5 MiB cap, which base64 makes about 7 MB each).
   */
  maxJobBytes: positiveInt.default(DEFAULT_JOB_LIMITS.maxJobBytes),
  /**
   * ABUSE_SCAN_MAX_IMAGE_BYTES: bytes a worker reads at most of a `{ path }` file or a `{ url }`
   * body (decoded); a larger image gets `payload_too_large`. Default 20971520 (20 MiB). At most
   * the decoder's input cap, 52428800 (50 MiB): past it every image would be refused anyway, and
   * `hashset add` and `hash` read images up to it, so at 50 MiB every image they take can match.
   */
  maxImageBytes: wholeNumber(positiveNumber
    .max(DEFAULT_DECODE_OPTIONS.maxInputBytes, `must be at most ${DEFAULT_DECODE_OPTIONS.maxInputBytes} (50 MiB, the largest image the decoder takes)`))
    .default(DEFAULT_MAX_FILE_BYTES),
  /**
   * ABUSE_SCAN_LOCK_MS: job lock; a crashed worker's jobs are recovered after this. Default 30000.
   * At least 1000: a lock of a few ms (30, meant as seconds) expires before BullMQ renews it, and
   * every job ends `job_stalled`.
   */
  lockDurationMs: wholeNumber(
    millisecondsNumber.min(1000, 'must be at least 1000 ms (it is in milliseconds: 30 s is 30000); a shorter lock expires before it is renewed and every job stalls'),
  ).default(30_000),
  /** ABUSE_SCAN_STALLED_INTERVAL_MS: how often workers look for stalled jobs. Default 30000. */
  stalledIntervalMs: milliseconds.default(30_000),
  /** ABUSE_SCAN_MAX_STALLED: recoveries before a job gets a `job_stalled` verdict. Default 2. */
  maxStalledCount: nonnegativeInt.default(2),
  /**
   * ABUSE_SCAN_VERDICT_RETENTION_S: how long each job's verdict is kept for lookup by jobId; also
   * the window in which a job that runs again adds no second verdict. Default 86400 (a day).
   */
  verdictRetentionSeconds: positiveInt.default(86_400),
  /**
   * ABUSE_SCAN_VERDICT_STREAM_MAXLEN: approximate number of entries the results stream keeps;
   * a consumer group further behind than this loses the oldest. Default 1000000.
   */
  verdictStreamMaxLength: positiveInt.default(1_000_000),
  /**
   * ABUSE_SCAN_UNFURL: follow http(s) links through redirects and meta refresh (`on`, `true`, `1`)
   * or match them as given (`off`, `false`, `0`). Default on.
   */
  unfurl: z
    .enum(['on', 'off', 'true', 'false', '1', '0'])
    .default('on')
    .transform((value) => ['on', 'true', '1'].includes(value)),
  /** ABUSE_SCAN_UNFURL_MAX_REDIRECTS: redirects followed per link; one more is `too_many_redirects`. Default 10. */
  unfurlMaxRedirects: nonnegativeInt.default(10),
  /** ABUSE_SCAN_UNFURL_HOP_TIMEOUT_MS: deadline of one hop (connect, headers, body scan). Default 5000. */
  unfurlHopTimeoutMs: milliseconds.default(5000),
  /** ABUSE_SCAN_UNFURL_TOTAL_TIMEOUT_MS: deadline of a whole redirect chain. Default 20000. */
  unfurlTotalTimeoutMs: milliseconds.default(20_000),
  /**
   * ABUSE_SCAN_UNFURL_USER_AGENT: the User-Agent header of link unfurls: printable ASCII (space to
   * `~`), no space at either end, at most 512 characters. Unset: a current desktop Chrome's, with
   * Chrome's client hints (Sec-CH-UA), which are left out with another.
   */
  unfurlUserAgent: z
    .string()
    .superRefine((value, ctx) => {
      const problem = userAgentProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** ABUSE_SCAN_IMAGE_FETCH_TIMEOUT_MS: deadline of an image item's fetch by URL, redirects and body included. Default 15000. */
  imageFetchTimeoutMs: milliseconds.default(15_000),
  /**
   * ABUSE_SCAN_JOB_TIMEOUT_MS: deadline of one job's scan (all its items, which run in waves);
   * items unfinished then get the partial error `scan_deadline`. Default 45000: above one item's
   * own deadlines (unfurl 20 s, image fetch 15 s), so a lone slow item keeps its own error, and
   * 15 s inside the default 60 s shutdown timeout, so a drain finishes a job started just before
   * it (matching, decodes and the verdict's write take the rest). The lock is renewed while a job
   * runs, so it does not bound this.
   */
  jobTimeoutMs: milliseconds.default(45_000),
  /**
   * ABUSE_SCAN_UNFURL_CACHE_TTL_S: seconds a finished unfurl is cached in Redis per canonical input
   * URL, so a link sent a million times is fetched once per TTL; 0 disables. Default 300.
   */
  unfurlCacheTtlSeconds: nonnegativeInt.default(300),
  /**
   * ABUSE_SCAN_FETCHES_PER_HOST: requests in flight at once to one host per worker process, link
   * unfurls and image URLs together, across all jobs; more wait their turn (first come, first
   * served) within their own deadline, and one still waiting when it passes fails with
   * `fetch_timeout` (transient). A host is counted by registrable domain (`a.example.com` and
   * `b.example.com` share one budget; private suffixes such as github.io count, so each
   * `*.github.io` site has its own), an IPv4 address by itself, an IPv6 address by its /64.
   * 0 or unset: 8.
   */
  fetchesPerHost: nonnegativeInt
    .default(0)
    .transform((value) => (value === 0 ? DEFAULT_FETCHES_PER_HOST : value)),
  /**
   * ABUSE_SCAN_CONNECTIONS_PER_ADDRESS: connections open at once to one address (an IPv4
   * address, an IPv6 /64) per worker process, link unfurls and image URLs together, whatever
   * names resolved to it, so that many domains pointed at one server cannot multiply the per-host
   * budget against it; more wait (within their deadline) before sending a packet. 0 or unset: 32.
   */
  connectionsPerAddress: nonnegativeInt
    .default(0)
    .transform((value) => (value === 0 ? DEFAULT_CONNECTIONS_PER_ADDRESS : value)),
  /**
   * ABUSE_SCAN_LISTS_DIR: for the embedded scan without Redis, a directory of `<name>.txt` /
   * `<name>.csv` lists (blocklists; `allow-*` files are allowlists). Unset: no file lists.
   */
  listsDir: z.string().min(1).optional(),
  /** ABUSE_SCAN_POLICY_FILE: JSON file with the decision policy, merged over the defaults; unset uses the defaults. */
  policy: policyConfigSchema.default(DEFAULT_POLICY),
  /** ABUSE_SCAN_HASHSETS_DIR: without Redis (embedded scan), `<name>.<algorithm>.csv` hash sets to match; unset: none. */
  hashSetsDir: z.string().min(1).optional(),
  /** ABUSE_SCAN_MODELS: run the classifiers of the model manifest (`on`) or none (`off`). Default on. */
  models: z
    .enum(['on', 'off', 'true', 'false', '1', '0'])
    .default('on')
    .transform((value) => ['on', 'true', '1'].includes(value)),
  /** ABUSE_SCAN_MODELS_MANIFEST: the model registry. Default models/manifest.json of the package. */
  modelsManifest: z.string().min(1).optional(),
  /** ABUSE_SCAN_MODEL_THREADS: inference threads per image model. Default max(1, cores / 2). */
  modelThreads: positiveInt.optional(),
  /** ABUSE_SCAN_MODEL_INTRA_OP_THREADS: onnxruntime threads per session. Default max(1, cores / threads). */
  modelIntraOpThreads: positiveInt.optional(),
  /** ABUSE_SCAN_MODEL_MAX_BATCH: most images stacked into one inference run. Default 8. */
  modelMaxBatch: positiveInt.optional(),
  /** ABUSE_SCAN_MODEL_SIGNALS: `fired` (a signal when a score reaches review) or `all` (every score). Default fired. */
  modelSignals: z.enum(['fired', 'all']).default('fired'),
  /**
   * ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: how long a worker drains its in-flight jobs after SIGTERM or
   * SIGINT; past it, it gives them up (they run again once their locks expire) and exits 75.
   * Keep it below the orchestrator's kill grace (`docker stop -t`). Default 60000.
   */
  shutdownTimeoutMs: milliseconds.default(60_000),
  /**
   * ABUSE_SCAN_METRICS_PORT: port of the /metrics, /livez (liveness) and /healthz (readiness) endpoints (on all interfaces); unset
   * disables it, 0 takes a free port (logged). The container image sets 9464.
   */
  metricsPort: wholeNumber(integer.min(0).max(65535)).optional(),
  /**
   * ABUSE_SCAN_REDIS_HEALTH_TIMEOUT_MS: how long Redis may leave a worker's liveness probes
   * unanswered (or answer them only as a replica) before /healthz answers 503; the worker probes
   * every quarter of it (at most every 5 s) and reconnects a connection that misses a probe's
   * deadline. At least 1000. Default 20000.
   */
  redisHealthTimeoutMs: wholeNumber(millisecondsNumber.min(1000, 'must be at least 1000 ms')).default(DEFAULT_REDIS_HEALTH_TIMEOUT_MS),
  /** LOG_LEVEL: pino level. Default info (`abuse-scan scan` logs at warn unless it is set). */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((config, ctx) => {
  // Without a hash tag BullMQ's scripts fail with CROSSSLOT on every call, in a tight loop.
  if (isClusterUrl(config.redisUrl) && !hasHashTag(config.prefix)) {
    ctx.addIssue({
      code: 'custom',
      path: ['prefix'],
      message: `${JSON.stringify(config.prefix)} has no hash tag: on a Redis Cluster ABUSE_SCAN_PREFIX needs one, such as {${config.prefix.replace(/[{}]/g, '')}}, so that the fleet's keys share one slot`,
    });
  }
});

export type FleetConfig = z.output<typeof configSchema>;
export type FleetConfigInput = z.input<typeof configSchema>;

const ENV_NAMES: Record<string, keyof FleetConfigInput> = {
  REDIS_URL: 'redisUrl',
  ABUSE_SCAN_PREFIX: 'prefix',
  ABUSE_SCAN_QUEUES: 'queues',
  ABUSE_SCAN_CONCURRENCY: 'concurrency',
  ABUSE_SCAN_IMAGE_ROOT: 'imageRoot',
  ABUSE_SCAN_MAX_ITEMS: 'maxItems',
  ABUSE_SCAN_MAX_URL_LENGTH: 'maxUrlLength',
  ABUSE_SCAN_MAX_INLINE_BYTES: 'maxInlineBytes',
  ABUSE_SCAN_MAX_ID_LENGTH: 'maxIdLength',
  ABUSE_SCAN_MAX_METADATA_KEYS: 'maxMetadataKeys',
  ABUSE_SCAN_MAX_METADATA_KEY_LENGTH: 'maxMetadataKeyLength',
  ABUSE_SCAN_MAX_METADATA_BYTES: 'maxMetadataBytes',
  ABUSE_SCAN_MAX_JOB_BYTES: 'maxJobBytes',
  ABUSE_SCAN_MAX_IMAGE_BYTES: 'maxImageBytes',
  ABUSE_SCAN_LOCK_MS: 'lockDurationMs',
  ABUSE_SCAN_STALLED_INTERVAL_MS: 'stalledIntervalMs',
  ABUSE_SCAN_MAX_STALLED: 'maxStalledCount',
  ABUSE_SCAN_VERDICT_RETENTION_S: 'verdictRetentionSeconds',
  ABUSE_SCAN_VERDICT_STREAM_MAXLEN: 'verdictStreamMaxLength',
  ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  ABUSE_SCAN_METRICS_PORT: 'metricsPort',
  ABUSE_SCAN_REDIS_HEALTH_TIMEOUT_MS: 'redisHealthTimeoutMs',
  ABUSE_SCAN_HASHSETS_DIR: 'hashSetsDir',
  ABUSE_SCAN_UNFURL: 'unfurl',
  ABUSE_SCAN_UNFURL_MAX_REDIRECTS: 'unfurlMaxRedirects',
  ABUSE_SCAN_UNFURL_HOP_TIMEOUT_MS: 'unfurlHopTimeoutMs',
  ABUSE_SCAN_UNFURL_TOTAL_TIMEOUT_MS: 'unfurlTotalTimeoutMs',
  ABUSE_SCAN_UNFURL_USER_AGENT: 'unfurlUserAgent',
  ABUSE_SCAN_IMAGE_FETCH_TIMEOUT_MS: 'imageFetchTimeoutMs',
  ABUSE_SCAN_JOB_TIMEOUT_MS: 'jobTimeoutMs',
  ABUSE_SCAN_UNFURL_CACHE_TTL_S: 'unfurlCacheTtlSeconds',
  ABUSE_SCAN_FETCHES_PER_HOST: 'fetchesPerHost',
  ABUSE_SCAN_CONNECTIONS_PER_ADDRESS: 'connectionsPerAddress',
  ABUSE_SCAN_LISTS_DIR: 'listsDir',
  ABUSE_SCAN_MODELS: 'models',
  ABUSE_SCAN_MODELS_MANIFEST: 'modelsManifest',
  ABUSE_SCAN_MODEL_THREADS: 'modelThreads',
  ABUSE_SCAN_MODEL_INTRA_OP_THREADS: 'modelIntraOpThreads',
  ABUSE_SCAN_MODEL_MAX_BATCH: 'modelMaxBatch',
  ABUSE_SCAN_MODEL_SIGNALS: 'modelSignals',
  LOG_LEVEL: 'logLevel',
};

/** The variable each setting is read from, for messages (the policy is read from a file the variable names). */
const ENV_NAME_OF: Partial<Record<keyof FleetConfigInput, string>> = {
  ...Object.fromEntries(Object.entries(ENV_NAMES).map(([name, key]) => [key, name])),
  policy: 'ABUSE_SCAN_POLICY_FILE',
};

/**
 * The command-line flags that reach loadConfig as overrides (`abuse-scan worker`'s, see
 * src/cli/worker-command.ts), for messages: a bad value set with one is reported by that flag.
 */
export const OVERRIDE_FLAGS: Partial<Record<keyof FleetConfigInput, string>> = {
  queues: '--queues',
  concurrency: '--concurrency',
  metricsPort: '--metrics-port',
};

/**
 * What an issue is about, named as the operator set it: the flag when the value came from one,
 * else the environment variable (an override without a flag, from code, by its key); then, inside
 * the setting, the queue named or the field of the policy file.
 */
function describeIssue(issue: z.core.$ZodIssue, overridden: ReadonlySet<string>): string {
  const [key, ...inner] = issue.path.map(String);
  if (key === undefined) return `  (config): ${issue.message}`;
  const setting = key as keyof FleetConfigInput;
  const source = overridden.has(key) ? (OVERRIDE_FLAGS[setting] ?? key) : (ENV_NAME_OF[setting] ?? key);
  // A queue of the list by its name: the list was deduplicated, so its index is not the operator's.
  const within = setting === 'queues' && typeof issue.input === 'string' ? ` queue ${JSON.stringify(issue.input.slice(0, 80))}` : inner.length ? ` ${inner.join('.')}` : '';
  return `  ${source}${within}: ${issue.message}`;
}

/**
 * Reads the configuration from the environment, then applies `overrides` (CLI flags). A bad value
 * fails with `invalid configuration` and one line per problem, naming the variable or flag set.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<FleetConfigInput> = {}): FleetConfig {
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    // Blank is unset, as empty is: ' ' read as a number was 0.
    if (value !== undefined && value.trim() !== '') fromEnv[key] = value;
  }
  // Blank is unset here too: ' ' was read as a file name.
  const policyFile = env.ABUSE_SCAN_POLICY_FILE;
  if (policyFile !== undefined && policyFile.trim() !== '') {
    fromEnv.policy = JSON.parse(readNamedFile(policyFile)) as unknown;
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  // The input is kept on issues to name a bad queue; only that is shown (a URL may hold a password).
  const result = configSchema.safeParse({ ...fromEnv, ...defined }, { reportInput: true });
  if (!result.success) {
    const overridden = new Set(Object.keys(defined));
    const lines = result.error.issues.map((issue) => describeIssue(issue, overridden));
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/**
 * A file's text. A read that fails after the open (a directory: EISDIR, what a ConfigMap mounted
 * without subPath leaves at the path) carries no path; it gets this one, so the error names the
 * file and its setting as a missing file's does.
 */
function readNamedFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && (error as NodeJS.ErrnoException).path === undefined) (error as NodeJS.ErrnoException).path = path;
    throw error;
  }
}

/** The job limits a worker validates with (the shared defaults object when unchanged: its schema is prebuilt). */
export function jobLimits(config: Pick<FleetConfig, keyof JobLimits>): Required<JobLimits> {
  const limits: Required<JobLimits> = {
    maxItems: config.maxItems,
    maxUrlLength: config.maxUrlLength,
    maxInlineBytes: config.maxInlineBytes,
    maxIdLength: config.maxIdLength,
    maxMetadataKeys: config.maxMetadataKeys,
    maxMetadataKeyLength: config.maxMetadataKeyLength,
    maxMetadataBytes: config.maxMetadataBytes,
    maxJobBytes: config.maxJobBytes,
  };
  const unchanged = (Object.keys(limits) as Array<keyof JobLimits>).every((key) => limits[key] === DEFAULT_JOB_LIMITS[key]);
  return unchanged ? DEFAULT_JOB_LIMITS : limits;
}
