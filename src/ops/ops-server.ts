import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetMetrics } from './metrics.js';

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `GET /metrics` (Prometheus text) and `GET /healthz` (200 while `isHealthy()`, 503 once the
 * process is shutting down, so a load balancer or orchestrator stops counting on it).
 */
export async function startOpsServer(metrics: FleetMetrics, port: number, isHealthy: () => boolean): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      const healthy = isHealthy();
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ healthy }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
