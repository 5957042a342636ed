import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { unusedPort } from '../integration/unfurl-servers.js';

export interface PrivateRedis {
  port: number;
  /** `redis://:<password>@127.0.0.1:<port>` (no userinfo without a password). */
  url: string;
  /** An admin client on the current password; the caller quits it. */
  admin(password?: string): Redis;
  /** Kills the server (the outage a test needs, or the cleanup); resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free loopback port, nothing kept on disk: for tests that
 * change its password or take it down, which the shared Redis must never see.
 */
export async function startPrivateRedis(options: { password?: string } = {}): Promise<PrivateRedis> {
  const port = await unusedPort();
  // A directory of its own: a replica saves the RDB it syncs there (REPLICAOF), and a server
  // started where another left a dump.rdb would load that one's keys.
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-private-redis-'));
  // No wait before a replica's first sync: by default a primary waits 5 s for more replicas to
  // share a diskless transfer, the whole budget a failover test gives the link to come up.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--repl-diskless-sync-delay', '0'];
  if (options.password) args.push('--requirepass', options.password);
  const server: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  const admin = (password = options.password) =>
    new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 1, retryStrategy: () => null }).on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = admin();
    const up = await probe.ping().then(() => true, () => false);
    probe.disconnect();
    if (up) break;
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`redis-server on port ${port} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url: `redis://${options.password ? `:${options.password}@` : ''}127.0.0.1:${port}`,
    admin,
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = once(server, 'exit');
        server.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
