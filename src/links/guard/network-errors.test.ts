import { describe, expect, it } from 'vitest';
import { ScanError } from '../../errors.js';
import { INTERIM_RESPONSES_OVERFLOW, STATUS_LINE_JUNK, toNetworkError } from './network-errors.js';

function withCode(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('toNetworkError', () => {
  it.each([
    ['ENOTFOUND', 'dns_failed'],
    ['EAI_AGAIN', 'dns_failed'],
    ['ECONNREFUSED', 'fetch_failed'],
    ['ECONNRESET', 'fetch_failed'],
    ['EHOSTUNREACH', 'fetch_failed'],
    ['UND_ERR_SOCKET', 'fetch_failed'],
    ['UND_ERR_CONNECT_TIMEOUT', 'fetch_timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'fetch_timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'fetch_timeout'],
    ['ETIMEDOUT', 'fetch_timeout'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_failed'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls_failed'],
    ['CERT_HAS_EXPIRED', 'tls_failed'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls_failed'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls_failed'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'tls_failed'],
  ])('%s -> %s, keeping the original code', (code, expected) => {
    const error = toNetworkError(withCode(code), { url: 'http://x/' });
    expect(error.code).toBe(expected);
    expect(error.detail).toEqual({ url: 'http://x/', cause: code });
  });

  it.each([['ETIMEOUT'], ['ECONNREFUSED'], ['EREFUSED'], ['ENOTFOUND']])('a c-ares query failing with %s is dns_failed', (code) => {
    const error = Object.assign(new Error(`queryA ${code} x.example`), { code, syscall: 'queryA', hostname: 'x.example' });
    expect(toNetworkError(error, { url: 'http://x.example/' })).toMatchObject({ code: 'dns_failed', detail: { url: 'http://x.example/', cause: code } });
  });

  it("a response undici's HTTP/1.1 parser refuses is bad_response (the server answered), not fetch_failed", () => {
    const error = Object.assign(new Error('Response does not match the HTTP/1.1 protocol (Missing expected CR after response line)'), { name: 'HTTPParserError' });
    expect(toNetworkError(error, { url: 'http://x/' })).toMatchObject({ code: 'bad_response', permanent: true, detail: { url: 'http://x/', cause: error.message } });
  });

  it.each([['bad response'], ['bad upgrade']])("undici's SocketError '%s' (an interim 100 or 101 it refused) is bad_response, not fetch_failed", (message) => {
    const error = Object.assign(new Error(message), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
    expect(toNetworkError(error, { url: 'http://x/' })).toMatchObject({ code: 'bad_response', permanent: true, detail: { url: 'http://x/', cause: `UND_ERR_SOCKET: ${message}` } });
  });

  it.each([['UND_ERR_HEADERS_OVERFLOW'], [INTERIM_RESPONSES_OVERFLOW]])('%s (header bytes, or interim responses, over the caps) is the permanent headers_too_large', (code) => {
    expect(toNetworkError(withCode(code), { url: 'http://x/' })).toMatchObject({ code: 'headers_too_large', permanent: true, detail: { url: 'http://x/', cause: code } });
    // As undici reports it: the socket's error, the cause of its fetch's TypeError.
    const fetchFailed = new TypeError('fetch failed', { cause: withCode(code) });
    expect(toNetworkError(fetchFailed)).toMatchObject({ code: 'headers_too_large', detail: { cause: code } });
  });

  it(`${STATUS_LINE_JUNK} (more line ends before a status line than Chromium skips) is the permanent bad_response`, () => {
    expect(toNetworkError(withCode(STATUS_LINE_JUNK), { url: 'http://x/' })).toMatchObject({ code: 'bad_response', permanent: true, detail: { url: 'http://x/', cause: STATUS_LINE_JUNK } });
    expect(toNetworkError(new TypeError('fetch failed', { cause: withCode(STATUS_LINE_JUNK) }))).toMatchObject({ code: 'bad_response', detail: { cause: STATUS_LINE_JUNK } });
  });

  it('any other UND_ERR_SOCKET (the other side closed, a reset) stays fetch_failed', () => {
    expect(toNetworkError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })).code).toBe('fetch_failed');
  });

  it("a TLS server's no_application_protocol alert (it speaks only HTTP/2) is bad_response: it answered, browsers would have spoken h2", () => {
    const alert = Object.assign(new Error('SSL alert number 120'), { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
    expect(toNetworkError(alert, { url: 'https://x/' })).toMatchObject({ code: 'bad_response', permanent: true, detail: { url: 'https://x/', cause: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' } });
  });

  it.each([['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'], ['ERR_SSL_WRONG_VERSION_NUMBER']])('the TLS failure %s, which browsers meet alike, stays fetch_failed', (code) => {
    expect(toNetworkError(withCode(code)).code).toBe('fetch_failed');
  });

  it('a connection that ends mid-response (the parser\'s Invalid EOF state) is fetch_failed, as a reset is', () => {
    const error = Object.assign(new Error('Response does not match the HTTP/1.1 protocol (Invalid EOF state)'), { name: 'HTTPParserError' });
    expect(toNetworkError(error).code).toBe('fetch_failed');
  });

  it('maps an AbortSignal.timeout reason to fetch_timeout', () => {
    expect(toNetworkError(new DOMException('timed out', 'TimeoutError')).code).toBe('fetch_timeout');
  });

  it('passes a ScanError through, even wrapped as a cause', () => {
    const blocked = new ScanError('blocked_address');
    expect(toNetworkError(blocked)).toBe(blocked);
    expect(toNetworkError(new Error('wrapped', { cause: blocked }))).toBe(blocked);
  });

  it('looks inside AggregateError (happy eyeballs tried several addresses)', () => {
    const error = new AggregateError([withCode('ECONNREFUSED'), withCode('ETIMEDOUT')], 'all failed');
    expect(toNetworkError(error).code).toBe('fetch_timeout');
  });

  it('anything else is fetch_failed', () => {
    expect(toNetworkError('weird').code).toBe('fetch_failed');
  });
});
