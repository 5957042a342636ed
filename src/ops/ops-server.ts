import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetMetrics } from './metrics.js';

/** What /healthz reports: a reason comes with an unhealthy state when the caller knows one. */
export type Health = boolean | { healthy: boolean; reason?: string };

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/** The liveness path: the process and its event loop are alive (README, Running workers). */
export const LIVENESS_PATH = '/livez';
/** The readiness path: the worker takes jobs and Redis answers it (README, Running workers). */
export const READINESS_PATH = '/healthz';

/**
 * `GET /metrics` (Prometheus text), `GET /livez` and `GET /healthz`, on `port` of every interface
 * (IPv4 and IPv6).
 *
 * - `/livez` (liveness): 200 `{"alive":true}` whenever the process can answer at all, whatever
 *   the worker is doing: starting (Redis not reached yet), draining, or waiting out a Redis
 *   outage. It is answered on the event loop, so a loop blocked longer than the probe's timeout
 *   fails it; nothing else does, so an orchestrator restarts only a process a restart can help.
 * - `/healthz` (readiness): 200 `{"healthy":true}` while `isReady()` says so, else 503
 *   `{"healthy":false,"reason":...}` (the worker: while starting, while shutting down, and while
 *   Redis has not answered it for a while), so a load balancer or orchestrator stops counting
 *   on it, without restarting it.
 *
 * A query string is ignored (`/livez?verbose` is `/livez`).
 */
export async function startOpsServer(metrics: FleetMetrics, port: number, isReady: () => Health): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
      return;
    }
    if (req.method === 'GET' && path === LIVENESS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ alive: true }));
      return;
    }
    if (req.method === 'GET' && path === READINESS_PATH) {
      const health = isReady();
      const body = typeof health === 'boolean' ? { healthy: health } : health.healthy ? { healthy: true } : { healthy: false, ...(health.reason !== undefined && { reason: health.reason }) };
      res.writeHead(body.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(404).end();
  });
  // A port already taken fails the start-up (logged as such) instead of an unhandled 'error' event.
  // No host: Node listens on every interface, IPv6 and IPv4 alike (`::`, which also takes IPv4
  // connections as IPv4-mapped addresses, where the host has IPv6; else 0.0.0.0), so a probe or
  // scraper reaching the worker over IPv6 (`localhost` resolving to ::1 first, an IPv6-only pod
  // network) is answered too.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
