import { performance } from 'node:perf_hooks';
import { ScanError, toScanError, type ErrorInfo } from '../errors.js';
import { describeItem, itemKind, MAX_METADATA_VALUE_LENGTH, type ItemKind, type ScanJob, type ScanItem } from '../jobs/job-schema.js';
import { DEFAULT_JOB_LIMITS, resolveJobLimits, type JobLimits } from '../jobs/limits.js';
import { validateJob, type JobValidationOptions } from '../jobs/validate-job.js';
import { VERDICT_SCHEMA_VERSION, type ItemResult, type Signal, type Verdict, type VerdictVersions } from '../jobs/verdict-schema.js';
import { decide } from '../policy/decide.js';
import type { PolicyConfig } from '../policy/policy-config.js';
import type { SignalRegistry } from '../signals/registry.js';
import type { MatchContext, SignalType } from '../signals/signal-type.js';
import { SCANNER_VERSION } from '../version.js';
import type { ItemPreparer, PreparedItem } from './item-preparer.js';
import { DEADLINE_PASSED, GRACE_OVER, JobDeadline, scanDeadlineError } from './job-deadline.js';
import { mapConcurrent } from './map-concurrent.js';

export interface ScanPipelineOptions {
  preparers: ItemPreparer[];
  registry: SignalRegistry;
  policy: PolicyConfig;
  /** Items of one kind processed at once within a job. Default: links 8, images 2. */
  itemConcurrency?: Partial<Record<ItemKind, number>>;
  /** Released by `close()`: HTTP agents, model sessions, store subscriptions. */
  resources?: Array<{ close(): Promise<void> | void }>;
  /**
   * Deadline of one job's scan in ms (ABUSE_SCAN_JOB_TIMEOUT_MS): items unfinished then get the
   * partial error `scan_deadline`, finished ones keep their results. Links unfinished or never
   * started are still matched on their own URL (no network), within `deadlineGraceMs`. Unset: none.
   */
  jobTimeoutMs?: number;
  /** How long matching past the job's deadline is waited for. Default DEFAULT_DEADLINE_GRACE_MS. */
  deadlineGraceMs?: number;
}

/**
 * Matching past the job's deadline (no network: a list lookup takes microseconds, a URL model
 * milliseconds) is waited for this long at most, so a signal type that hangs cannot hold the
 * verdict: the verdict comes at most this long after the deadline.
 */
export const DEFAULT_DEADLINE_GRACE_MS = 500;

/**
 * A preparer that can also prepare an item from what needs no network (LinkPreparer: a link's own
 * URL), for items the job's deadline cut or never started.
 */
export interface OfflinePreparer {
  prepareOffline(item: ScanItem, why: string): PreparedItem<unknown>;
}

function preparesOffline(preparer: ItemPreparer): preparer is ItemPreparer & OfflinePreparer {
  return typeof (preparer as Partial<OfflinePreparer>).prepareOffline === 'function';
}

/** What a link the deadline cut says in `details.notFetched`. */
const NOT_UNFURLED = "the job's scan deadline passed before it was unfurled: judged on its own URL";

/** Where a run of the pipeline stands: which job, which attempt, whether retries remain. */
export interface ScanRunInfo {
  jobId: string;
  attempt: number;
  /** On the final attempt a transient failure is recorded in the verdict instead of thrown. */
  finalAttempt: boolean;
  /** Milliseconds the job waited in the queue, when it came through one. */
  queueWaitMs?: number;
  signal?: AbortSignal;
}

const STAGE_NAMES: Record<ItemKind, string> = { link: 'links', image: 'images' };
/** Why a scan aborted its other items: one of them failed the job. Shared: no stack per abort. */
const SIBLING_FAILED = new ScanError('internal_error', 'another item of this job failed');
/** What a scan stopped by its own failure reports for a stage it halted (never surfaced: the failure is). */
const SCAN_STOPPED = new ScanError('internal_error', 'scan stopped');
/** Shared by runs that were given no signal: creating an AbortController per job is not free. */
const NEVER_ABORTED = new AbortController().signal;
/**
 * Items of one job scanned at once. An image item's load waits on the network (an image URL) and
 * its decode on the process-wide decode slots (decode-limiter.ts), so more than 2 at a time cuts a
 * job of slow image URLs (eight 9 s fetches took 36 s), while the bytes held stay bounded: at most
 * this many items of ABUSE_SCAN_MAX_IMAGE_BYTES each per job.
 */
