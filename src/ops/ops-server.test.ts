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
});
