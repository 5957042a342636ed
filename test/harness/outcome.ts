/**
 * How `work` settled, and after how long: `resolved`, the error's code (`plain error` for one
 * without), or `pending` if it had not settled within `limitMs` (how a hang shows in a test).
 */
export async function outcome(work: Promise<unknown>, limitMs: number): Promise<{ code: string; message: string; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    work.then(
      () => ({ code: 'resolved', message: '' }),
      (error: { code?: string; message: string }) => ({ code: error.code ?? 'plain error', message: error.message }),
    ),
    new Promise<{ code: string; message: string }>((resolve) => (timer = setTimeout(() => resolve({ code: 'pending', message: '' }), limitMs))),
  ]);
  clearTimeout(timer);
  return { ...settled, ms: Date.now() - started };
}