const DEFAULT_ITEM_CONCURRENCY: Record<ItemKind, number> = { link: 8, image: 4 };

/** A signal type that threw on an item, and its error as the verdict records it. */
interface SignalTypeFailure {
  signalType: string;
  error: ErrorInfo;
}

interface ItemOutcome {
  result: ItemResult;
  signals: Signal[];
  errors: ErrorInfo[];
}

/** How far an item under way has got, for what the deadline leaves of it. */
interface ItemProgress {
  prepared?: PreparedItem<unknown>;
  match?: ItemMatch;
}

/**
 * The one scan pipeline: the queue worker and the embedded `abuse-scan scan` run this same code.
 * Items are prepared once per kind, every signal type of the kind matches the prepared subject,
 * and the policy turns the signals and errors into one verdict.
 */
export class ScanPipeline {
  private readonly preparers = new Map<ItemKind, ItemPreparer>();
  private readonly concurrency: Record<ItemKind, number>;
  /** What items unfinished at the job's deadline get, and its abort reason. */
  private readonly deadlineError: ScanError | undefined;

  constructor(private readonly options: ScanPipelineOptions) {
    for (const preparer of options.preparers) this.preparers.set(preparer.kind, preparer);
    this.concurrency = { ...DEFAULT_ITEM_CONCURRENCY, ...options.itemConcurrency };
    this.deadlineError = options.jobTimeoutMs === undefined ? undefined : scanDeadlineError(options.jobTimeoutMs);
  }

  async scan(job: ScanJob, run: ScanRunInfo): Promise<Verdict> {
    const started = performance.now();
    const timings: Record<string, number> = {};
    const context: MatchContext = { jobId: run.jobId, contentId: job.contentId, surface: job.surface, ...(job.tenant !== undefined && { tenant: job.tenant }) };
    const lone = job.items.length === 1 ? job.items[0] : undefined;
    let kinds: Iterable<ItemKind>;
    let outcomes: ItemOutcome[];
    const { jobTimeoutMs } = this.options;
    const deadline = jobTimeoutMs === undefined ? undefined : new JobDeadline(run.signal, this.deadlineError!, jobTimeoutMs, this.options.deadlineGraceMs ?? DEFAULT_DEADLINE_GRACE_MS);
    try {
      const signal = deadline?.signal ?? run.signal ?? NEVER_ABORTED;
      if (lone !== undefined) {
        // The common job, one link or one image: no stages to coordinate.
        const kind = itemKind(lone);
        const stageStart = performance.now();
        outcomes = [await this.scanItem(kind, lone, 0, run, signal, context, deadline)];
        timings[STAGE_NAMES[kind]] = round(performance.now() - stageStart);
        kinds = [kind];
      } else {
        const byKind = new Map<ItemKind, Array<{ item: ScanItem; index: number }>>();
        job.items.forEach((item, index) => {
          const kind = itemKind(item);
          const entries = byKind.get(kind);
          if (entries) entries.push({ item, index });
          else byKind.set(kind, [{ item, index }]);
        });
        outcomes = await this.scanItems(byKind, run, signal, context, timings, deadline);
        kinds = byKind.keys();
      }
    } finally {
      deadline?.dispose();
    }
    // When the deadline cut the scan short, the stages' times stop there.
    if (deadline?.passed) timings.deadline = jobTimeoutMs!;

    const signals = outcomes.flatMap((o) => o.signals);
    const errors = outcomes.flatMap((o) => o.errors);
    const { decision, reasons } = decide(signals, errors, this.options.policy);
    timings.total = round(performance.now() - started);
    if (run.queueWaitMs !== undefined) timings.queueWait = round(run.queueWaitMs);

    return {
      schemaVersion: VERDICT_SCHEMA_VERSION,
      jobId: run.jobId,
      contentId: job.contentId,
      surface: job.surface,
      ...(job.tenant !== undefined && { tenant: job.tenant }),
      decision,
      reasons,
      signals,
      items: outcomes.map((o) => o.result),
      errors,
      timings,
      versions: this.versions(kinds, context),
      ...(job.metadata !== undefined && { metadata: job.metadata }),
      attempt: run.attempt,
      createdAt: new Date().toISOString(),
    };
  }

