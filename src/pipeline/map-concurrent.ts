/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep input order.
 * Once a call fails or `shouldStop` answers true, no further call starts; the calls under way
 * are waited for before the first failure is rethrown, so nothing a caller started outlives it.
 * Stopped without a failure, it throws `stopped()`; `failed` hears of a failure as it happens.
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  stop?: { shouldStop: () => boolean; stopped: () => Error; failed?: (error: unknown) => void },
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && !failed && !stop?.shouldStop()) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failed = true;
        stop?.failed?.(error);
        throw error;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const failure = settled.find((lane): lane is PromiseRejectedResult => lane.status === 'rejected');
  if (failure) throw failure.reason;
  if (next < items.length) throw stop!.stopped();
  return results;
}
