import dgram from 'node:dgram';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { unfurl, type UnfurlOptions, type UnfurlResult } from '../../src/links/unfurl.js';

/** Local HTTP servers for the unfurl integration tests: 127.0.0.1, port 0, connections counted. */

export interface TestServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Request paths in arrival order. */
  requests: string[];
  /** TCP connections accepted. */
  connections: () => number;
  close: () => Promise<void>;
}

export async function startServer(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  const requests: string[] = [];
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port with nothing listening on it (bound, then released). */
/**
 * Unfurl options for chains served by `server` (on 127.0.0.1, which the guard refuses unless
 * allowed by address and port): short deadlines, and `lookup` for made-up names that should
 * resolve to it.
 */
export function unfurlOptionsFor(server: TestServer, lookup?: LookupFunction): UnfurlOptions {
  return { allowPrivateAddressesFor: [`127.0.0.1:${server.port}`], hopTimeoutMs: 2_000, totalTimeoutMs: 5_000, ...(lookup && { lookup }) };
}

/**
 * For one test file (or describe block): `handler`'s server, started before its tests and closed
 * after them, with unfurl options for it (unfurlOptionsFor). Both are there only once the tests run.
 */
export function serveDuringTests(handler: http.RequestListener): { readonly server: TestServer; readonly options: UnfurlOptions } {
  let started: { server: TestServer; options: UnfurlOptions } | undefined;
  beforeAll(async () => {
    const server = await startServer(handler);
    started = { server, options: unfurlOptionsFor(server) };
  });
  afterAll(async () => {
    await started?.server.close();
  });
  const current = () => {
    if (!started) throw new Error('the test server starts in beforeAll: read it inside tests and hooks');
    return started;
  };
  return {
    get server() {
      return current().server;
    },
    get options() {
      return current().options;
    },
  };
}

/** Unfurls `path` on `server` and reports the request targets (path and query) it made there. */
export async function visitServer(server: TestServer, path: string, options: UnfurlOptions): Promise<{ result: UnfurlResult; requested: string[] }> {
  const before = server.requests.length;
  const result = await unfurl(`${server.origin}${path}`, options);
  return { result, requested: server.requests.slice(before) };
}

export async function unusedPort(): Promise<number> {
  const server = await startServer(() => undefined);
  await server.close();
  return server.port;
}

/** Records every connection undici is about to open (`host:port`), in this process. */
export function watchConnectAttempts(): { attempts: string[]; stop: () => void } {
  const attempts: string[] = [];
  const listener = (message: unknown) => {
    const { connectParams } = message as { connectParams: { hostname: string; port: string } };
    attempts.push(`${connectParams.hostname}:${connectParams.port}`);
  };
  diagnosticsChannel.subscribe('undici:client:beforeConnect', listener);
  return { attempts, stop: () => diagnosticsChannel.unsubscribe('undici:client:beforeConnect', listener) };
}

export function redirect(res: http.ServerResponse, status: number, location: string): void {
  res.writeHead(status, { location, 'content-length': '0' });
  res.end();
}

/** The answer to a path a test server does not serve. */
export function notFound(res: http.ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}

export function html(res: http.ServerResponse, body: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/**
 * A resolver under test control: call N answers `answers[N]` (the last one from then on), with
 * every address of it when asked for all (as Node's autoSelectFamily does). `calls` records
 * whether each call asked for all answers.
 */
export function lookupAnswering(...answers: string[][]): { lookup: LookupFunction; calls: Array<{ all: boolean }> } {
  const calls: Array<{ all: boolean }> = [];
  const lookup = ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const addresses = answers[Math.min(calls.length, answers.length - 1)]!.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    calls.push({ all: options.all === true });
    if (options.all) return process.nextTick(callback, null, addresses);
    return process.nextTick(callback, null, addresses[0]!.address, addresses[0]!.family);
  }) as unknown as LookupFunction;
  return { lookup, calls };
}

/**
 * A server on 127.0.0.2 at `port` (another test server's, on 127.0.0.1): the refused half of a
 * DNS answer that also holds an allowed address. Counts the TCP connections it accepts.
 */
export async function startSibling(port: number): Promise<{ connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = http.createServer((_req, res) => res.end('sibling'));
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.2', resolve));
  return {
    connections: () => connections,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A lookup that never calls back: a name whose DNS never answers. */
export const lookupNeverAnswering = ((() => undefined) as unknown) as LookupFunction;

/**
 * A DNS server on 127.0.0.1 (UDP, port 0) for `dnsServers`: answers A queries for the names in
 * `answers` with their IPv4 address, every other query it answers with no record, except names
 * ending in `neverAnswered`, which it ignores (an authoritative server that never replies).
 */
export async function startDnsServer(answers: Record<string, string>, neverAnswered = '.slow.test'): Promise<{ server: string; ignored: () => number; close: () => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  let ignored = 0;
  socket.on('message', (query, peer) => {
    const labels: string[] = [];
    let at = 12;
    while (query[at]) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString());
      at += query[at]! + 1;
    }
    const name = labels.join('.').toLowerCase();
    const end = at + 5; // the root label, QTYPE, QCLASS
    if (name.endsWith(neverAnswered)) return void ignored++;
    const address = query.readUInt16BE(end - 4) === 1 ? answers[name] : undefined;
    const header = Buffer.from(query.subarray(0, 12));
    header[2] = 0x84 | (query[2]! & 1); // a response, authoritative, RD echoed
    header[3] = 0;
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(address ? 1 : 0, 6);
    header.writeUInt32BE(0, 8);
    const record = address ? [Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]), Buffer.from(address.split('.').map(Number))] : [];
    socket.send(Buffer.concat([header, query.subarray(12, end), ...record]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    ignored: () => ignored,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
