/**
 * One inference thread: creates its onnxruntime session once, from the verified bytes the pool
 * hands over, then answers batches until the pool asks it to close. `run()` blocks only this
 * thread, so the main event loop (BullMQ lock renewal, HTTP, Redis) keeps going while a model runs.
 *
 * On close it finishes the batch it is running, releases the session and lets the thread end:
 * terminating a thread inside `run()` makes onnxruntime-node throw a C++ exception nothing
 * catches, which aborts the whole process. Node's process.exit terminates the thread too, so each
 * call into onnxruntime holds the gate the pool waits for on exit (SessionPool, exit hook).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GATE } from './session-gate.js';

export interface SessionWorkerData {
  modelBytes: Uint8Array;
  inputName: string;
  outputName: string;
  intraOpThreads: number;
  /** One GATE state over a SharedArrayBuffer: whether this thread is inside onnxruntime. */
  gate: Int32Array;
}

export type SessionRequest = { id: number; data: Float32Array; dims: number[] };
/** Finish the current batch, release the session, end the thread. */
export type SessionClose = { close: true };
/** `invalidOutput`: the run succeeded but its output cannot be read as scores (model_output_invalid, not model_failed). */
export type SessionResponse = { id: number; data: Float32Array; dims: number[] } | { id: number; error: string; invalidOutput?: true };
/** The session was created but the model is not the one the manifest describes: the thread ends. */
export type SessionRefused = { refused: string };
/** The session is ready; `maxBatch` 1 when the graph's batch dimension is fixed at 1 (it runs one sample at a time). */
export type SessionReady = { ready: true; maxBatch?: number };

const config = workerData as SessionWorkerData;
const port = parentPort!;

/** Runs `call` holding the gate; undefined without calling once the process is exiting. */
async function inOnnxruntime<T>(call: () => Promise<T>): Promise<T | undefined> {
  if (Atomics.compareExchange(config.gate, 0, GATE.idle, GATE.busy) !== GATE.idle) return undefined;
  try {
    return await call();
  } finally {
    Atomics.store(config.gate, 0, GATE.idle);
    Atomics.notify(config.gate, 0);
  }
}

// Imported inside the gate: the addon's registration aborts the process too if terminated midway.
const loaded = await inOnnxruntime(async () => {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(config.modelBytes, {
    intraOpNumThreads: config.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return { ort, session };
});
// The process is exiting: end this thread (only) without starting.
if (!loaded) process.exit();
const { ort, session } = loaded;

// A manifest naming an input or output the graph lacks would fail every run: refused at start.
const problems = [
  !session.inputNames.includes(config.inputName) && `no input '${config.inputName}' (its inputs: ${session.inputNames.join(', ')})`,
  !session.outputNames.includes(config.outputName) && `no output '${config.outputName}' (its outputs: ${session.outputNames.join(', ')})`,
].filter((problem): problem is string => typeof problem === 'string');
// A batch dimension exported fixed (PyTorch without dynamic_axes) passes a one-sample check and
// then fails every stacked batch: fixed at 1, the pool runs one sample at a time; fixed at more,
// every run would need exactly that many samples, so it is refused.
const input = session.inputMetadata.find((metadata) => metadata.name === config.inputName);
const batch = input?.isTensor ? input.shape[0] : undefined;
if (typeof batch === 'number' && batch > 1) problems.push(`a batch dimension fixed at ${batch} in its input '${config.inputName}' (export it dynamic, or fixed at 1)`);
// The pool feeds float32 and reads float32. Another element type (a float16 export, a Cast on the
// logits) passes every shape check; a float16 output's raw bit patterns then read as scores.
const declaredOutput = session.outputMetadata.find((metadata) => metadata.name === config.outputName);
for (const [role, metadata] of [['input', input], ['output', declaredOutput]] as const) {
  if (!metadata) continue; // a missing name is reported above
  if (!metadata.isTensor) problems.push(`an ${role} '${metadata.name}' that is not a tensor`);
  else if (metadata.type !== 'float32') problems.push(`an ${role} '${metadata.name}' of element type ${metadata.type}, not float32 (export the model with float32 ${role}s)`);
}
if (problems.length) {
  await inOnnxruntime(() => session.release());
  port.postMessage({ refused: `the model has ${problems.join(' and ')}` } satisfies SessionRefused);
  port.close();
  process.exit();
}

/** The batch being run and answered, if any. */
let current: Promise<void> = Promise.resolve();

port.on('message', (message: SessionRequest | SessionClose) => {
  if ('close' in message) {
    void current
      .then(() => inOnnxruntime(() => session.release()))
      .catch(() => undefined) // ending either way
      // With the port closed the event loop empties and the thread ends on its own.
      .finally(() => port.close());
    return;
  }
  current = run(message).then(
    (response) => {
      if (response) port.postMessage(response, 'error' in response ? [] : [response.data.buffer as ArrayBuffer]);
    },
    (error: unknown) => port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) } satisfies SessionResponse),
  );
});

/** The batch's response; undefined when the process is exiting (nobody waits for it). */
async function run(request: SessionRequest): Promise<SessionResponse | undefined> {
  const feeds = { [config.inputName]: new ort.Tensor('float32', request.data, request.dims) };
  const outputs = await inOnnxruntime(() => session.run(feeds));
  if (!outputs) return undefined;
  const output = outputs[config.outputName];
  if (!output) return { id: request.id, error: `the model has no output ${config.outputName}` };
  // Checked at start too; a copy of anything else would turn its raw values into scores.
  if (output.type !== 'float32') return { id: request.id, error: `output '${config.outputName}' has element type ${output.type}, not float32`, invalidOutput: true };
  // Copy out of onnxruntime's buffer so it can be transferred.
  const data = Float32Array.from(output.data as Float32Array);
  return { id: request.id, data, dims: [...output.dims] };
}

port.postMessage({ ready: true, ...(batch === 1 && { maxBatch: 1 }) } satisfies SessionReady);