  /**
   * Several items, by kind, each kind's stage at its own concurrency. `jobSignal` is the caller's,
   * or the job deadline's (which carries the caller's abort too).
   */
  private async scanItems(
    byKind: Map<ItemKind, Array<{ item: ScanItem; index: number }>>,
    run: ScanRunInfo,
    jobSignal: AbortSignal,
    context: MatchContext,
    timings: Record<string, number>,
    deadline: JobDeadline | undefined,
  ): Promise<ItemOutcome[]> {
    const caller = run.signal;
    // One item that fails the job (a transient error, retries left) aborts the others, which stop
    // early instead of running on.
    const siblings = new AbortController();
    const forwardAbort = () => siblings.abort(jobSignal.reason);
    jobSignal.addEventListener('abort', forwardAbort, { once: true });
    const signal = siblings.signal;
    const outcomes: ItemOutcome[] = [];
    // After a failure or an abort no stage starts further items, and the scan settles only once
    // the items under way are done: nothing it started outlives it (but past the job's deadline, a
    // decode or match, which take no signal: see scanItem).
    let firstFailure: unknown;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      firstFailure = error;
      siblings.abort(SIBLING_FAILED);
    };
    const stop = {
      // Not on the deadline: the items left then start only to be given its error at once.
      shouldStop: () => failed || caller?.aborted === true,
      stopped: () => (caller?.aborted ? toScanError(caller.reason) : SCAN_STOPPED),
      failed: fail,
    };
    try {
      const stages = await Promise.allSettled(
        [...byKind].map(async ([kind, entries]) => {
          const stageStart = performance.now();
          const scanEntry = ({ item, index }: { item: ScanItem; index: number }) => this.scanItem(kind, item, index, run, signal, context, deadline);
          try {
            outcomes.push(...(await mapConcurrent(entries, this.concurrency[kind], scanEntry, stop)));
          } catch (error) {
            fail(error); // an abort by the caller stops the stage without a failed item
            throw error;
          }
          timings[STAGE_NAMES[kind]] = round(performance.now() - stageStart);
        }),
      );
      if (stages.some((stage) => stage.status === 'rejected')) throw firstFailure;
    } finally {
      jobSignal.removeEventListener('abort', forwardAbort);
    }
    return outcomes.sort((a, b) => a.result.index - b.result.index);
  }

  /** The signal types this pipeline runs (for inspection and the conformance suite). */
  signalTypes(): SignalType[] {
    return this.options.registry.all();
  }

  async close(): Promise<void> {
    for (const resource of this.options.resources ?? []) await resource.close();
  }

  /**
   * Versions of what the signal types consult, merged: those reading the given item kinds (what a
   * job's verdict names as consulted), or every registered type (for a job never scanned); with
   * the job's match context, the versions that job was matched against.
   */
  versions(kinds?: Iterable<ItemKind>, context?: MatchContext): VerdictVersions {
    const { registry } = this.options;
    const types = kinds ? [...kinds].flatMap((kind) => registry.forKind(kind)) : registry.all();
    const versions: VerdictVersions = { scanner: SCANNER_VERSION, lists: {}, hashSets: {}, models: {} };
    for (const type of types) {
      const v = type.versions(context);
      Object.assign(versions.lists, v.lists);
      Object.assign(versions.hashSets, v.hashSets);
      Object.assign(versions.models, v.models);
    }
    return versions;
  }

  /**
   * One item, within the job's deadline. Past it, an item still matching has its signal types
   * left started at once and gets the grace; a link still preparing (its unfurl, cut) or never
   * started is matched on its own URL within the grace (see lateItem); any other item gets the
   * deadline's error. A decode or a match (which take no signal) is left to finish unawaited.
   */
  private async scanItem(
    kind: ItemKind,
    item: ScanItem,
    index: number,
    run: ScanRunInfo,
    signal: AbortSignal,
    context: MatchContext,
    deadline?: JobDeadline,
  ): Promise<ItemOutcome> {
    const input = describeItem(item);
    if (deadline === undefined) return this.scanItemNow(kind, item, index, input, run, signal, context);
    if (deadline.passed) return this.lateItem(kind, item, index, input, run, context, deadline);
    const progress: ItemProgress = {};
    const now = this.scanItemNow(kind, item, index, input, run, signal, context, deadline, progress);
    const first = await Promise.race([now, deadline.expired]);
    if (first !== DEADLINE_PASSED) return first;
    const { prepared, match } = progress;
    if (prepared === undefined || match === undefined) return this.lateItem(kind, item, index, input, run, context, deadline);
    match.hurry();
    // All types answering within the grace make it a finished item (scanItemNow's outcome).
    const settled = await Promise.race([now, deadline.graceOver]);
    return settled === GRACE_OVER ? cutOutcome(kind, index, input, prepared, match, deadline) : settled;
  }

  /**
   * An item past the deadline (cut while preparing, or never started): prepared from what needs no
   * network when its preparer can (a link's own URL), and matched within the grace, with the
   * deadline's error; else just the error (an image: its load or decode was cut).
   */
  private async lateItem(kind: ItemKind, item: ScanItem, index: number, input: string, run: ScanRunInfo, context: MatchContext, deadline: JobDeadline): Promise<ItemOutcome> {
    const preparer = this.preparers.get(kind);
    if (preparer === undefined || !preparesOffline(preparer)) return unfinishedItem(kind, index, input, deadline);
    let prepared: PreparedItem<unknown>;
    try {
      prepared = preparer.prepareOffline(item, NOT_UNFURLED);
    } catch (thrown) {
      return failedItem(kind, index, input, toScanError(thrown)); // the item's own error (invalid_url), deadline or not
    }
    const match = new ItemMatch(this.options.registry.forKind(kind), prepared.subject, index, run.finalAttempt, context, () => true);
    match.hurry();
    await Promise.race([match.settled(), deadline.graceOver]);
    return cutOutcome(kind, index, input, prepared, match, deadline);
  }

  private async scanItemNow(
    kind: ItemKind,
    item: ScanItem,
    index: number,
    input: string,
    run: ScanRunInfo,
    signal: AbortSignal,
    context: MatchContext,
    deadline?: JobDeadline,
    progress: ItemProgress = {},
  ): Promise<ItemOutcome> {
    try {
      const preparer = this.preparers.get(kind);
      if (!preparer) throw new ScanError('unsupported_item', `no preparer for ${kind} items`);
      const prepared = await preparer.prepare(item, index, signal);
      // Prepared only past the deadline: scanItem has judged the item without this (lateItem).
      if (deadline?.passed) return unfinishedItem(kind, index, input, deadline);
      const match = new ItemMatch(this.options.registry.forKind(kind), prepared.subject, index, run.finalAttempt, context, () => deadline?.passed === true);
      Object.assign(progress, { prepared, match });
      await match.run();
      return itemOutcome(kind, index, input, prepared, match);
    } catch (thrown) {
      // Past the deadline a failure is its abort's (a fetch cut short), not the item's own.
      if (deadline?.passed) return unfinishedItem(kind, index, input, deadline);
      const error = toScanError(thrown);
      if (!error.permanent && !run.finalAttempt) throw error;
      return failedItem(kind, index, input, error);
    }
  }
}

