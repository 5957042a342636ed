/**
 * A frame with alpha is matched on its stored pixels and on its views (flattened onto white and
 * onto black: ImageHashes.views), so an image carried in the alpha channel alone (stored RGB flat,
 * the picture in alpha) matches the known-bad entry of the picture it shows. A hit on a view names
 * it (`view`, absent for the stored pixels); each view has its own quality floor and blank rule; a
 * known-good entry hides only hits on the same picture; and the flood guard counts the frame, by
 * its stored hashes, whichever view matched. An opaque image's signals are unchanged.
 */
import { join } from 'node:path';
import { Registry } from 'prom-client';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MemoryFloodGuard, type FloodGuard } from '../../hashsets/flood-guard.js';
import { HashSetMetrics } from '../../hashsets/hash-set-metrics.js';
import { resolveHashSetConfig, type HashSetConfigInput } from '../../hashsets/hash-set-config.js';
import { HashSet } from '../../hashsets/hash-set.js';
import { blockhashBitsFromBlank, decodeImage, hashFrames, type ImageHashes, type ImageView } from '../../images/index.js';
import { hashToHex } from '../../matching/hash-bits.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import { FIXTURE_IMAGES, seededHash as hash, subjectOfFrames } from '../../../test/harness/hashes.js';
import { HashSetMatchSignalType } from './index.js';
import { alphaCarried } from '../../../test/harness/alpha-carried.js';

function set(input: Omit<HashSetConfigInput, 'algorithm'> & { algorithm?: 'pdq' | 'blockhash' }, entries: Array<[string, Uint8Array]>): HashSet {
  const hashSet = new HashSet(resolveHashSetConfig({ algorithm: 'pdq', ...input }));
  for (const [id, entry] of entries) hashSet.add({ id, hash: entry });
  return hashSet;
}

/** Hashes of one picture whose PDQ is exactly `pdq` (its other variants match nothing). */
function picture(pdq: Uint8Array, blockhash: Uint8Array, pdqQuality = 100, salt = 0): Omit<ImageHashes, 'views'> {
  return { pdq, dihedral: [pdq, ...Array.from({ length: 7 }, (_, i) => hash(90_000 + 10 * salt + i))], blockhash, pdqQuality };
}

function withViews(stored: Omit<ImageHashes, 'views'>, views: Partial<Record<ImageView, Omit<ImageHashes, 'views'>>>): ImageHashes {
  const list = Object.entries(views).map(([view, hashes]) => ({ view: view as ImageView, ...hashes }));
  return { ...stored, ...(list.length > 0 && { views: list }) };
}

/** `hash` with bits [from, from + count) inverted. */
function flipRange(hashBytes: Uint8Array, from: number, count: number): Uint8Array {
  const copy = Uint8Array.from(hashBytes);
  for (let bit = from; bit < from + count; bit++) copy[bit >> 3]! ^= 0x80 >> (bit & 7);
  return copy;
}

async function subjectOf(bytes: Buffer, viewerViews = true): Promise<ImageSubject> {
  const decoded = await decodeImage(bytes);
  return { decoded, frames: hashFrames(decoded, { dihedral: true, viewerViews }) };
}

