/**
 * Closing the model threads while an inference runs, with a real onnxruntime session. Terminating
 * a thread inside `run()` aborted the whole process ("terminate called after throwing an instance
 * of 'Napi::Error'", exit 134), so the scenario runs in a child process and the test reads its
 * exit code and what it printed.
 */
import { describe, expect, it } from 'vitest';
import { runNode } from '../harness/cli.js';

/** Runs from the repository root under tsx; prints one JSON line. */
const CLOSE_DURING_INFERENCE = `
import { openClassifiers } from './src/classifiers/index.ts';
const classifiers = await openClassifiers({ tasks: ['image'], imagePool: { size: 1, intraOpThreads: 1, maxBatch: 64 } });
const model = classifiers.image[0];
const probed = model.poolStats().samples; // the sample the load ran to check the model
const outcomes = Array.from({ length: 256 }, () =>
  model.classifySample(new Float32Array(224 * 224 * 3).fill(0.5)).then(() => 'ok', (error) => error.constructor.name + ':' + error.code),
);
// The first batch is answered and the thread has been handed the second: close while it runs.
await outcomes[0];
await new Promise((resolve) => setTimeout(resolve, 50));
const handedToTheThread = model.poolStats().samples - probed;
await classifiers.close();
const counts = {};
for (const outcome of await Promise.all(outcomes)) counts[outcome] = (counts[outcome] ?? 0) + 1;
console.log(JSON.stringify({ handedToTheThread, counts }));
`;

describe('closing a session pool while an inference runs', () => {
  it('lets the running batch finish, rejects the samples no thread started with model_failed, and the process lives on', async () => {
    const child = await runNode(['--input-type=module', '-e', CLOSE_DURING_INFERENCE], { timeoutMs: 120_000 });
    expect(child.stderr).not.toMatch(/terminate called/);
    expect(child.code).toBe(0);
    const { handedToTheThread, counts } = JSON.parse(child.stdout.trim()) as { handedToTheThread: number; counts: Record<string, number> };
    // At least two batches had been handed over: the first, answered, and the one running at close.
    expect(handedToTheThread).toBeGreaterThanOrEqual(128);
    expect(counts).toEqual({ ok: handedToTheThread, 'ScanError:model_failed': 256 - handedToTheThread });
  }, 130_000);
});