/** What one signal type gave an item: its signals, or its failure as the verdict records it. */
type TypeAnswer = { signals: Signal[] } | { failure: SignalTypeFailure };

/**
 * Every signal type of the kind on one prepared item. A type that throws does not take the
 * others' signals with it: its error becomes a partial error naming the type
 * (`detail.signalType`), which the policy weighs next to what the others found (a known-bad hash
 * still blocks when the image model fails). A transient failure retries the job while attempts
 * remain, but not once `late()` (past the job's deadline, the verdict comes now).
 * The types run one after another; `hurry()` starts those left at once, so that past the deadline
 * one that hangs (a model) does not keep the others (the blocklist, registered after the models)
 * from answering within the grace.
 */
class ItemMatch {
  private readonly answers: Array<TypeAnswer | undefined>;
  private next = 0;
  private readonly running: Array<Promise<void>> = [];

  constructor(
    private readonly types: SignalType[],
    private readonly subject: unknown,
    private readonly index: number,
    private readonly finalAttempt: boolean,
    private readonly context: MatchContext,
    private readonly late: () => boolean,
  ) {
    this.answers = new Array<TypeAnswer | undefined>(types.length);
  }

  /** Runs the types in order (every one of them, once `late()`); settles when all answered. */
  async run(): Promise<void> {
    while (this.next < this.types.length && !this.late()) await this.start(this.next++);
    this.hurry();
    await this.settled();
  }

  /** Starts every type not started yet. */
  hurry(): void {
    while (this.next < this.types.length) void this.start(this.next++);
  }

  /** Settles once every type started has answered. */
  settled(): Promise<unknown> {
    return Promise.all(this.running);
  }

