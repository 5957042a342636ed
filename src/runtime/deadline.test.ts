import { describe, expect, it } from 'vitest';
import { withDeadline } from './deadline.js';

describe('withDeadline', () => {
  it('gives the work its result or error when it settles in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('refused')), 1000, () => new Error('late'))).rejects.toThrow('refused');
  });

  it("fails with the deadline's error once the time is up, and a late rejection goes nowhere", async () => {
    let rejectLate!: (error: Error) => void;
    const late = new Promise<never>((_, reject) => (rejectLate = reject));
    await expect(withDeadline(late, 5, () => new Error('late'))).rejects.toThrow('late');
    rejectLate(new Error('settled after the deadline')); // would be an unhandled rejection without the guard
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
});
