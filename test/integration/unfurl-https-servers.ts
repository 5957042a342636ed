import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { IncomingHttpHeaders, IncomingMessage, RequestListener } from 'node:http';
import type { UnfurlOptions } from '../../src/links/unfurl-types.js';
import { lookupAnswering } from './unfurl-servers.js';

/**
 * Local HTTPS servers for the unfurl tests, with a certificate for `phish-kit.app`,
 * `*.phish-kit.app` and `*.example.com` (ECDSA P-256, self-signed, valid until 2126; made with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
 * -subj /CN=phish-kit.app -addext "subjectAltName=DNS:phish-kit.app,DNS:*.phish-kit.app,DNS:*.example.com"`).
 * The key is public: for tests only. Other names (`*.example.net`, `*.dev`) get a certificate
 * that is not theirs: a TLS failure.
 */
export const TEST_TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYXmHVXs+juuTh/JF
fHPjLXYk5GPnf5fGcwkEC83OQiuhRANCAARukCIdE2BDrAJKgtjguOPeytQdkPkD
+J5NFqJ2GE3m+O8JpexjLa4WGPJqJTqiIcKVkUdK0+9RIyCD/isFJWh9
-----END PRIVATE KEY-----`;
export const TEST_TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBwjCCAWmgAwIBAgIUXVDAR/hoPqm9+LLB7F6DM/baIPYwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcGhpc2gta2l0LmFwcDAgFw0yNjExMjUwNzM4NDZaGA8yMTI2
MTEwMTA3Mzg0NlowGDEWMBQGA1UEAwwNcGhpc2gta2l0LmFwcDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABG6QIh0TYEOsAkqC2OC4497K1B2Q+QP4nk0WonYYTeb4
7wml7GMtrhYY8molOqIhwpWRR0rT71EjIIP+KwUlaH2jgY4wgYswHQYDVR0OBBYE
FFHYb9WyAu90w4TYGj+LMlev/N57MB8GA1UdIwQYMBaAFFHYb9WyAu90w4TYGj+L
Mlev/N57MA8GA1UdEwEB/wQFMAMBAf8wOAYDVR0RBDEwL4INcGhpc2gta2l0LmFw
cIIPKi5waGlzaC1raXQuYXBwgg0qLmV4YW1wbGUuY29tMAoGCCqGSM49BAMCA0cA
MEQCID0NWwTU2wTDLDwDQHA32HbiqL5sB6AjFU7wFu89cbXiAiAjiTReIkNcHebw
LGTyjeY1oDWANooksD7YDPeQaLTiXQ==
-----END CERTIFICATE-----`;

/**
 * Makes this process's TLS connections trust TEST_TLS_CERT besides the usual roots, until the
 * returned function is called: the unfurler has no option to trust a CA (a production knob
 * nobody should turn), so the test adds it where undici opens its TLS sockets (`tls.connect`).
 */
export function trustTestCertificate(): () => void {
  const original = tls.connect;
  const ca = [...tls.rootCertificates, TEST_TLS_CERT];
  (tls as { connect: unknown }).connect = ((options: tls.ConnectionOptions, ...rest: unknown[]) =>
    (original as (...args: unknown[]) => tls.TLSSocket)({ ...options, ca }, ...rest)) as typeof tls.connect;
  return () => {
    (tls as { connect: unknown }).connect = original;
  };
}

export interface TestHttpsServer {
  port: number;
  /** `host path` of each request, in arrival order (the Host header without its port). */
  requests: string[];
  /** Request headers, in arrival order. */
  headers: IncomingHttpHeaders[];
  /** TLS connections whose handshake completed. */
  secureConnections: () => number;
  close: () => Promise<void>;
}

export async function startHttpsServer(handler: RequestListener): Promise<TestHttpsServer> {
  const requests: string[] = [];
  const headers: IncomingHttpHeaders[] = [];
  let secureConnections = 0;
  const server = https.createServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, (req, res) => {
    requests.push(`${(req.headers.host ?? '').replace(/:\d+$/, '')} ${req.url ?? ''}`);
    headers.push(req.headers);
    handler(req, res);
  });
  server.on('secureConnection', () => secureConnections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    requests,
    headers,
    secureConnections: () => secureConnections,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Unfurl options reaching `plain` (http) and `secure` (https) on 127.0.0.1, whatever host a URL
 * names (every name resolves there), with hop and chain timeouts for tests. With `asDefaultPorts`,
 * their ports stand for 80 and 443 to the https-first rules (httpsUpgradePortsForTesting).
 */
export function localHttpsOptions(plain: { port: number }, secure: { port: number }, { asDefaultPorts = true, ...overrides }: Partial<UnfurlOptions> & { asDefaultPorts?: boolean } = {}): UnfurlOptions {
  return {
    allowPrivateAddressesFor: [`127.0.0.1:${plain.port}`, `127.0.0.1:${secure.port}`],
    ...(asDefaultPorts && { httpsUpgradePortsForTesting: { http: plain.port, https: secure.port } }),
    lookup: lookupAnswering(['127.0.0.1']).lookup,
    hopTimeoutMs: 5_000,
    totalTimeoutMs: 10_000,
    ...overrides,
  };
}

/** The host a request names, without its port (test servers tell hosts apart by it). */
export function hostOf(req: IncomingMessage): string {
  return (req.headers.host ?? '').replace(/:\d+$/, '');
}
