/**
 * A pool of inference threads for one model. Each thread holds one onnxruntime session, created
 * once and reused. Callers submit one sample at a time; samples that wait together are stacked
 * into one batch tensor (up to `maxBatch`), which costs far less per sample than runs of one.
 * A batch's output is cut into rows only when its dims are [batch, ...] with `outputLength` values
 * per sample; otherwise every sample of the batch fails (OutputShapeError).
 *
 * No run waits forever: each has a deadline (`runTimeoutMs`), a thread that dies is replaced,
 * and a replacement that cannot start is retried with a bounded backoff while runs fail at once
 * with model_failed (transient: the queue retries the job later) until a thread serves again.
 *
 * Exiting the process (process.exit, or the event loop running out) waits for the onnxruntime
 * calls in flight: see holdExitForOnnxruntime.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { GATE } from './session-gate.js';
import { ScanError } from '../errors.js';
import type { SessionClose, SessionReady, SessionRefused, SessionRequest, SessionResponse, SessionWorkerData } from './session-worker.js';
import { workerEntry } from './worker-entry.js';

export interface SessionPoolOptions {
  /** The model's verified bytes (see readVerifiedModel). */
  modelBytes: Uint8Array;
  inputName: string;
  outputName: string;
  /** Dimensions of one sample, without the batch: [224, 224, 3] for an NHWC image. */
  sampleDims: number[];
  /** Inference threads. Default max(1, floor(cores / 2)): leaves cores for decoding and the event loop. */
  size?: number;
  /** onnxruntime intra-op threads per session. Default max(1, floor(cores / size)). */
  intraOpThreads?: number;
  /** Most samples stacked into one run. Default 8; 1 whatever it says for a graph whose batch dimension is fixed at 1. */
  maxBatch?: number;
  /** How long a lone sample waits for company before it runs, in ms. Default 2. */
  lingerMs?: number;
  /**
   * Values per sample in the output (the manifest's label count). A response whose dims are not
   * [batch, ...] with this many values after the batch is refused (OutputShapeError) instead of
   * being sliced into rows. Unset: any per-sample width, as long as the batch comes first.
   */
  outputLength?: number;
  /**
   * Most ms a run() may take, from the call to its row, queueing included: past it the promise
   * rejects with model_failed (a row the thread sends later is dropped). Default 30000.
   */
  runTimeoutMs?: number;
  /**
   * Wait before retrying a thread that failed to start after the pool had started, in ms; doubled
   * at each consecutive failure up to 30000. Default 250.
   */
  restartDelayMs?: number;
  /** Name used in errors. */
  label?: string;
}

interface Pending {
  data: Float32Array;
  /** Both settle the run once: later calls (a row after the deadline) are ignored. */
  resolve: (output: Float32Array) => void;
  reject: (error: Error) => void;
}

/**
 * A batch's output whose dims do not hold one row per sample, batch first (a graph that emits
 * [labels, N], or has no batch axis): refused rather than sliced, which would hand one sample
 * another's scores. `dims` is what the graph produced for a batch of `batch`. The model ran and
 * answered: `model_output_invalid` (permanent), not a failure a retry could get past.
 */
export class OutputShapeError extends ScanError {
  constructor(
    message: string,
    readonly dims: readonly number[],
    readonly batch: number,
  ) {
    super('model_output_invalid', message);
  }
}

interface Slot {
  worker: Worker;
  busy: boolean;
  ready: Promise<void>;
  /** Settles when the thread has ended, however it ended. */
  exited: Promise<void>;
  ended: boolean;
  /** The thread's SessionWorkerData.gate. */
  gate: Int32Array;
  /** Its session was created and it has taken work. */
  started: boolean;
  inFlight?: { id: number; batch: Pending[] };
}

/**
 * How long close() lets a thread finish the batch it is running before terminating it. A
 * terminated inference aborts the process (see session-worker.ts), so this is a last resort for
 * a thread that never finishes; a batch takes well under a second.
 */
const CLOSE_GRACE_MS = 10_000;

/**
 * The stack of an inference thread, in MB. onnxruntime's initialisation (the first session of the
 * process) reads the process's command line with a recursive parser: measured on onnxruntime-node
 * 1.30, ~300 bytes of stack per byte of command line (~600 with one-character arguments), so Node's
 * 4 MB default for worker threads overflowed, SIGSEGV (exit 139), from ~14 KB of arguments
 * (`scan` or `classify` given a few hundred files). 1 MB per KB of command line is ~1.7x the worst
 * measured, with 16 MB at least; a thread's stack is reserved, only the pages it touches cost memory.
 */
