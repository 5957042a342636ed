import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { exitOf, spawnWorkerProcess, waitForWorkerStart, waitUntil } from '../harness/fleet.js';
import { removeTestKeys, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { unusedPort } from './unfurl-servers.js';

/**
 * A TCP proxy to the test Redis that can go silent: what it holds stops forwarding without
 * closing (a dropped NAT or conntrack entry, a failover behind a VIP, a half-open partition),
 * and connections made while it is silent are accepted and never answered; once restored, new
 * connections work again while the silenced ones stay silent.
 */
async function silenceableProxy() {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<Socket>();
  const silenced = new WeakSet<Socket>();
  let silent = false;
  const server = createServer((client) => {
    const upstream = createConnection(Number(target.port || 6379), target.hostname);
    if (silent) silenced.add(client);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (data) => void (silenced.has(client) || upstream.write(data)));
    upstream.on('data', (data) => void (silenced.has(client) || client.write(data)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    silence() {
      silent = true;
      for (const socket of sockets) silenced.add(socket);
    },
    restore: () => void (silent = false),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a worker whose Redis connections go silent without closing', () => {
  const prefix = uniquePrefix('half-open');
  afterAll(() => removeTestKeys(prefix));

  it('reports 503 with a reason while Redis does not answer, then reconnects, takes the waiting jobs and is healthy again', async () => {
    const proxy = await silenceableProxy();
    const port = await unusedPort();
    const worker = spawnWorkerProcess(prefix, {
      REDIS_URL: proxy.url,
      ABUSE_SCAN_METRICS_PORT: String(port),
      ABUSE_SCAN_REDIS_HEALTH_TIMEOUT_MS: '2000',
    });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const health = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: response.status, body: (await response.json()) as { healthy: boolean; reason?: string } };
    };
    try {
      await waitForWorkerStart(worker);
      expect((await health()).status).toBe(200);

      proxy.silence();
      const jobs = await Promise.all(
        ['half-open-1', 'half-open-2'].map((contentId) => client.enqueue({ contentId, surface: 'send', items: [`https://${contentId}.example/`] })),
      );
      expect(await waitUntil(async () => (await health()).status === 503, 5000, 100)).toBe(true);
      expect((await health()).body).toMatchObject({ healthy: false, reason: expect.stringMatching(/has not answered for \d+ s/) });

      proxy.restore();
      const verdicts = await Promise.all(jobs.map(({ jobId }) => client.waitForVerdict(jobId, { timeoutMs: 6000 })));
      expect(verdicts.map((verdict) => verdict.jobId)).toEqual(jobs.map(({ jobId }) => jobId));
      expect(await waitUntil(async () => (await health()).status === 200, 3000, 100)).toBe(true);
      expect(worker.output()).toContain('Redis did not answer the liveness probe in time');

      worker.kill('SIGTERM');
      expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    } finally {
      worker.kill('SIGKILL');
      await client.close();
      await proxy.close();
    }
  }, 25_000);
});
