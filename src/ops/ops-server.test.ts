import { createServer as createNetServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FleetMetrics } from './metrics.js';
import { startOpsServer } from './ops-server.js';

describe('ops server', () => {
  it('answers /healthz 200 while healthy, 503 once draining, and serves /metrics', async () => {
    let healthy: boolean | { healthy: boolean; reason?: string } = true;
    const metrics = new FleetMetrics();
    metrics.verdicts.inc({ queue: 'links', decision: 'block' });
    const server = await startOpsServer(metrics, 0, () => healthy);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      healthy = false;
      const draining = await fetch(`${base}/healthz`);
      expect(draining.status).toBe(503);
      expect(await draining.json()).toEqual({ healthy: false });
      healthy = { healthy: false, reason: 'shared connection (Redis at 127.0.0.1:6379): has not answered for 21 s' };
      const silent = await fetch(`${base}/healthz`);
      expect(silent.status).toBe(503);
      expect(await silent.json()).toEqual(healthy);
      healthy = { healthy: true };
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('abuse_scan_verdicts_total{queue="links",decision="block"} 1');
      expect((await fetch(`${base}/nothing`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('answers /livez 200 whatever readiness says (starting, Redis silent, draining), and never asks it', async () => {
    let asked = 0;
    let ready: { healthy: boolean; reason?: string } = { healthy: false, reason: 'not taking jobs (starting)' };
    const server = await startOpsServer(new FleetMetrics(), 0, () => {
      asked++;
      return ready;
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      for (const state of [
        { healthy: false, reason: 'not taking jobs (starting)' },
        { healthy: false, reason: 'shared connection (Redis at 127.0.0.1:6379): has not answered for 21 s' },
        { healthy: true },
        { healthy: false, reason: 'not taking jobs (shutting down)' },
      ]) {
        ready = state;
        const live = await fetch(`${base}/livez`);
        expect(live.status).toBe(200);
        expect(await live.json()).toEqual({ alive: true });
        const readiness = await fetch(`${base}/healthz`);
        expect(readiness.status).toBe(state.healthy ? 200 : 503);
        expect(await readiness.json()).toEqual(state);
      }
      expect(asked).toBe(4); // /healthz only
      // A probe's query string does not matter; other methods and paths are not served.
      expect((await fetch(`${base}/livez?verbose=1`)).status).toBe(200);
      expect((await fetch(`${base}/healthz?x`)).status).toBe(503);
      expect((await fetch(`${base}/livez`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${base}/readyz`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('answers /metrics before any backlog source is set (a worker still starting): no backlog series', async () => {
    const server = await startOpsServer(new FleetMetrics({ defaultMetrics: true, prefix: '{fleet-a}' }), 0, () => false);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      const samples = (await response.text()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      expect(samples.some((line) => line.startsWith('abuse_scan_process_cpu_seconds_total'))).toBe(true);
      for (const gauge of ['abuse_scan_queue_jobs', 'abuse_scan_verdict_stream_entries', 'abuse_scan_verdict_consumer_lag', 'abuse_scan_verdict_consumer_pending']) {
        expect(samples.filter((line) => line.startsWith(gauge)), gauge).toEqual([]);
      }
    } finally {
      await server.close();
    }
  });
});

/** Whether this machine has an IPv6 loopback to listen on (a container or host may have IPv6 off). */
async function hasIpv6Loopback(): Promise<boolean> {
  const probe = createNetServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '::1', () => resolve());
    });
    return true;
  } catch (error) {
    // EADDRNOTAVAIL (no ::1) or EAFNOSUPPORT (no IPv6 at all); anything else is a real failure.
    if (['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  } finally {
    if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  }
}

describe('ops server addresses', () => {
  it('answers /healthz on all interfaces: IPv4 127.0.0.1 and, where the machine has it, IPv6 [::1]', async () => {
    const server = await startOpsServer(new FleetMetrics(), 0, () => true);
    try {
      const ipv4 = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      expect(ipv4.status).toBe(200);
      expect(await ipv4.json()).toEqual({ healthy: true });
      if (await hasIpv6Loopback()) {
        const ipv6 = await fetch(`http://[::1]:${server.port}/healthz`);
        expect(ipv6.status).toBe(200);
        expect(await ipv6.json()).toEqual({ healthy: true });
      } else {
        console.warn('no IPv6 loopback on this machine: the [::1] check is skipped');
      }
    } finally {
      await server.close();
    }
  });
});
