/**
 * An https redirector that speaks only HTTP/2 (`allowHTTP1: false`). The guarded agent offers
 * http/1.1 alone in ALPN, so the server ends the handshake with a `no_application_protocol`
 * alert; every browser offers h2 and follows its redirect. That ended the chain in `fetch_failed`,
 * which the default policy allows as an unreachable server: a blocklisted landing behind such a
 * redirector passed as clean. It is `bad_response` now (permanent, reviewed by default): the
 * server answered, in a protocol the unfurler does not speak.
 *
 * HTTP/2 itself is not enabled (`allowH2`): undici's HTTP/2 client takes none of the guarded
 * agent's header limits (Node's defaults apply: more than 128 header fields reset the stream,
 * a 200 KB header stalls it to the headers timeout, where HTTP/1.1 takes 256 KiB as Chromium
 * does), and `reset` does not close its sessions, which then hold their per-address slots. The
 * last test pins that a server speaking both is still read over HTTP/1.1.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { unfurl } from '../../src/links/unfurl.js';
import { decide } from '../../src/policy/decide.js';
import { DEFAULT_POLICY } from '../../src/policy/policy-config.js';
import { localHttpsOptions, TEST_TLS_CERT, TEST_TLS_KEY, trustTestCertificate } from './unfurl-https-servers.js';

interface Http2TestServer {
  port: number;
  /** `:authority :path` of each HTTP/2 request, and `host path` of each HTTP/1.1 one, in arrival order. */
  requests: string[];
  close: () => Promise<void>;
}

/** An https server for `phish-kit.app` (the test certificate) that redirects `/r` to `/landing/` and serves that. */
async function startHttp2Server(allowHTTP1: boolean): Promise<Http2TestServer> {
  const requests: string[] = [];
  const server = http2.createSecureServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT, allowHTTP1 }, (req, res) => {
    requests.push(`${(req.authority ?? req.headers.host ?? '').replace(/:\d+$/, '')} ${req.url} HTTP/${req.httpVersion}`);
    if (req.url === '/r') return void res.writeHead(302, { location: `https://landing.phish-kit.app:${req.socket.localPort}/landing/`, 'content-length': '0' }).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>landing</p>');
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let untrust: () => void;
beforeAll(() => {
  untrust = trustTestCertificate();
});
afterAll(() => untrust());

describe('unfurl: an https server speaking only HTTP/2', () => {
  let server: Http2TestServer;
  beforeAll(async () => {
    server = await startHttp2Server(false);
  });
  afterAll(async () => {
    await server.close();
  });

  it('ends the chain with bad_response (permanent, reviewed by default), not the allowed fetch_failed', async () => {
    const result = await unfurl(`https://phish-kit.app:${server.port}/r`, localHttpsOptions(server, server, { asDefaultPorts: false }));
    expect(result.error).toMatchObject({ code: 'bad_response', detail: { cause: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' } });
    expect(result.chain).toEqual([]);
    expect(server.requests).toEqual([]);
    expect(ERROR_CODES.bad_response.permanent).toBe(true);
    expect(decide([], [{ ...result.error!, item: 0, partial: true }], DEFAULT_POLICY).decision).toBe('review');
  });
});

describe('unfurl: an https server speaking HTTP/2 and HTTP/1.1', () => {
  let server: Http2TestServer;
  beforeAll(async () => {
    server = await startHttp2Server(true);
  });
  afterAll(async () => {
    await server.close();
  });

  it('is read over HTTP/1.1, its redirect followed', async () => {
    const result = await unfurl(`https://phish-kit.app:${server.port}/r`, localHttpsOptions(server, server, { asDefaultPorts: false }));
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => hop.status)).toEqual([302, 200]);
    expect(server.requests).toEqual(['phish-kit.app /r HTTP/1.1', 'landing.phish-kit.app /landing/ HTTP/1.1']);
  });
});
