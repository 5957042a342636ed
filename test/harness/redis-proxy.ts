import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TEST_REDIS_URL } from './redis.js';

export interface RedisProxy {
  /** `redis://127.0.0.1:<port>`: connect through this to reach the test Redis. */
  url: string;
  /** Redis goes away: every connection through the proxy is cut and new ones are refused. */
  down(): void;
  /** Redis is back on the same port, with its data (the test Redis never went anywhere). */
  up(): Promise<void>;
  /**
   * New connections go to the Redis on `port` (127.0.0.1) from now on; connections made before
   * stay where they are: a failover behind a stable address (a VIP, a DNS name).
   */
  pointAt(port: number): void;
  /**
   * The connections open now go silent without closing, both ways (a NAT or conntrack entry
   * dropped, a failover behind a VIP, a half-open partition): what either side sends is taken and
   * never passed on, a FIN included. Connections made later work.
   */
  silence(): void;
  /** How many connections the proxy has accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to the test Redis (or the one on `targetPort`) that can be cut and restored on the
 * same port (an outage that loses no data) or pointed elsewhere (a failover).
 */
export async function redisProxy(options: { targetPort?: number } = {}): Promise<RedisProxy> {
  const testRedis = new URL(TEST_REDIS_URL);
  let target = options.targetPort === undefined ? { host: testRedis.hostname, port: Number(testRedis.port || 6379) } : { host: '127.0.0.1', port: options.targetPort };
  const sockets = new Set<Socket>();
  let accepted = 0;
  let server: Server;
  const listen = async (port: number) => {
    server = createServer((client) => {
      accepted++;
      const upstream = createConnection(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const port = await listen(0);
  let listening = true;
  const cut = () => {
    if (listening) server.close();
    listening = false;
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    down: cut,
    up: async () => {
      if (!listening) await listen(port);
      listening = true;
    },
    pointAt: (port) => void (target = { host: '127.0.0.1', port }),
    silence() {
      // Unpiped, a socket is paused: it reads nothing more, so not even its peer's FIN.
      for (const socket of sockets) socket.unpipe();
    },
    accepted: () => accepted,
    close: async () => cut(),
  };
}
