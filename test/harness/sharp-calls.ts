/**
 * Every call of sharp() made by the code under test, for tests that check what reaches libvips (or
 * that nothing does). In the test file:
 *   vi.mock('sharp', async (importOriginal) => (await import('../harness/sharp-calls.js')).recordingSharp(importOriginal));
 * and clear `sharpCalls` before each test.
 */
export const sharpCalls: Array<{ input: unknown; options: Record<string, unknown> | undefined }> = [];

export async function recordingSharp(importOriginal: () => Promise<unknown>): Promise<{ default: unknown }> {
  const real = ((await importOriginal()) as { default: (input?: unknown, options?: unknown) => unknown }).default;
  const spy = (input?: unknown, options?: Record<string, unknown>): unknown => {
    sharpCalls.push({ input, options });
    return real(input, options);
  };
  return { default: Object.assign(spy, real) };
}