export function inferenceStackMb(commandLineBytes = commandLineLength()): number {
  return Math.max(16, Math.ceil(commandLineBytes / 1024));
}

/** Bytes of this process's command line as the kernel holds it (each argument NUL-terminated). */
function commandLineLength(): number {
  return [process.execPath, ...process.execArgv, ...process.argv.slice(1)].reduce((bytes, arg) => bytes + Buffer.byteLength(arg) + 1, 0);
}

/** Default of SessionPoolOptions.runTimeoutMs. */
const RUN_TIMEOUT_MS = 30_000;
/** Longest wait between retries of a thread that fails to start. */
const MAX_RESTART_DELAY_MS = 30_000;

/** Pools started and not yet closed, whose threads the exit hook waits for. */
const openPools = new Set<SessionPool>();

export class SessionPool {
  static {
    process.on('exit', () => SessionPool.holdExitForOnnxruntime());
  }

  /**
   * process.exit terminates every worker thread and joins it. A thread terminated inside an
   * onnxruntime call (a run, creating or releasing a session) cannot stop there, and when the call
   * returns onnxruntime-node's binding throws a C++ exception that escapes (it cannot call back
   * into the terminated thread's JS): SIGABRT instead of the exit code. So this waits for the calls
   * in flight and halts every gate, so that no thread starts another, and Node terminates idle
   * threads. The process could not end before those calls return anyway (the join waits for
   * them); the bound is for a thread that never returns.
   */
  private static holdExitForOnnxruntime(): void {
    const deadline = Date.now() + CLOSE_GRACE_MS;
    for (const pool of openPools) pool.halt(deadline);
  }

  readonly size: number;
  readonly intraOpThreads: number;
  private batchLimit: number;
  private readonly lingerMs: number;
  private readonly runTimeoutMs: number;
  private readonly sampleLength: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;
  /** start() has returned: a thread that then fails to start is retried instead of failing start(). */
  private started = false;
  /**
   * Set while no thread can serve because a replacement failed to start: run() rejects at once
   * (model_failed, transient: the job is retried later) until a retried thread is ready.
   */
  private unavailable: ScanError | undefined;
  /** Consecutive failed starts, for the retry backoff; 0 once a thread is ready. */
  private failedStarts = 0;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private closing: Promise<void> | undefined;
  private readonly counters = { runs: 0, samples: 0, largestBatch: 0 };

