/**
 * An exact copy of a partner's file whose EXIF orientation tag turns it (3, 6) must match the
 * partner's hash of it at distance 0. Hash-sharing partners hash with Meta's PDQ references (and
 * blockhash implementations), which hash the pixels as stored and never apply the tag; when the
 * scanner hashed the upright frame, text-lines at orientation 6 was 34 bits from the reference's
 * hash (past the threshold of 31: an allow). The set here holds the hashes of the stored pixels (the
 * same encode tagged orientation 1), as the partner's export would; the scan goes through the real
 * pipeline (decode, hashes, the ABUSE_SCAN_HASHSETS_DIR sets, policy), without Redis.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobLimits, loadConfig, type FleetConfig } from '../../src/config/config.js';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const NAMES = ['text-lines', 'clouds'] as const;

/** The fixture re-encoded once (JPEG quality 90), tagged with `orientation`: the stored pixels are the same whatever the tag. */
async function tagged(name: string, orientation: number): Promise<Buffer> {
  return sharp(join(FIXTURE_IMAGES, `${name}.jpg`)).jpeg({ quality: 90 }).withMetadata({ orientation }).toBuffer();
}

describe('hash sets match EXIF-turned copies on their stored pixels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-exif-orientation-'));
  let config: FleetConfig;
  let pipeline: ScanPipeline;

  beforeAll(async () => {
    const pdq = ['hash,label,id'];
    const blockhash = ['hash,label,id'];
    for (const name of NAMES) {
      const hashes = hashImage(await decodeImage(await tagged(name, 1)));
      pdq.push(`${hashToHex(hashes.pdq)},partner: ${name} as stored,${name}`);
      blockhash.push(`${hashToHex(hashes.blockhash)},partner: ${name} as stored,${name}`);
    }
    writeFileSync(join(dir, 'partner.pdq.csv'), `${pdq.join('\n')}\n`);
    writeFileSync(join(dir, 'partner-bh.blockhash.csv'), `${blockhash.join('\n')}\n`);
    config = loadConfig({ ABUSE_SCAN_HASHSETS_DIR: dir, ABUSE_SCAN_UNFURL: 'off' }, { imageRoot: '/' });
    pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
  });

  afterAll(async () => {
    await pipeline?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const name of NAMES) {
    it.each([6, 3])(`${name} tagged orientation %i is blocked at distance 0, variant original, by PDQ and blockhash`, async (orientation) => {
      const bytes = await tagged(name, orientation);
      const contentId = `exif-${name}-${orientation}`;
      const job = validateJob({ contentId, surface: 'upload', items: [{ bytesBase64: bytes.toString('base64') }] }, { imageRoot: '/', limits: jobLimits(config) });
      const verdict = await pipeline.scan(job, { jobId: contentId, attempt: 1, finalAttempt: true });
      expect(verdict.decision).toBe('block');
      const signals = verdict.signals.filter((signal) => signal.source === 'hashset');
      const pdq = signals.find((signal) => signal.kind === 'pdq_match');
      const blockhash = signals.find((signal) => signal.kind === 'blockhash_match');
      // The stored pixels are the partner's: no turn needed, so the variant is the hash as computed.
      expect(pdq?.evidence).toMatchObject({ set: 'partner', entryId: name, distance: 0, variant: 'original', frame: 0 });
      expect(blockhash?.evidence).toMatchObject({ set: 'partner-bh', entryId: name, distance: 0 });
    });
  }
});
