/**
 * A server whose TLS certificate is refused was reached, and will present the same certificate on
 * a retry: tls_failed, permanent, for image fetches and unfurls alike (not the transient
 * fetch_failed "could not be reached", which retried the job for nothing).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { fetchImage } from '../../src/links/fetch-image.js';
import { unfurl } from '../../src/links/unfurl.js';
import { REPO_ROOT } from '../harness/fleet.js';

const TLS_FIXTURES = join(REPO_ROOT, 'fixtures', 'tls');

describe('a refused TLS certificate', () => {
  let server: https.Server;
  let origin: string;
  let allow: string[];

  beforeAll(async () => {
    const [key, cert] = ['self-signed-key.pem', 'self-signed-cert.pem'].map((file) => readFileSync(join(TLS_FIXTURES, file)));
    server = https.createServer({ key, cert }, (_req, res) => res.end('never read'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    origin = `https://127.0.0.1:${port}`;
    allow = [`127.0.0.1:${port}`];
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('fails an image fetch with the permanent tls_failed, naming the verification error', async () => {
    const error = await fetchImage(`${origin}/image.png`, { maxBytes: 1024, allowPrivateAddressesFor: allow }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScanError);
    expect(error).toMatchObject({ code: 'tls_failed', permanent: true, detail: { cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
  });

  it('ends an unfurl with tls_failed', async () => {
    const result = await unfurl(`${origin}/page`, { allowPrivateAddressesFor: allow, hopTimeoutMs: 2000 });
    expect(result.error).toMatchObject({ code: 'tls_failed', detail: { cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
  });
});
