import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_RESPONSE_HEADER_BYTES, originKey, skipInterimResponses } from './connector.js';

describe('originKey', () => {
  it('fills in the default port', () => {
    expect(originKey('http:', 'example.com', '')).toBe('http://example.com:80');
    expect(originKey('https:', 'example.com', '')).toBe('https://example.com:443');
    expect(originKey('http:', 'example.com', '8080')).toBe('http://example.com:8080');
  });

  it('spells an IPv6 host the same whether it comes from undici (`::1`) or a URL (`[::1]`)', () => {
    const fromConnector = originKey('http:', '::1', 8080);
    const url = new URL('http://[::1]:8080/');
    expect(originKey(url.protocol, url.hostname, url.port)).toBe(fromConnector);
    expect(fromConnector).toBe('http://[::1]:8080');
  });
});

describe('skipInterimResponses', () => {
  const REDIRECT = 'HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n';
  /** A stream read as undici reads a socket (`read()` with no size), with `pieces` pushed in turn. */
  function readAll(pieces: string[]): { reads: Array<string | null>; text: string } {
    const stream = new PassThrough();
    skipInterimResponses(stream as unknown as Socket);
    const reads: Array<string | null> = [];
    for (const piece of pieces) {
      stream.write(piece);
      const chunk = stream.read() as Buffer | null;
      reads.push(chunk === null ? null : chunk.toString('latin1'));
    }
    return { reads, text: reads.filter((r) => r !== null).join('') };
  }

  it('drops the interim responses a connection starts with, 100, 101 and the others', () => {
    const interim = 'HTTP/1.1 100 Continue\r\n\r\nhttp/1.0 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nHTTP/1.1 103 Early Hints\nLink: </s>\n\n';
    expect(readAll([interim + REDIRECT]).text).toBe(REDIRECT);
    expect(readAll([...interim + REDIRECT]).text).toBe(REDIRECT);
  });

  it('holds nothing back from a response that is not interim, and then reads as before', () => {
    expect(readAll(['HTTP/1.1 302', ' Found\r\nLocation: /x\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n']).reads).toEqual(['HTTP/1.1 302', ' Found\r\nLocation: /x\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n']);
    expect(readAll(['H', 'X']).reads).toEqual([null, 'HX']);
    expect(readAll(['HTTP/1.1 1000 Odd\r\n\r\n']).text).toBe('HTTP/1.1 1000 Odd\r\n\r\n');
  });

  it("hands an interim response over the header cap to undici as it came, ended or not (undici's cap then refuses it)", () => {
    const huge = `HTTP/1.1 100 Continue\r\nX-Pad: ${'a'.repeat(MAX_RESPONSE_HEADER_BYTES)}\r\n\r\n`;
    expect(readAll([huge + REDIRECT]).text).toBe(huge + REDIRECT);
    expect(readAll([huge.slice(0, 100_000), huge.slice(100_000, 200_000), huge.slice(200_000), REDIRECT]).text).toBe(huge + REDIRECT);
  });
});
