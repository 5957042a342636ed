/**
 * A thread's gate around its onnxruntime calls: one Int32 over a SharedArrayBuffer, set by the
 * inference thread while it is inside onnxruntime and halted by the pool's exit hook, so that the
 * process never terminates a thread mid-call (SessionPool.holdExitForOnnxruntime says why).
 */
export const GATE = { idle: 0, busy: 1, halted: 2 } as const;
