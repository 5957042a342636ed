import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_INTERIM_RESPONSES, MAX_RESPONSE_HEADER_BYTES, MAX_STATUS_LINE_JUNK, originKey, skipInterimResponses } from './connector.js';
import { INTERIM_RESPONSES_OVERFLOW, STATUS_LINE_JUNK, toNetworkError } from './network-errors.js';

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
  function readAll(pieces: string[]): { reads: Array<string | null>; text: string; destroyed: boolean; error: () => Error | undefined } {
    const stream = new PassThrough();
    let error: Error | undefined;
    stream.on('error', (e: Error) => (error = e));
    skipInterimResponses(stream as unknown as Socket);
    const reads: Array<string | null> = [];
    for (const piece of pieces) {
      if (stream.destroyed) break;
      stream.write(piece);
      const chunk = stream.read() as Buffer | null;
      reads.push(chunk === null ? null : chunk.toString('latin1'));
    }
    return { reads, text: reads.filter((r) => r !== null).join(''), destroyed: stream.destroyed, error: () => error };
  }
  /** Waits for the stream's 'error' event (emitted on the next tick after destroy). */
  const tick = () => new Promise((resolve) => setImmediate(resolve));

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

  it('destroys the connection, as headers_too_large, when small interim responses add up past the header cap', async () => {
    // 15 blocks of ~20 KiB (under the count cap): 300 KiB in all, each block far under the cap.
    const block = `HTTP/1.1 103 Early Hints\r\nLink: <${'a'.repeat(20 * 1024)}>\r\n\r\n`;
    const run = readAll([...Array.from({ length: 15 }, () => block), REDIRECT]);
    expect(run.destroyed).toBe(true);
    expect(run.text).toBe('');
    expect(run.reads.length).toBeLessThanOrEqual(Math.ceil(MAX_RESPONSE_HEADER_BYTES / block.length) + 1);
    await tick();
    expect(run.error()).toMatchObject({ code: INTERIM_RESPONSES_OVERFLOW });
    expect(toNetworkError(run.error(), { url: 'http://x/' })).toMatchObject({ code: 'headers_too_large', permanent: true, detail: { url: 'http://x/', cause: INTERIM_RESPONSES_OVERFLOW } });
    // Arriving at once, or a block cut off before its end: the same.
    const atOnce = readAll([block.repeat(15) + REDIRECT]);
    expect(atOnce.destroyed).toBe(true);
    expect(atOnce.text).toBe('');
    const cut = readAll([block.repeat(12), 'HTTP/1.1 100 Continue\r\nX-Pad: ' + 'a'.repeat(20 * 1024)]);
    expect(cut.destroyed).toBe(true);
  });

  it(`skips ${MAX_INTERIM_RESPONSES} interim responses, and destroys the connection, as headers_too_large, on one more`, async () => {
    const block = 'HTTP/1.1 100 Continue\r\n\r\n';
    expect(readAll([block.repeat(MAX_INTERIM_RESPONSES) + REDIRECT]).text).toBe(REDIRECT);
    for (const pieces of [[block.repeat(MAX_INTERIM_RESPONSES + 1) + REDIRECT], Array.from({ length: MAX_INTERIM_RESPONSES + 1 }, () => block)]) {
      const run = readAll(pieces);
      expect(run.destroyed).toBe(true);
      expect(run.text).toBe('');
      await tick();
      expect(toNetworkError(run.error())).toMatchObject({ code: 'headers_too_large' });
    }
  });

  it('drops line ends before a status line (at the start, between blocks), as undici skips them: an interim response after them is still skipped', () => {
    for (const lead of ['\r\n', '\n', '\r', '\r\n\r\n']) {
      expect(readAll([`${lead}HTTP/1.1 100 Continue\r\n\r\n${REDIRECT}`]).text).toBe(REDIRECT);
      expect(readAll([...`${lead}HTTP/1.1 100 Continue\r\n\r\n${lead}HTTP/1.1 103 Early Hints\r\n\r\n${lead}${REDIRECT}`]).text).toBe(REDIRECT);
    }
    // Before a response that is not interim: undici skips them as well.
    expect(readAll(['\r\n', REDIRECT]).text).toBe(REDIRECT);
    expect(readAll(['\r\n', REDIRECT]).reads[0]).toBeNull();
  });

  it.each([
    ['\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n'],
    ['\n', 'HTTP/1.1 100 Continue\r\n\r\n'],
    ['\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n\r\n'],
  ])('%j and then interim responses for ever: destroyed as headers_too_large at the count cap, as without the line ends', async (lead, block) => {
    for (const pieces of [[lead + block.repeat(MAX_INTERIM_RESPONSES + 1) + REDIRECT], [lead, ...Array.from({ length: MAX_INTERIM_RESPONSES + 1 }, () => block)]]) {
      const run = readAll(pieces);
      expect(run.destroyed).toBe(true);
      expect(run.text).toBe('');
      await tick();
      expect(toNetworkError(run.error())).toMatchObject({ code: 'headers_too_large', detail: { cause: INTERIM_RESPONSES_OVERFLOW } });
    }
  });

  it(`destroys the connection, as bad_response, on more than ${MAX_STATUS_LINE_JUNK} line ends before a status line (Chromium reads no HTTP/1.x response there)`, async () => {
    const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
    for (const pieces of [
      ['\r\n\r\n\r\n' + CONTINUE + REDIRECT],
      ['\n'.repeat(MAX_STATUS_LINE_JUNK + 1) + REDIRECT],
      ['\r\n', '\r\n', '\r', CONTINUE],
      [CONTINUE + '\r\n\r\n\r\n' + CONTINUE],
    ]) {
      const run = readAll(pieces);
      expect(run.destroyed).toBe(true);
      expect(run.text).toBe('');
      await tick();
      expect(run.error()).toMatchObject({ code: STATUS_LINE_JUNK });
      expect(toNetworkError(run.error())).toMatchObject({ code: 'bad_response', permanent: true });
    }
  });
});
