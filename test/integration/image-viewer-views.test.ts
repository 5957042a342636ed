/**
 * A known picture stored so that partners' hashes of the stored pixels miss it, while viewers show
 * it as it is, must still be matched, through the real pipeline (decode, hashes, the
 * ABUSE_SCAN_HASHSETS_DIR sets, policy), without Redis:
 * - stored turned with the EXIF orientation tag that turns it back (clouds.jpg turned a quarter
 *   counter-clockwise and tagged 6): its stored pixels are 130 bits of blockhash from clouds.jpg
 *   as computed, 0 through their blockhash variant rotate270, which blocks it on the stored pixels
 *   (its 'upright' view, also at 0, comes after them in the walk). A text picture upscaled and stored upside down (tag 3) is 30 to 32 bits from it through
 *   the stored pixels' dihedral variants (inexact: orientation.ts), at the threshold's edge (31);
 *   upright it is at 0, and the match names that view, the closest.
 * - inside a thin uniform border (32 white pixels around clouds.jpg): PDQ 106 from the demo set's
 *   clouds entry, allowed; now blocked on its 'trimmed' view.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { demoHashSetScan, writtenHashSetScan } from '../harness/demo-hashset-scan.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const CLOUDS = join(FIXTURE_IMAGES, 'clouds.jpg');

/** text-lines.jpg upscaled to 2048x1536, as a partner holds it. */
const bigTextLines = () => sharp(join(FIXTURE_IMAGES, 'text-lines.jpg')).resize(2048, 1536).jpeg({ quality: 95 }).toBuffer();

describe('a picture stored turned, with the EXIF tag that turns it back, is matched upright', () => {
  const scanAs = writtenHashSetScan(async (dir) => {
    const clouds = hashImage(await decodeImage(readFileSync(CLOUDS)));
    const text = hashImage(await decodeImage(await bigTextLines()));
    writeFileSync(join(dir, 'partner-bh.blockhash.csv'), `hash,label,id\n${hashToHex(clouds.blockhash)},partner: clouds,clouds\n`);
    writeFileSync(join(dir, 'partner.pdq.csv'), `hash,label,id\n${hashToHex(text.pdq)},partner: text-lines 2048,text-lines\n`);
  });
  let scans = 0;
  const scan = (bytes: Buffer) => scanAs(`viewer-views-${scans++}`, bytes);

  it('clouds.jpg stored a quarter turn back, tagged 6: blocked by blockhash on its stored pixels through rotate270', async () => {
    const bytes = await sharp(CLOUDS).rotate(270).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    const verdict = await scan(bytes);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ views: ['upright'] });
    const blockhash = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'blockhash_match');
    expect(blockhash?.evidence).toMatchObject({ set: 'partner-bh', entryId: 'clouds', variant: 'rotate270', frame: 0 });
    expect(blockhash?.evidence).not.toHaveProperty('view');
    expect(blockhash!.evidence.distance as number).toBeLessThanOrEqual(4);
  });

  it('text-lines at 2048x1536 stored upside down, tagged 3: blocked by PDQ on its upright view', async () => {
    const bytes = await sharp(await bigTextLines()).rotate(180).jpeg({ quality: 95 }).withMetadata({ orientation: 3 }).toBuffer();
    const verdict = await scan(bytes);
    expect(verdict.decision).toBe('block');
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match');
    expect(pdq?.evidence).toMatchObject({ set: 'partner', entryId: 'text-lines', view: 'upright', variant: 'original' });
    expect(pdq!.evidence.distance as number).toBeLessThanOrEqual(8);
  });
});

describe('a picture inside a thin uniform border is matched trimmed', () => {
  const scan = demoHashSetScan();

  it('clouds.jpg in a 32-pixel white border: blocked by the PDQ demo set on its trimmed view', async () => {
    const bytes = await sharp(CLOUDS).extend({ top: 32, bottom: 32, left: 32, right: 32, background: 'white' }).jpeg({ quality: 95 }).toBuffer();
    const verdict = await scan('viewer-views-border', bytes);
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ views: ['trimmed'] });
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match');
    expect(pdq?.evidence).toMatchObject({ set: 'demo-known-bad', entryId: 'clouds', view: 'trimmed', frame: 0 });
    expect(pdq!.evidence.distance as number).toBeLessThanOrEqual(10);
  });

  it('clouds.jpg itself is blocked on its stored pixels, with no view', async () => {
    const verdict = await scan('viewer-views-plain', readFileSync(CLOUDS));
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).not.toHaveProperty('views');
    const pdq = verdict.signals.find((signal) => signal.source === 'hashset' && signal.kind === 'pdq_match');
    expect(pdq?.evidence).toMatchObject({ entryId: 'clouds', distance: 0 });
    expect(pdq!.evidence).not.toHaveProperty('view');
  });
});
