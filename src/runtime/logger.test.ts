import { ReplyError } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, logConsoleWarnings } from './logger.js';

/** A logger of the project's, writing its lines into an array. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger('info', 'test', { write: (line: string) => void lines.push(line) });
  return { logger, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** The error ioredis gives a reconnect whose AUTH is refused: the command, password included, rides on it. */
function authError(password: string): Error {
  return Object.assign(new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'), { command: { name: 'auth', args: [password] } });
}

describe('logConsoleWarnings', () => {
  it("turns a library's console.warn (ioredis on a password the server does not need) into a JSON log line, credentials redacted, until restored", () => {
    const { logger, lines, parsed } = capturingLogger();
    const restore = logConsoleWarnings(logger);
    try {
      console.warn('[WARN] This Redis server\'s `default` user does not require a password, but a password was supplied');
      console.warn('retrying %s', 'redis://:s3cret@10.0.0.5:6379');
    } finally {
      restore();
    }
    expect(parsed()).toEqual([
      expect.objectContaining({ level: 40, source: 'console.warn', msg: "[WARN] This Redis server's `default` user does not require a password, but a password was supplied" }),
      expect.objectContaining({ level: 40, source: 'console.warn', msg: 'retrying redis://:[redacted]@10.0.0.5:6379' }),
    ]);
    expect(lines.join('')).not.toContain('s3cret');
    const after = lines.length;
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      console.warn('back to the console');
    } finally {
      warn.mockRestore();
    }
    expect(lines).toHaveLength(after);
  });
});

describe('createLogger', () => {
  it('keeps the name of the command an ioredis error carries and drops its arguments', () => {
    const { logger, lines, parsed } = capturingLogger();
    logger.error({ err: authError('s3cret') }, 'worker error');
    logger.warn(authError('s3cret'), 'error as the first argument');
    expect(lines.join('')).not.toContain('s3cret');
    expect(parsed().map((line) => line.err)).toEqual([
      expect.objectContaining({ type: 'ReplyError', message: expect.stringContaining('WRONGPASS'), command: { name: 'auth' } }),
      expect.objectContaining({ type: 'ReplyError', command: { name: 'auth' } }),
    ]);
  });

  it('drops them from nested errors too: a cluster error\'s last node error, aggregated and previous errors', () => {
    const { logger, lines, parsed } = capturingLogger();
    const clusterError = Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: authError('node-secret') });
    const aggregate = new AggregateError([authError('aggregated-secret')], 'all failed');
    const withPrevious = Object.assign(new Error('gave up'), { previousErrors: [authError('previous-secret')] });
    logger.error({ err: clusterError }, 'a');
    logger.error({ err: aggregate }, 'b');
    logger.error({ err: withPrevious }, 'c');
    expect(lines.join('')).not.toMatch(/node-secret|aggregated-secret|previous-secret/);
    const [cluster, aggregated, previous] = parsed().map((line) => line.err as Record<string, any>);
    expect(cluster!.lastNodeError).toMatchObject({ type: 'ReplyError', command: { name: 'auth' } });
    expect(aggregated!.aggregateErrors).toEqual([expect.objectContaining({ command: { name: 'auth' } })]);
    expect(previous!.previousErrors).toEqual([expect.objectContaining({ command: { name: 'auth' } })]);
  });

  it('redacts the password of any URL in a line: a Redis URL in a field, a message or an error', () => {
    const { logger, lines } = capturingLogger();
    logger.info({ redisUrl: 'redis://:s3cret@10.0.0.5:6379/0' }, 'configuration');
    logger.info({ nodes: 'rediss://admin:s3cret@a.example:6380,redis://b.example:6379' }, 'cluster');
    logger.info('connecting to redis://worker:s3cret@10.0.0.5:6379');
    logger.error({ err: new Error('cannot reach redis://:s3cret@10.0.0.5:6379') }, 'failed');
    expect(lines.join('')).not.toContain('s3cret');
    expect(lines[0]).toContain('"redisUrl":"redis://:[redacted]@10.0.0.5:6379/0"');
    expect(lines[1]).toContain('rediss://admin:[redacted]@a.example:6380,redis://b.example:6379');
    expect(lines[2]).toContain('redis://worker:[redacted]@10.0.0.5:6379');
  });

  it('leaves URLs without a password, and errors without a command, as they were', () => {
    const { logger, parsed } = capturingLogger();
    const error = Object.assign(new Error('bad item'), { code: 'fetch_failed', detail: { url: 'https://user@example.com/a' } });
    logger.error({ err: error, url: 'https://example.com:8443/x' }, 'plain');
    expect(parsed()[0]).toMatchObject({ url: 'https://example.com:8443/x', err: { code: 'fetch_failed', detail: { url: 'https://user@example.com/a' } } });
  });
});
