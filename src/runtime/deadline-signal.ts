/**
 * A signal that aborts when `source` does (with its reason) or once `ms` have passed (with a
 * `TimeoutError` DOMException, as AbortSignal.timeout's), and `dispose()`, which stops the timer and
 * unhooks it from `source`: call it once the work it bounds is over.
 *
 * In place of `AbortSignal.any([source, AbortSignal.timeout(ms)])`: Node keeps a combined signal
 * that has a listener alive until it aborts, while it holds its timeout source only weakly, so the
 * timer can be collected and never fire; every image fetch kept its undici agent and DNS resolver
 * that way, for good (about 4 KB each). Each combined signal also leaves a WeakRef on a long-lived
 * source, such as a worker's shutdown signal (nodejs/node#55351).
 */
export function deadlineSignal(source: AbortSignal | undefined, ms: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms);
  // As AbortSignal.timeout's: a pending deadline alone does not keep the process alive.
  timer.unref();
  const forward = () => controller.abort(source!.reason);
  if (source?.aborted) forward();
  else source?.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      source?.removeEventListener('abort', forward);
    },
  };
}
