/**
 * A gzip body of about 200 KB that decodes to 200 MiB (or 250 MiB), with a Content-Length, from a
 * server that closes the connection after it. Reading it under backpressure paused undici's HTTP
 * parser; the server's FIN then hit undici 7's assert(!this.paused) in Parser.finish
 * (nodejs/undici#5360), an uncatchable AssertionError that killed the worker process. Each case
 * runs in a child process (under tsx: no build needed), so a regression fails the test instead of
 * killing the test worker.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from '../harness/cli.js';

const SIZES_MIB = [200, 250];
// Compressed once here (2 s or so each), not in every child.
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gzip-bomb-'));
  for (const mib of SIZES_MIB) writeFileSync(path.join(dir, `${mib}.gz`), zlib.gzipSync(Buffer.alloc(mib * 1024 * 1024)));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Serves the bomb on 127.0.0.1, reads it (several times: the crash was a race); prints one JSON line. */
const SCENARIO = `
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { unfurl } from './src/links/unfurl.ts';
import { fetchImage } from './src/links/fetch-image.ts';
process.removeAllListeners('warning'); // the private-address override warns on every call
const reader = process.env.READER;
const body = readFileSync(process.env.BODY_FILE); // zlib.gzipSync(Buffer.alloc(N MiB))
const contentType = reader === 'unfurl' ? 'text/html' : 'image/png';
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': contentType, 'content-encoding': 'gzip', 'content-length': body.length });
  res.end(body);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const allowPrivateAddressesFor = ['127.0.0.1:' + port];
const outcomes = [];
for (let i = 0; i < 3; i++) {
  if (reader === 'unfurl') {
    const result = await unfurl('http://127.0.0.1:' + port + '/', { allowPrivateAddressesFor });
    outcomes.push({ error: result.error?.code ?? null, body: result.chain[0]?.body ?? null });
  } else {
    const outcome = await fetchImage('http://127.0.0.1:' + port + '/a.png', { maxBytes: 20 * 1024 * 1024, timeoutMs: 15000, allowPrivateAddressesFor }).then(
      (image) => ({ error: null, bytes: image.bytes.length }),
      (error) => ({ error: error.code, limit: error.detail?.limit ?? null }),
    );
    outcomes.push(outcome);
  }
  // Let the server's FIN reach the closed connection, as it did when the worker died.
  await new Promise((resolve) => setTimeout(resolve, 50));
}
server.close();
console.log(JSON.stringify({ wireBytes: body.length, outcomes }));
`;

async function run(reader: 'unfurl' | 'fetchImage', decodedMib: number) {
  const child = await runNode(['--input-type=module', '-e', SCENARIO], { env: { READER: reader, BODY_FILE: path.join(dir, `${decodedMib}.gz`) }, timeoutMs: 60_000 });
  // The child's stderr says why when it died (the AssertionError and its stack).
  expect({ code: child.code, crash: /AssertionError|ERR_ASSERTION/.test(child.stderr) ? child.stderr : null }).toEqual({ code: 0, crash: null });
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { wireBytes: number; outcomes: Record<string, unknown>[] };
}

describe('a gzip bomb with a Content-Length from a server that closes the connection', () => {
  it.each(SIZES_MIB)('unfurl reads the first 64 KiB of %i MiB decoded and the process lives on', async (mib) => {
    const { wireBytes, outcomes } = await run('unfurl', mib);
    expect(wireBytes).toBeLessThan(300 * 1024);
    expect(outcomes).toHaveLength(3);
    for (const outcome of outcomes) {
      expect(outcome).toEqual({ error: null, body: { bytesRead: 64 * 1024, rawBytes: expect.any(Number), truncated: true, encoding: expect.any(String) } });
      // The raw cap (4 x the decoded cap) still bounds what was read off the wire.
      expect((outcome.body as { rawBytes: number }).rawBytes).toBeLessThanOrEqual(4 * 64 * 1024 + 64 * 1024);
    }
  }, 90_000);

  it.each(SIZES_MIB)('fetchImage refuses %i MiB decoded as payload_too_large and the process lives on', async (mib) => {
    const { outcomes } = await run('fetchImage', mib);
    expect(outcomes).toEqual(new Array(3).fill({ error: 'payload_too_large', limit: 20 * 1024 * 1024 }));
  }, 90_000);
});