describe('hash-set matching of the views of a frame with alpha', () => {
  for (const background of ['white', 'black'] as const) {
    it(`an image carried in alpha (shown on ${background}) matches the known-bad picture, naming the view`, async () => {
      const files = await alphaCarried('shapes.jpg', background);
      const known = (await subjectOf(files.grey)).frames[0]!;
      const pdqSet = set({ name: 'bad' }, [['shapes', known.pdq]]);
      const bhSet = set({ name: 'bad-bh', algorithm: 'blockhash' }, [['shapes', known.blockhash]]);
      const type = new HashSetMatchSignalType({ source: { sets: () => [pdqSet, bhSet] } });
      for (const [format, bytes] of [['png', files.png], ['lossless webp', files.webp]] as const) {
        const subject = await subjectOf(bytes);
        // As before: matched on the stored pixels alone, nothing (they are flat).
        expect(await type.match(await subjectOf(bytes, false), 0), format).toEqual([]);
        const signals = await type.match(subject, 0);
        const view = `on-${background}`;
        expect(signals.map((s) => [s.kind, s.suggests, s.evidence.entryId, s.evidence.view]), format).toEqual([
          ['pdq_match', 'block', 'shapes', view],
          ['blockhash_match', 'block', 'shapes', view],
        ]);
        expect(signals[0]!.evidence.distance as number, format).toBeLessThanOrEqual(4);
        expect(signals[0]!.evidence).toMatchObject({ variant: 'original', frame: 0 });
        // bitsFromBlank is the view's: the stored pixels' blockhash is blank.
        const viewHashes = subject.frames[0]!.views!.find((v) => v.view === view)!;
        expect(signals[1]!.evidence.bitsFromBlank).toBe(blockhashBitsFromBlank(viewHashes.blockhash));
        expect(signals[1]!.evidence.bitsFromBlank as number).toBeGreaterThan(signals[1]!.evidence.distance as number);
      }
    });
  }

  it("an opaque image's signals are unchanged: no views, no `view` in evidence", async () => {
    const bytes = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).png().toBuffer();
    const known = (await subjectOf(bytes)).frames[0]!;
    expect(known.views).toBeUndefined();
    const sets = [set({ name: 'bad' }, [['clouds', known.pdq]]), set({ name: 'bad-bh', algorithm: 'blockhash' }, [['clouds', known.blockhash]])];
    const type = new HashSetMatchSignalType({ source: { sets: () => sets } });
    const signals = await type.match(await subjectOf(bytes), 0);
    expect(signals).toEqual(await type.match(await subjectOf(bytes, false), 0));
    expect(signals).toHaveLength(2);
    for (const signal of signals) expect(signal.evidence).not.toHaveProperty('view');
  });

  it('the stored pixels win a tie; a closer view wins and is named; each view has its own quality floor', async () => {
    const entry = hash(7000);
    const bad = set({ name: 'bad' }, [['e', entry]]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad] } });
    const match = async (frame: ImageHashes) => (await type.match(subjectOfFrames([frame]), 0))[0]?.evidence;
    const near = picture(flipRange(entry, 0, 6), hash(1), 100, 1);
    const nearer = picture(flipRange(entry, 0, 2), hash(2), 100, 2);
    expect(await match(withViews(near, { 'on-white': picture(flipRange(entry, 10, 6), hash(3), 100, 3) }))).not.toHaveProperty('view');
    expect(await match(withViews(near, { 'on-white': nearer }))).toMatchObject({ distance: 2, view: 'on-white' });
    expect(await match(withViews(near, { 'on-white': nearer, 'on-black': picture(entry, hash(4), 100, 4) }))).toMatchObject({ distance: 0, view: 'on-black' });
    // Flat stored pixels (quality 0) match nothing, even at distance 0; a view below the floor neither.
    const flat = picture(entry, hash(5), 0, 5);
    expect(await match(withViews(flat, {}))).toBeUndefined();
    expect(await match(withViews(flat, { 'on-white': picture(entry, hash(6), 49, 6) }))).toBeUndefined();
    expect(await match(withViews(flat, { 'on-white': picture(entry, hash(6), 49, 6), 'on-black': nearer }))).toMatchObject({ distance: 2, view: 'on-black' });
  });

  it('a known-good entry hides only hits on the picture it is closer to, and names the view of what it hid', async () => {
    const logo = hash(8000);
    const badEntry = hash(8100);
    const bad = set({ name: 'bad' }, [['bad', badEntry]]);
    const good = set({ name: 'good', kind: 'negative' }, [['logo', logo]]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad, good] } });
    // Stored pixels: the known-good logo, exactly. Alpha shows a known-bad image on white (4 bits off).
    const evasion = withViews(picture(logo, hash(11), 100, 1), { 'on-white': picture(flipRange(badEntry, 0, 4), hash(12), 100, 2) });
    const signals = await type.match(subjectOfFrames([evasion]), 0);
    expect(signals.map((s) => [s.evidence.set, s.suggests, s.evidence.view]).sort()).toEqual([
      ['bad', 'block', 'on-white'],
      ['good', 'allow', undefined],
    ]);
    // The known-good entry close to the view itself hides the hit on that view.
    const shown = flipRange(badEntry, 0, 4);
    const goodNear = set({ name: 'good', kind: 'negative' }, [['near', flipRange(shown, 100, 2)]]);
    const view = withViews(picture(hash(13), hash(14), 100, 3), { 'on-white': picture(shown, hash(12), 100, 2) });
    const hidden = await new HashSetMatchSignalType({ source: { sets: () => [bad, goodNear] } }).match(subjectOfFrames([view]), 0);
    expect(hidden).toHaveLength(1);
    expect(hidden[0]!.evidence).toMatchObject({ set: 'good', view: 'on-white', suppressed: [{ set: 'bad', entryId: 'bad', distance: 4, frame: 0, view: 'on-white', knownGoodEntryId: 'near', knownGoodDistance: 2 }] });
  });

  it("the flood guard counts the frame by its stored hashes whichever view matched, and names a quarantined hit's view", async () => {
    const entry = hash(9000);
    const other = hash(9100);
    const bad = set({ name: 'bad', flood: { maxItems: 2, windowSeconds: 3600 } }, [['e', entry], ['o', other]]);
    const stored = picture(hash(9200), hash(15), 0, 1);
    const frame = withViews(stored, { 'on-white': picture(entry, hash(16), 100, 2), 'on-black': picture(flipRange(other, 0, 3), hash(17), 100, 3) });
    const keys: string[] = [];
    const recording = (inner: FloodGuard): FloodGuard => ({
      recordMatchAmong: (config, candidates, itemKey, countSetMatch) => {
        keys.push(itemKey, ...candidates.map((candidate) => candidate.itemKey ?? itemKey));
        return inner.recordMatchAmong(config, candidates, itemKey, countSetMatch);
      },
      recordSuppressions: (config, count) => inner.recordSuppressions(config, count),
    });
    const guard = new MemoryFloodGuard(new HashSetMetrics(new Registry()), () => 1_000_000);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: recording(guard) });
    // The same image posted again and again is one item: never quarantined.
    for (let i = 0; i < 5; i++) expect((await type.match(subjectOfFrames([frame]), 0))[0]).toMatchObject({ suggests: 'block', evidence: { entryId: 'e', view: 'on-white' } });
    expect(new Set(keys)).toEqual(new Set([`h:${hashToHex(stored.pdq)}${hashToHex(stored.blockhash)}`]));

    // A quarantined entry matched on one view passes the match on to a hit on another, and names its view.
    const quarantineE: FloodGuard = { recordMatchAmong: async (_config, candidates) => candidates.findIndex((c) => c.id !== 'e'), recordSuppressions: () => undefined };
    const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: quarantineE }).match(subjectOfFrames([frame]), 0);
    expect(signal).toMatchObject({ suggests: 'block', evidence: { entryId: 'o', distance: 3, view: 'on-black', quarantinedMatches: [{ entryId: 'e', distance: 0, frame: 0, view: 'on-white' }] } });
  });
});
