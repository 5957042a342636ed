import { afterAll, beforeAll } from 'vitest';
import { jobLimits, loadConfig } from '../../src/config/config.js';
import type { Verdict } from '../../src/jobs/verdict-schema.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';

/**
 * For one describe block: the embedded pipeline (no Redis, no unfurling) matching the demo hash
 * sets of fixtures/hashsets, opened before its tests and closed after them, and how to scan one
 * inline image with it, as a worker scans a job's last attempt.
 */
export function demoHashSetScan(): (id: string, bytes: Buffer) => Promise<Verdict> {
  let pipeline: ScanPipeline | undefined;
  const config = loadConfig({ ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets', ABUSE_SCAN_UNFURL: 'off' }, { imageRoot: '/' });
  beforeAll(async () => {
    pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
  });
  afterAll(async () => {
    await pipeline?.close();
  });
  return async (id, bytes) => {
    const job = validateJob({ contentId: id, surface: 'upload', items: [{ bytesBase64: bytes.toString('base64') }] }, { imageRoot: '/', limits: jobLimits(config) });
    return pipeline!.scan(job, { jobId: id, attempt: 1, finalAttempt: true });
  };
}