  private constructor(private readonly options: SessionPoolOptions) {
    const cores = availableParallelism();
    this.size = options.size ?? Math.max(1, Math.floor(cores / 2));
    this.intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(cores / this.size));
    this.batchLimit = options.maxBatch ?? 8;
    this.lingerMs = options.lingerMs ?? 2;
    this.runTimeoutMs = options.runTimeoutMs ?? RUN_TIMEOUT_MS;
    this.sampleLength = options.sampleDims.reduce((a, b) => a * b, 1);
  }

  /** Starts the threads and waits until every session is created. */
  static async start(options: SessionPoolOptions): Promise<SessionPool> {
    const pool = new SessionPool(options);
    openPools.add(pool);
    for (let i = 0; i < pool.size; i++) pool.slots.push(pool.spawn());
    try {
      await Promise.all(pool.slots.map((slot) => slot.ready));
    } catch (error) {
      await pool.close();
      throw error;
    }
    pool.started = true;
    return pool;
  }

  /**
   * Runs one sample (length = product of sampleDims); resolves with its row of the output, or
   * rejects with model_failed (the run failed, no thread can start, or no row came within
   * runTimeoutMs) or model_output_invalid (the output's dims or element type are wrong).
   */
  run(sample: Float32Array): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new ScanError('model_failed', `${this.label}: the session pool is closed`));
    if (sample.length !== this.sampleLength) {
      return Promise.reject(new ScanError('model_failed', `${this.label}: sample has ${sample.length} values, expected ${this.sampleLength}`));
    }
    if (this.unavailable) return Promise.reject(this.unavailable);
    return new Promise((resolve, reject) => {
      let settled = false;
      const pending: Pending = {
        data: sample,
        resolve: (row) => settle() && resolve(row),
        reject: (error) => settle() && reject(error),
      };
      // The deadline: a thread that never answers (or a pool that cannot start one) fails the run
      // instead of leaving its job waiting forever.
      const deadline = setTimeout(() => {
        const queued = this.queue.indexOf(pending);
        if (queued >= 0) this.queue.splice(queued, 1);
        pending.reject(new ScanError('model_failed', `${this.label}: no result within ${this.runTimeoutMs} ms${queued >= 0 ? ' (no inference thread took the sample)' : ''}`));
      }, this.runTimeoutMs);
      function settle(): boolean {
        if (settled) return false;
        settled = true;
        clearTimeout(deadline);
        return true;
      }
      this.queue.push(pending);
      // A full batch goes at once; otherwise wait a moment for more samples.
      if (this.queue.length >= this.maxBatch) this.dispatch();
      else this.lingerTimer ??= setTimeout(() => this.dispatch(), this.lingerMs);
    });
  }

  /** Most samples stacked into one run. */
  get maxBatch(): number {
    return this.batchLimit;
  }

  /** Pool settings, runs so far, samples they carried and the largest batch (samples / runs: the batching). */
  stats(): { size: number; intraOpThreads: number; maxBatch: number; runs: number; samples: number; largestBatch: number } {
    return { size: this.size, intraOpThreads: this.intraOpThreads, maxBatch: this.maxBatch, ...this.counters };
  }

  /**
   * Rejects the samples no thread has started (model_failed), lets every thread finish the batch
   * it is running (its samples get their results) and resolves once every thread has ended.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer), (this.lingerTimer = undefined);
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    const error = new ScanError('model_failed', `${this.label}: the session pool closed`);
    for (const pending of this.queue.splice(0)) pending.reject(error);
    await Promise.all(this.slots.map((slot) => this.endThread(slot)));
    openPools.delete(this);
  }

  /** Blocks until no thread is inside onnxruntime (or `deadline`), and keeps every one out. */
  private halt(deadline: number): void {
    for (const { gate, ended } of this.slots) {
      if (ended) continue;
      while (Atomics.compareExchange(gate, 0, GATE.idle, GATE.halted) === GATE.busy) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        Atomics.wait(gate, 0, GATE.busy, left);
      }
    }
  }

  /** Asks the thread to end after its current batch; terminates it only past the grace period. */
  private async endThread(slot: Slot): Promise<void> {
    // Idle threads are unref'd; the process must not exit while one is still ending.
    slot.worker.ref();
    slot.worker.postMessage({ close: true } satisfies SessionClose);
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), CLOSE_GRACE_MS)));
    try {
      if (await Promise.race([slot.exited, overdue])) await slot.worker.terminate();
    } finally {
      clearTimeout(timer);
    }
  }

  private get label(): string {
    return this.options.label ?? 'model';
  }

  private spawn(): Slot {
    const entry = workerEntry(import.meta.url, 'session-worker');
    const workerData: SessionWorkerData = {
      modelBytes: this.options.modelBytes,
      inputName: this.options.inputName,
      outputName: this.options.outputName,
      intraOpThreads: this.intraOpThreads,
      gate: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
    };
    const worker = new Worker(entry.filename, { ...entry.options, workerData, resourceLimits: { stackSizeMb: inferenceStackMb() } });
    let markReady!: () => void;
    let failStart!: (error: Error) => void;
    const slot: Slot = {
      worker,
      busy: true,
      ready: new Promise<void>((resolve, reject) => ((markReady = resolve), (failStart = reject))),
      exited: new Promise<void>((resolve) => worker.once('exit', () => resolve())),
      ended: false,
      gate: workerData.gate,
      started: false,
    };
    /** Why the thread ended, when it did not end because close() asked. */
    let failure: Error | undefined;
    worker.on('message', (message: SessionResponse | SessionRefused | SessionReady) => {
      if ('refused' in message) {
        failure = new ScanError('model_integrity', `${this.label}: ${message.refused}; refusing to load it`);
        return;
      }
      if ('ready' in message) {
        if (message.maxBatch) this.batchLimit = Math.min(this.batchLimit, message.maxBatch);
        slot.busy = false;
        slot.started = true;
        // A thread serves again: runs queue for it instead of failing at once.
        this.unavailable = undefined;
        this.failedStarts = 0;
        // An idle thread must not keep a finished process alive; a run refs it for its duration.
        if (!this.closed) worker.unref();
        markReady();
        this.dispatch();
        return;
      }
      this.finish(slot, message);
    });
    worker.on('error', (error) => {
      if (failure) return; // already refused
      failure = new ScanError('model_failed', `${this.label}: inference thread failed: ${error.message}`, undefined, { cause: error });
    });
    // A thread ends only when close() asks it to or by dying (a crash, an uncaught error, running out of memory).
    worker.on('exit', (code) => {
      slot.ended = true;
      const error = failure ?? new ScanError('model_failed', `${this.label}: inference thread exited with code ${code}`);
      failStart(error);
      slot.inFlight?.batch.forEach((p) => p.reject(error));
      slot.inFlight = undefined;
      slot.busy = true;
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      // Replace a thread that died while serving at once, so the pool keeps its size (it is ready
      // when its session is: the 'ready' message dispatches the samples that waited).
      if (slot.started) {
        this.slots[index] = this.spawn();
        return;
      }
      // One of start()'s threads that could not create its session: start() reports it.
      if (!this.started) return;
      // A replacement that could not start (out of memory, say): retried with a bounded backoff.
      // Without a thread that serves, samples would wait for one forever: until one is ready,
      // the waiting samples and new runs fail with model_failed (transient: the job is retried later).
      this.failedStarts++;
      if (!this.slots.some((other) => other.started && !other.ended)) this.markUnavailable(error);
      this.restartLater(index);
    });
    // start() awaits readiness; a replacement's failure is reported through its work instead.
    slot.ready.catch(() => undefined);
    return slot;
  }

  /** No thread serves and the last start failed: fail what waits, and what comes, until one is ready. */
  private markUnavailable(cause: Error): void {
    this.unavailable = new ScanError('model_failed', `${this.label}: no inference thread is running (a replacement failed to start: ${cause.message}); retrying`, undefined, {
      cause,
    });
    if (this.lingerTimer) clearTimeout(this.lingerTimer), (this.lingerTimer = undefined);
    for (const pending of this.queue.splice(0)) pending.reject(this.unavailable);
  }

  /** Starts a thread in slot `index` after the backoff: restartDelayMs doubled per consecutive failure, at most MAX_RESTART_DELAY_MS. */
  private restartLater(index: number): void {
    const first = this.options.restartDelayMs ?? 250;
    const delay = Math.min(MAX_RESTART_DELAY_MS, first * 2 ** Math.max(0, this.failedStarts - 1));
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.closed) this.slots[index] = this.spawn();
    }, delay);
    // Waiting to retry must not keep a finished process alive.
    timer.unref();
    this.restartTimers.add(timer);
  }

  private dispatch(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer), (this.lingerTimer = undefined);
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const batch = this.queue.splice(0, this.maxBatch);
      const data = new Float32Array(batch.length * this.sampleLength);
      batch.forEach((pending, i) => data.set(pending.data, i * this.sampleLength));
      const request: SessionRequest = { id: this.nextId++, data, dims: [batch.length, ...this.options.sampleDims] };
      this.counters.runs++;
      this.counters.samples += batch.length;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
      slot.busy = true;
      slot.inFlight = { id: request.id, batch };
      slot.worker.ref();
      slot.worker.postMessage(request, [data.buffer]);
    }
  }

  private finish(slot: Slot, response: SessionResponse): void {
    const inFlight = slot.inFlight;
    slot.inFlight = undefined;
    slot.busy = false;
    // While closing, the thread stays ref'd until it has ended (endThread).
    if (!this.closed) slot.worker.unref();
    if (inFlight && inFlight.id === response.id) {
      if ('error' in response) {
        const error = new ScanError(response.invalidOutput ? 'model_output_invalid' : 'model_failed', `${this.label}: ${response.error}`);
        inFlight.batch.forEach((p) => p.reject(error));
      } else {
        const batch = inFlight.batch.length;
        const problem = this.outputProblem(response.dims, response.data.length, batch);
        if (problem) {
          const error = new OutputShapeError(`${this.label}: ${problem}`, response.dims, batch);
          inFlight.batch.forEach((p) => p.reject(error));
        } else {
          const rowLength = response.data.length / batch;
          inFlight.batch.forEach((p, i) => p.resolve(response.data.slice(i * rowLength, (i + 1) * rowLength)));
        }
      }
    }
    // Samples that arrived during this run form the next batch right away.
    if (this.queue.length) this.dispatch();
  }

  /**
   * Why an output cannot be cut into one row per sample, if it cannot: its first dimension must be
   * the batch and the others must hold outputLength values. Slicing blindly gave a sample another's
   * scores ([labels, N] read as [N, labels]) or fractional rows (no batch axis).
   */
  private outputProblem(dims: readonly number[], length: number, batch: number): string | undefined {
    const [first, ...rest] = dims;
    const perSample = rest.reduce((a, b) => a * b, 1);
    const expected = this.options.outputLength;
    if (first === batch && length === batch * perSample && (expected === undefined || perSample === expected)) return undefined;
    const want = expected === undefined ? 'the batch first' : `[${batch}, ${expected}]: one row of ${expected} values per sample, the batch first`;
    return `output '${this.options.outputName}' has dims [${dims.join(', ')}] for a batch of ${batch}, expected ${want}`;
  }
}
