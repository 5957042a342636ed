import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { withoutStackIfOperational } from './runnable.js';

const thrown = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
};

describe("a start-up failure's log line", () => {
  it('a ScanError or a system error (errno, syscall) is told by its message: no stack', () => {
    const missing = thrown(() => readFileSync('/nonexistent/abuse-scan/manifest.json'));
    expect(withoutStackIfOperational(missing)).toMatchObject({ code: 'ENOENT', syscall: 'open', message: expect.stringContaining('ENOENT') });
    expect(withoutStackIfOperational(missing)).not.toHaveProperty('stack');
    expect(withoutStackIfOperational(new ScanError('redis_unavailable', 'no answer'))).not.toHaveProperty('stack');
  });

  it("a programming error keeps its stack, Node's own ERR_* codes included", () => {
    const badArgument = thrown(() => readFileSync(undefined as unknown as string));
    expect((badArgument as NodeJS.ErrnoException).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(withoutStackIfOperational(badArgument)).toBe(badArgument);
    const plain = new TypeError('x is not a function');
    expect(withoutStackIfOperational(plain)).toBe(plain);
  });
});
