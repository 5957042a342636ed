/**
 * One inference thread: creates its onnxruntime session once, from the verified bytes the pool
 * hands over, then answers batches until the pool terminates it. `run()` blocks only this thread,
 * so the main event loop (BullMQ lock renewal, HTTP, Redis) keeps going while a model runs.
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
export type SessionResponse = { id: number; data: Float32Array; dims: number[] } | { id: number; error: string };

const config = workerData as SessionWorkerData;
const port = parentPort!;

const session = await ort.InferenceSession.create(config.modelBytes, {
  intraOpNumThreads: config.intraOpThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

port.on('message', (request: SessionRequest) => {
  void run(request).then(
    (response) => port.postMessage(response, 'error' in response ? [] : [response.data.buffer as ArrayBuffer]),
    (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies SessionResponse),
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
