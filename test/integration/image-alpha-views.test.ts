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
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { alphaCarried } from '../harness/alpha-carried.js';
import { writtenHashSetScan } from '../harness/demo-hashset-scan.js';

const NAME = 'shapes';

describe('an image carried in the alpha channel is matched as a viewer sees it', () => {
  const scanAs = writtenHashSetScan(async (dir) => {
    const known = hashImage(await decodeImage((await alphaCarried(`${NAME}.jpg`, 'white')).grey));
    writeFileSync(join(dir, 'partner.pdq.csv'), `hash,label,id\n${hashToHex(known.pdq)},partner: ${NAME},${NAME}\n`);
    writeFileSync(join(dir, 'partner-bh.blockhash.csv'), `hash,label,id\n${hashToHex(known.blockhash)},partner: ${NAME},${NAME}\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`alpha-views-${scans++}`, bytes);

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
