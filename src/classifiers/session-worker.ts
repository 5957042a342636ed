/**
 * One inference thread: creates its onnxruntime session once, from the verified bytes the pool
 * hands over, then answers batches until the pool asks it to close. `run()` blocks only this
 * thread, so the main event loop (BullMQ lock renewal, HTTP, Redis) keeps going while a model runs.
 *
 * On close it finishes the batch it is running, releases the session and lets the thread end:
 * terminating a thread inside `run()` makes onnxruntime-node throw a C++ exception nothing
 * catches, which aborts the whole process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface SessionWorkerData {
  modelBytes: Uint8Array;
  inputName: string;
  outputName: string;
  intraOpThreads: number;
}

export type SessionRequest = { id: number; data: Float32Array; dims: number[] };
/** Finish the current batch, release the session, end the thread. */
export type SessionClose = { close: true };
export type SessionResponse = { id: number; data: Float32Array; dims: number[] } | { id: number; error: string };

const config = workerData as SessionWorkerData;
const port = parentPort!;

const session = await ort.InferenceSession.create(config.modelBytes, {
  intraOpNumThreads: config.intraOpThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

/** The batch being run and answered, if any. */
let current: Promise<void> = Promise.resolve();

port.on('message', (message: SessionRequest | SessionClose) => {
  if ('close' in message) {
    void current
      .then(() => session.release())
      .catch(() => undefined) // ending either way
      // With the port closed the event loop empties and the thread ends on its own.
      .finally(() => port.close());
    return;
  }
  current = run(message).then(
    (response) => port.postMessage(response, 'error' in response ? [] : [response.data.buffer as ArrayBuffer]),
    (error: unknown) => port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) } satisfies SessionResponse),
  );
});

async function run(request: SessionRequest): Promise<SessionResponse> {
  const feeds = { [config.inputName]: new ort.Tensor('float32', request.data, request.dims) };
  const outputs = await session.run(feeds);
  const output = outputs[config.outputName];
  if (!output) return { id: request.id, error: `the model has no output ${config.outputName}` };
  // Copy out of onnxruntime's buffer so it can be transferred.
  const data = Float32Array.from(output.data as Float32Array);
  return { id: request.id, data, dims: [...output.dims] };
}

port.postMessage({ ready: true });
