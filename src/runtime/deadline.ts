/** The longest delay setTimeout keeps; a longer one (or Infinity) fires after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * `work`, or the error `expired()` makes once `ms` have passed. Work that loses the race still
 * settles later (a Redis command may still run, a sharp call still finish); its rejection then
 * goes nowhere instead of becoming an unhandled rejection.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
