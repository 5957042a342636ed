/**
 * A pool of inference threads for one model. Each thread holds one onnxruntime session, created
 * once and reused. Callers submit one sample at a time; samples that wait together are stacked
 * into one batch tensor (up to `maxBatch`), which costs far less per sample than runs of one.
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
  /** Name used in errors. */
  label?: string;
}

interface Pending {
  data: Float32Array;
  resolve: (output: Float32Array) => void;
  reject: (error: Error) => void;
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
  private readonly sampleLength: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counters = { runs: 0, samples: 0, largestBatch: 0 };

  private constructor(private readonly options: SessionPoolOptions) {
    const cores = availableParallelism();
    this.size = options.size ?? Math.max(1, Math.floor(cores / 2));
    this.intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(cores / this.size));
    this.batchLimit = options.maxBatch ?? 8;
    this.lingerMs = options.lingerMs ?? 2;
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
    return pool;
  }

  /** Runs one sample (length = product of sampleDims); resolves with its row of the output. */
  run(sample: Float32Array): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new ScanError('model_failed', `${this.label}: the session pool is closed`));
    if (sample.length !== this.sampleLength) {
      return Promise.reject(new ScanError('model_failed', `${this.label}: sample has ${sample.length} values, expected ${this.sampleLength}`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ data: sample, resolve, reject });
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
      const wasReady = !slot.busy || slot.inFlight !== undefined;
      failStart(error);
      slot.inFlight?.batch.forEach((p) => p.reject(error));
      slot.inFlight = undefined;
      slot.busy = true;
      if (this.closed) return;
      // Replace a thread that died while serving, so the pool keeps its size. One that failed to
      // create its session would fail again: start() reports it instead.
      const index = this.slots.indexOf(slot);
      if (wasReady && index >= 0) {
        this.slots[index] = this.spawn();
        this.slots[index].ready.then(() => this.dispatch(), () => undefined);
      }
    });
    // start() awaits readiness; a replacement's failure is reported through its work instead.
    slot.ready.catch(() => undefined);
    return slot;
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
        const error = new ScanError('model_failed', `${this.label}: ${response.error}`);
        inFlight.batch.forEach((p) => p.reject(error));
      } else {
        const rowLength = response.data.length / inFlight.batch.length;
        inFlight.batch.forEach((p, i) => p.resolve(response.data.slice(i * rowLength, (i + 1) * rowLength)));
      }
    }
    // Samples that arrived during this run form the next batch right away.
    if (this.queue.length) this.dispatch();
  }
}
