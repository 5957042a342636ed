/**
 * README, Running workers: ABUSE_SCAN_MAX_IMAGE_BYTES is the one cap on the bytes read of a
 * `{ path }` file and of a `{ url }` body. An image larger than the default 20 MiB, which `hash`
 * and `hashset add` take (the decoder reads up to 50 MiB), can be matched once it is raised.
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobLimits, loadConfig } from '../../src/config/config.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { OFFLINE_CLI_ENV, runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';
import { startServer, type TestServer } from './unfurl-servers.js';

const RINGS = join(REPO_ROOT, 'fixtures/images/rings.jpg');
const RINGS_BYTES = readFileSync(RINGS).byteLength;

describe('ABUSE_SCAN_MAX_IMAGE_BYTES', () => {
  let dir: string;
  let cdn: TestServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-max-image-'));
    const rings = readFileSync(RINGS);
    cdn = await startServer((_req, res) => void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(rings));
  });
  afterAll(async () => {
    await cdn?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an image over the default 20 MiB cap, hashed by `hash`, matches its exact copy once the cap is raised', async () => {
    // A photo stored uncompressed: 3100x3100 RGB is about 28.9 MB as a PNG.
    const big = join(dir, 'big.png');
    await sharp(RINGS).resize(3100, 3100, { fit: 'fill' }).png({ compressionLevel: 0 }).toFile(big);
    expect(statSync(big).size).toBeGreaterThan(20 * 1024 * 1024);
    const hashed = await runCli(['hash', '--json', big], { env: OFFLINE_CLI_ENV });
    expect(hashed.code).toBe(0);
    const { pdq } = JSON.parse(hashed.stdout) as { pdq: string };
    const sets = join(dir, 'sets');
    await mkdir(sets);
    await writeFile(join(sets, 'known-bad.pdq.csv'), `hash,label,id\n${pdq},too big before,big\n`);
    const env = { ...OFFLINE_CLI_ENV, ABUSE_SCAN_HASHSETS_DIR: sets };

    const capped = await runCli(['scan', 'image', '--json', big], { env });
    expect(JSON.parse(capped.stdout)).toMatchObject({ errors: [expect.objectContaining({ code: 'payload_too_large' })] });
    expect(capped.code).toBe(2);

    const raised = await runCli(['scan', 'image', '--json', big], { env: { ...env, ABUSE_SCAN_MAX_IMAGE_BYTES: String(50 * 1024 * 1024) } });
    const verdict = JSON.parse(raised.stdout);
    expect(verdict).toMatchObject({ decision: 'block', errors: [] });
    expect(verdict.signals).toContainEqual(expect.objectContaining({ evidence: expect.objectContaining({ entryId: 'big', distance: 0 }) }));
    expect(raised.code).toBe(3);
  }, 60_000);

  it('caps a { path } file: one byte under its size is payload_too_large', async () => {
    const scan = (max: number) => runCli(['scan', 'image', '--json', RINGS], { env: { ...OFFLINE_CLI_ENV, ABUSE_SCAN_MAX_IMAGE_BYTES: String(max) } });
    expect(JSON.parse((await scan(RINGS_BYTES - 1)).stdout)).toMatchObject({ errors: [expect.objectContaining({ code: 'payload_too_large' })] });
    expect(JSON.parse((await scan(RINGS_BYTES)).stdout)).toMatchObject({ decision: 'allow', errors: [], items: [{ status: 'ok' }] });
  }, 30_000);

  it('caps a { url } body the same way: the fetch is given the setting', async () => {
    const scan = async (max: number) => {
      const config = loadConfig({ ...OFFLINE_CLI_ENV, ABUSE_SCAN_MAX_IMAGE_BYTES: String(max) });
      const pipeline = await createScanPipeline(config, { logger: createLogger('silent'), allowPrivateAddressesFor: [`127.0.0.1:${cdn.port}`] });
      try {
        const job = validateJob({ contentId: 'c', surface: 's', items: [{ url: `${cdn.origin}/rings.jpg` }] }, { limits: jobLimits(config) });
        return await pipeline.scan(job, { jobId: 'j', attempt: 1, finalAttempt: true });
      } finally {
        await pipeline.close();
      }
    };
    expect(await scan(RINGS_BYTES - 1)).toMatchObject({ errors: [expect.objectContaining({ code: 'payload_too_large', detail: { limit: RINGS_BYTES - 1 } })] });
    expect(await scan(RINGS_BYTES)).toMatchObject({ decision: 'allow', errors: [], items: [{ status: 'ok' }] });
  }, 30_000);

  it('a value past the decoder\'s 50 MiB stops the command with `invalid configuration`', async () => {
    const { code, stderr } = await runCli(['scan', 'image', RINGS], { env: { ...OFFLINE_CLI_ENV, ABUSE_SCAN_MAX_IMAGE_BYTES: String(50 * 1024 * 1024 + 1) } });
    expect(stderr).toMatch(/^abuse-scan: invalid configuration: ABUSE_SCAN_MAX_IMAGE_BYTES: .*\n$/);
    expect(code).toBe(1);
  }, 30_000);
});
