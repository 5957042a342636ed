/**
 * A redirector that answers in bytes undici's strict HTTP/1.1 parser refuses, where browsers are
 * lenient (RFC 9112: a bare LF ends a line, Transfer-Encoding overrides Content-Length, obs-fold
 * is read as a space). Those hops failed as `fetch_failed`, which the default policy allows as an
 * unreachable server, so a redirect to a blocklisted page passed as clean. Now `bad_response`:
 * permanent, and left to defaultErrorDecision (review).
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { decide } from '../../src/policy/decide.js';
import { DEFAULT_POLICY } from '../../src/policy/policy-config.js';
import { serveDuringTests, visitServer } from './unfurl-servers.js';

const RAW: Record<string, string> = {
  '/bare-lf': 'HTTP/1.1 302 Found\nlocation: /phish/x\ncontent-length: 0\nconnection: close\n\n',
  '/length-and-chunked': 'HTTP/1.1 302 Found\r\nlocation: /phish/x\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\n',
  '/folded-header': 'HTTP/1.1 302 Found\r\nx-a: 1\r\n  2\r\nlocation: /phish/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
};

const served = serveDuringTests((req, res) => {
  const raw = RAW[req.url ?? ''];
  if (raw === undefined) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<p>ok</p>');
  req.socket.end(raw);
});

describe('unfurl: a response undici cannot parse', () => {
  it.each(Object.keys(RAW))('%s ends the chain with bad_response (permanent), which the default policy reviews', async (path) => {
    const { result } = await visitServer(served.server, path, served.options);
    expect(result.error).toMatchObject({ code: 'bad_response', detail: { cause: expect.stringMatching(/^Response does not match the HTTP\/1\.1 protocol/) } });
    expect(ERROR_CODES.bad_response.permanent).toBe(true);
    expect(decide([], [{ ...result.error!, item: 0, partial: true }], DEFAULT_POLICY).decision).toBe('review');
  });
});
