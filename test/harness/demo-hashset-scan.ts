import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { jobLimits, loadConfig, type FleetConfig } from '../../src/config/config.js';
import type { Verdict } from '../../src/jobs/verdict-schema.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';

/** Scans one inline image as a worker scans a job's last attempt, `id` its contentId and jobId. */
export type InlineImageScan = (id: string, bytes: Buffer) => Promise<Verdict>;

/**
 * For one describe block: the embedded pipeline (no Redis, no unfurling) matching the hash sets of
 * the directory `hashSetsDir` gives (called before the pipeline opens), opened before its tests
 * and closed after them, and how to scan one inline image with it.
 */
function hashSetScan(hashSetsDir: () => Promise<string>, cleanUp: () => void = () => undefined): InlineImageScan {
  let pipeline: ScanPipeline | undefined;
  let config: FleetConfig | undefined;
  beforeAll(async () => {
    config = loadConfig({ ABUSE_SCAN_HASHSETS_DIR: await hashSetsDir(), ABUSE_SCAN_UNFURL: 'off' }, { imageRoot: '/' });
    pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
  });
  afterAll(async () => {
    await pipeline?.close();
    cleanUp();
  });
  return async (id, bytes) => {
    const job = validateJob({ contentId: id, surface: 'upload', items: [{ bytesBase64: bytes.toString('base64') }] }, { imageRoot: '/', limits: jobLimits(config!) });
    return pipeline!.scan(job, { jobId: id, attempt: 1, finalAttempt: true });
  };
}

/** hashSetScan with the demo hash sets of fixtures/hashsets. */
export function demoHashSetScan(): InlineImageScan {
  return hashSetScan(async () => 'fixtures/hashsets');
}

/**
 * hashSetScan with hash sets a test writes (hashes computed at test time, as a partner's export
 * holds them): `writeSets` fills a fresh temporary directory, removed after the tests.
 */
export function writtenHashSetScan(writeSets: (dir: string) => Promise<void>): InlineImageScan {
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-hashsets-'));
  return hashSetScan(
    async () => {
      await writeSets(dir);
      return dir;
    },
    () => rmSync(dir, { recursive: true, force: true }),
  );
}
