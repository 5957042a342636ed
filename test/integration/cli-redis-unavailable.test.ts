/** Operators' commands when Redis is down or hangs: one clear line and exit 1, not endless reconnect traces. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { closedPort, silentServer } from '../harness/redis.js';

const REDIS_COMMANDS = [
  ['status'],
  ['verdict', 'some-job'],
  ['blocklist', 'list'],
  ['blocklist', 'add', 'phish', 'evil.example'],
  ['hashset', 'list'],
  ['hashset', 'stats', 'some-set'],
];

describe('CLI commands when Redis is unavailable', () => {
  it('nothing listening: each fails fast with one redis_unavailable line naming the Redis, exit 1', async () => {
    const port = await closedPort();
    const results = await Promise.all(REDIS_COMMANDS.map((args) => runCli(args, { env: { REDIS_URL: `redis://127.0.0.1:${port}` }, timeoutMs: 15_000 })));
    for (const [i, result] of results.entries()) {
      expect({ command: REDIS_COMMANDS[i], code: result.code, stderr: result.stderr }).toEqual({
        command: REDIS_COMMANDS[i],
        code: 1,
        stderr: `abuse-scan: redis_unavailable: Redis at 127.0.0.1:${port} could not be reached (last connection error: connect ECONNREFUSED 127.0.0.1:${port})\n`,
      });
      expect(result.stdout).toBe('');
    }
  }, 30_000);

  it('a Redis that accepts connections and never answers: the command deadline ends it', async () => {
    const server = await silentServer();
    try {
      const result = await runCli(['blocklist', 'list'], { env: { REDIS_URL: `redis://127.0.0.1:${server.port}` }, timeoutMs: 15_000 });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`abuse-scan: redis_unavailable: Redis at 127.0.0.1:${server.port} did not answer within 5000 ms\n`);
      expect(result.durationMs).toBeLessThan(12_000);
    } finally {
      await server.close();
    }
  }, 30_000);
});
