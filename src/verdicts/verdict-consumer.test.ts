import { describe, expect, it } from 'vitest';
import { createVerdictConsumer } from './verdict-consumer.js';

describe('verdict consumer options', () => {
  const handler = async () => undefined;

  // XREADGROUP BLOCK 0 waits forever; without BLOCK it does not wait at all (a busy loop).
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses blockMs %s', (blockMs) => {
    expect(() => createVerdictConsumer({ connection: 'redis://127.0.0.1:1', group: 'g', blockMs, handler })).toThrow(RangeError);
    expect(() => createVerdictConsumer({ connection: 'redis://127.0.0.1:1', group: 'g', blockMs, handler })).toThrow(/blockMs/);
  });

  it.each([
    ['batchSize', 0],
    ['claimIdleMs', -1],
    ['idleConsumerMs', -1],
    ['idleConsumerMs', 1.5],
    ['commandTimeoutMs', 0],
    // A dead-letter MAXLEN Redis refuses fails every copy: the entry would be reported again forever.
    ['deadLetterMaxLength', -1],
    ['deadLetterMaxLength', 2.5],
    ['deadLetterMaxLength', 0],
    ['deadLetterMaxLength', Number.NaN],
    // Past Node's longest timer a deadline fires after 1 ms.
    ['commandTimeoutMs', 2 ** 31],
    ['blockMs', 2 ** 31],
  ] as const)('refuses %s %s', (name, value) => {
    expect(() => createVerdictConsumer({ connection: 'redis://127.0.0.1:1', group: 'g', [name]: value, handler })).toThrow(RangeError);
    expect(() => createVerdictConsumer({ connection: 'redis://127.0.0.1:1', group: 'g', [name]: value, handler })).toThrow(new RegExp(`^${name}: `));
  });

  // Plain JavaScript callers: an unset env var for the group, a misspelt startFrom, no handler.
  it.each([
    ['group', undefined, /^group: must be a non-empty string, got undefined$/],
    ['group', '', /^group: /],
    ['consumer', '', /^consumer: /],
    ['startFrom', 'latest', /^startFrom: must be 'beginning' or 'now', got "latest"$/],
    ['startFrom', '$', /^startFrom: /],
    ['handler', undefined, /^handler: must be a function, got undefined$/],
    ['onError', 'log', /^onError: /],
  ] as const)('refuses %s %s with a TypeError, before connecting', (name, value, message) => {
    const options = { connection: 'redis://127.0.0.1:1', group: 'g', handler, [name]: value } as unknown as Parameters<typeof createVerdictConsumer>[0];
    expect(() => createVerdictConsumer(options)).toThrow(TypeError);
    expect(() => createVerdictConsumer(options)).toThrow(message);
  });

  it('takes the largest values in range', async () => {
    const consumer = createVerdictConsumer({
      connection: 'redis://127.0.0.1:1', group: 'g', handler, onError: () => undefined,
      blockMs: 2 ** 31 - 1, commandTimeoutMs: 2 ** 31 - 1, deadLetterMaxLength: Number.MAX_SAFE_INTEGER, claimIdleMs: Number.MAX_SAFE_INTEGER,
      idleConsumerMs: Number.MAX_SAFE_INTEGER,
    });
    await consumer.close();
  });

  it('keeps the default idleConsumerMs (10 x claimIdleMs) in range for the largest claimIdleMs', async () => {
    const consumer = createVerdictConsumer({ connection: 'redis://127.0.0.1:1', group: 'g', handler, onError: () => undefined, claimIdleMs: Number.MAX_SAFE_INTEGER });
    await consumer.close();
  });
});
