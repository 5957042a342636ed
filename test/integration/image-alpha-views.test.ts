/**
 * An image carried in the alpha channel alone must be matched as a viewer sees it. Stored RGB flat
 * black with alpha = 255 - luma shows a known-bad image in grey on any white page; stored RGB white
 * with alpha = luma shows it on a black background (a phone's gallery). Hashed on the stored RGB
 * alone (what partners' tools hash) both are blank (PDQ quality 0) and were allowed, while the same
 * pixels flattened were blocked. The scan now also hashes a frame with alpha flattened onto white
 * and onto black, and the match names the view (`view`). The set holds the hashes of the grey
 * image, as a partner's export would; the scan goes through the real pipeline (decode, hashes, the
 * ABUSE_SCAN_HASHSETS_DIR sets, policy), without Redis. An opaque image's verdict is unchanged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobLimits, loadConfig, type FleetConfig } from '../../src/config/config.js';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { alphaCarried } from '../harness/alpha-carried.js';

const NAME = 'shapes';

describe('an image carried in the alpha channel is matched as a viewer sees it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-alpha-views-'));
  let config: FleetConfig;
  let pipeline: ScanPipeline;
  let scans = 0;

  const scan = async (bytes: Buffer) => {
    const contentId = `alpha-views-${scans++}`;
    const job = validateJob({ contentId, surface: 'upload', items: [{ bytesBase64: bytes.toString('base64') }] }, { imageRoot: '/', limits: jobLimits(config) });
    return pipeline.scan(job, { jobId: contentId, attempt: 1, finalAttempt: true });
  };

  beforeAll(async () => {
    const known = hashImage(await decodeImage((await alphaCarried(`${NAME}.jpg`, 'white')).grey));
    writeFileSync(join(dir, 'partner.pdq.csv'), `hash,label,id\n${hashToHex(known.pdq)},partner: ${NAME},${NAME}\n`);
    writeFileSync(join(dir, 'partner-bh.blockhash.csv'), `hash,label,id\n${hashToHex(known.blockhash)},partner: ${NAME},${NAME}\n`);
    config = loadConfig({ ABUSE_SCAN_HASHSETS_DIR: dir, ABUSE_SCAN_UNFURL: 'off' }, { imageRoot: '/' });
    pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
  });

  afterAll(async () => {
    await pipeline?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const background of ['white', 'black'] as const) {
    for (const format of ['png', 'webp'] as const) {
      it(`shown on ${background} (${format === 'webp' ? 'lossless WebP' : 'PNG'}): blocked by PDQ and blockhash, naming the view`, async () => {
        const verdict = await scan((await alphaCarried(`${NAME}.jpg`, background))[format]);
        expect(verdict.decision).toBe('block');
        // The stored pixels are flat, as partners hash them; the view that matched is hashed besides.
        expect(verdict.items[0]!.details).toMatchObject({ pdqQuality: 0, views: expect.arrayContaining([`on-${background}`]) });
        const signals = verdict.signals.filter((signal) => signal.source === 'hashset');
        const pdq = signals.find((signal) => signal.kind === 'pdq_match');
        const blockhash = signals.find((signal) => signal.kind === 'blockhash_match');
        expect(pdq?.evidence).toMatchObject({ set: 'partner', entryId: NAME, variant: 'original', view: `on-${background}`, frame: 0 });
        expect(pdq!.evidence.distance as number).toBeLessThanOrEqual(4);
        expect(blockhash?.evidence).toMatchObject({ set: 'partner-bh', entryId: NAME, view: `on-${background}`, frame: 0 });
      });
    }
  }

  it("the opaque image's verdict is as before: its own pixels match, with no view", async () => {
    const verdict = await scan((await alphaCarried(`${NAME}.jpg`, 'white')).grey);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).not.toHaveProperty('views');
    const signals = verdict.signals.filter((signal) => signal.source === 'hashset');
    expect(signals.map((signal) => [signal.kind, signal.evidence.distance, signal.evidence.view]).sort()).toEqual([
      ['blockhash_match', 0, undefined],
      ['pdq_match', 0, undefined],
    ]);
  });
});