  /** What the types that answered found, in registry order; `unanswered`: the types that have not. */
  outcome(): { signals: Signal[]; failures: SignalTypeFailure[]; unanswered: string[] } {
    const signals: Signal[] = [];
    const failures: SignalTypeFailure[] = [];
    const unanswered: string[] = [];
    this.types.forEach((type, i) => {
      const answer = this.answers[i];
      if (answer === undefined) unanswered.push(type.name);
      else if ('signals' in answer) signals.push(...answer.signals);
      else failures.push(answer.failure);
    });
    return { signals, failures, unanswered };
  }

  /** Starts type `i`; rejects with its transient failure while that retries the job. */
  private start(i: number): Promise<void> {
    const type = this.types[i]!;
    let answer: Promise<Signal[]> | Signal[];
    try {
      answer = type.match(this.subject, this.index, this.context);
    } catch (thrown) {
      return this.failed(i, thrown);
    }
    if (Array.isArray(answer)) {
      this.answers[i] = { signals: answer };
      return Promise.resolve();
    }
    const running = Promise.resolve(answer).then(
      (signals) => void (this.answers[i] = { signals }),
      (thrown: unknown) => this.failed(i, thrown),
    );
    this.running.push(running);
    return running;
  }

  private failed(i: number, thrown: unknown): Promise<void> {
    const error = toScanError(thrown);
    if (!error.permanent && !this.finalAttempt && !this.late()) return Promise.reject(error);
    const name = this.types[i]!.name;
    const info = error.toInfo(this.index);
    this.answers[i] = { failure: { signalType: name, error: { ...info, partial: true, detail: { ...info.detail, signalType: name } } } };
    return Promise.resolve();
  }
}

/** A prepared item's partial errors, as the verdict records them. */
function preparedErrors(prepared: PreparedItem<unknown>, index: number): ErrorInfo[] {
  return (prepared.errors ?? []).map((error) => ({ ...error, item: index, partial: true }));
}

/** An item matched by every signal type of its kind. */
function itemOutcome(kind: ItemKind, index: number, input: string, prepared: PreparedItem<unknown>, match: ItemMatch): ItemOutcome {
  const { signals, failures } = match.outcome();
  const failedSignalTypes = failures.map((failure) => failure.signalType);
  return {
    result: { index, kind, input, status: 'ok', details: { ...prepared.details, ...(failedSignalTypes.length > 0 && { failedSignalTypes }) } },
    signals,
    errors: [...preparedErrors(prepared, index), ...failures.map((failure) => failure.error)],
  };
}

/**
 * An item the deadline cut, judged on what it got to (a link's own URL): the deadline's partial
 * error, with whatever signals the types that answered within the grace fired; those that did not
 * are named in `details.unansweredSignalTypes`.
 */
function cutOutcome(kind: ItemKind, index: number, input: string, prepared: PreparedItem<unknown>, match: ItemMatch, deadline: JobDeadline): ItemOutcome {
  const { signals, failures, unanswered } = match.outcome();
  const failedSignalTypes = failures.map((failure) => failure.signalType);
  const info: ErrorInfo = { ...deadline.error.toInfo(index), partial: true };
  return {
    result: {
      index,
      kind,
      input,
      status: 'error',
      error: info,
      details: { ...prepared.details, ...(failedSignalTypes.length > 0 && { failedSignalTypes }), ...(unanswered.length > 0 && { unansweredSignalTypes: unanswered }) },
    },
    signals,
    errors: [info, ...preparedErrors(prepared, index), ...failures.map((failure) => failure.error)],
  };
}

/** An item that could not be scanned: its error. */
function failedItem(kind: ItemKind, index: number, input: string, error: ScanError): ItemOutcome {
  const info = error.toInfo(index);
  return { result: { index, kind, input, status: 'error', error: info, details: {} }, signals: [], errors: [info] };
}

/**
 * An item the job's deadline left unfinished (or never started): its error, marked partial (the
 * job was scanned in part), weighed by the policy's partial-error table (review by default).
 */
function unfinishedItem(kind: ItemKind, index: number, input: string, deadline: JobDeadline): ItemOutcome {
  const info: ErrorInfo = { ...deadline.error.toInfo(index), partial: true };
  return { result: { index, kind, input, status: 'error', error: info, details: {} }, signals: [], errors: [info] };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** What an error verdict knows beyond the raw job (all optional: a bare call echoes under the default limits). */
export interface ErrorVerdictOptions {
  /**
   * How the worker validates jobs (its limits from the configuration, its image root). A raw job
   * valid under them is echoed exactly (contentId, surface, tenant, metadata: consumers act on
   * them); an invalid one is echoed cut to their limits. Default: DEFAULT_JOB_LIMITS, no image root.
   */
  validation?: JobValidationOptions;
  /**
   * What the caller already knows of `raw`: the job validateJob made of it under `validation`
   * (echoed as is), or `false` when validateJob refused it (not validated again). Unset: `raw` is
   * validated here.
   */
  validated?: ScanJob | false;
  /**
   * The attempt's timings in milliseconds, as far as they are known: `total`, how long the
   * attempt ran before its error verdict (default 0: the verdict was given outside any attempt, to
   * a job that stalled or that the failed-job sweep found), and `queueWait`, how long it waited
   * once runnable (absent when unknown).
   */
  timings?: { total?: number; queueWait?: number | undefined };
}

/**
 * The verdict for a job that could not be scanned at all (invalid, stalled, out of retries): no
 * signals, the one error, and the job's identity echoed (see ErrorVerdictOptions.validation).
 */
export function errorVerdict(
  raw: unknown,
  run: Pick<ScanRunInfo, 'jobId' | 'attempt'>,
  error: ScanError,
  policy: PolicyConfig,
  versions: VerdictVersions,
  options: ErrorVerdictOptions = {},
): Verdict {
  const info = error.toInfo();
  const { decision, reasons } = decide([], [info], policy);
  const echo = echoedIdentity(raw, options);
  const queueWait = options.timings?.queueWait;
  return {
    schemaVersion: VERDICT_SCHEMA_VERSION,
    jobId: run.jobId,
    contentId: echo.contentId,
    surface: echo.surface,
    ...(echo.tenant !== undefined && { tenant: echo.tenant }),
    decision,
    reasons,
    signals: [],
    items: [],
    errors: [info],
    timings: { total: round(options.timings?.total ?? 0), ...(queueWait !== undefined && { queueWait: round(queueWait) }) },
    versions,
    ...(echo.metadata !== undefined && { metadata: echo.metadata }),
    attempt: run.attempt,
    createdAt: new Date().toISOString(),
  };
}

type EchoedIdentity = Pick<ScanJob, 'contentId' | 'surface' | 'tenant' | 'metadata'>;

/**
 * The job's identity as an error verdict echoes it: exactly, when the job is valid under the
 * worker's validation; else as far as its fields are strings, cut to the worker's limits (an
 * invalid job is untrusted, and may be anything up to the whole job's size cap).
 */
function echoedIdentity(raw: unknown, options: ErrorVerdictOptions): EchoedIdentity {
  let job = options.validated;
  if (job === undefined) {
    try {
      job = validateJob(raw, options.validation);
    } catch {
      job = false;
    }
  }
  if (job !== false) return { contentId: job.contentId, surface: job.surface, tenant: job.tenant, metadata: job.metadata };
  const limits = resolveJobLimits(options.validation?.limits ?? DEFAULT_JOB_LIMITS);
  const fields = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, limits.maxIdLength) : undefined);
  return { contentId: text(fields.contentId) ?? '', surface: text(fields.surface) ?? '', tenant: text(fields.tenant), metadata: echoedMetadata(fields.metadata, limits) };
}

/**
 * The producer's metadata of an invalid job, echoed as far as it is a record of strings: consumers
 * route error verdicts by it too. Bounded by the job limits, since the job was not valid: the
 * first maxMetadataKeys string entries, keys cut to maxMetadataKeyLength and values to
 * MAX_METADATA_VALUE_LENGTH characters, while they fit in maxMetadataBytes.
 */
function echoedMetadata(value: unknown, limits: Required<JobLimits>): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries: Array<[string, string]> = [];
  const keys = new Set<string>();
  let bytes = 0;
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== 'string') continue;
    if (entries.length >= limits.maxMetadataKeys) break;
    const echoedKey = key.slice(0, limits.maxMetadataKeyLength);
    if (keys.has(echoedKey)) continue; // two long keys cut to the same: the first stands
    const echoedText = text.slice(0, MAX_METADATA_VALUE_LENGTH);
    const entryBytes = Buffer.byteLength(echoedKey, 'utf8') + Buffer.byteLength(echoedText, 'utf8');
    if (bytes + entryBytes > limits.maxMetadataBytes) break;
    entries.push([echoedKey, echoedText]);
    keys.add(echoedKey);
    bytes += entryBytes;
  }
  return entries.length ? Object.fromEntries(entries) : undefined;
}
