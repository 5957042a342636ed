import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { HashSetMetrics } from '../../hashsets/hash-set-metrics.js';
import { MAX_WALKED_CANDIDATES, MemoryFloodGuard, RedisFloodGuard, type FloodGuard } from '../../hashsets/flood-guard.js';
import { DEFAULT_THRESHOLDS, resolveHashSetConfig, type HashSetConfigInput } from '../../hashsets/hash-set-config.js';
import { HashSet, type EntryDescription, type MatchableHashSet } from '../../hashsets/hash-set.js';
import { blockhashBitsFromBlank, decodeImage, hashFrames, type ImageHashes } from '../../images/index.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import type { RedisClient } from '../../runtime/redis.js';
import { HashSetMatchSignalType } from './index.js';
import { MAX_LISTED_QUARANTINED } from './hashset-match-signal.js';
import { hammingDistance } from '../../matching/hash-bits.js';
import { seededHash as hash, subjectOfFrames } from '../../../test/harness/hashes.js';
import { seededRandom } from '../../../test/harness/seeded-random.js';

/** A one-frame image whose PDQ variants are seeds pdq..pdq+7 (variant 0 = the hash itself). */
function image(pdq: number, blockhash: number, pdqQuality = 100, flips = 0): ImageSubject {
  const dihedral = Array.from({ length: 8 }, (_, i) => hash(pdq + i, i === 0 ? flips : 0));
  const frame: ImageHashes = { pdq: dihedral[0]!, dihedral, blockhash: hash(blockhash), pdqQuality };
  return subjectOfFrames([frame]);
}

/** A set of entries given by seed (or by hash, to place one at a known distance). */
function set(input: Omit<HashSetConfigInput, 'algorithm'> & { algorithm?: 'pdq' | 'blockhash' }, entries: Array<[string, number | Uint8Array, string?]>): HashSet {
  const hashSet = new HashSet(resolveHashSetConfig({ algorithm: 'pdq', ...input }));
  for (const [id, seed, label] of entries) hashSet.add({ id, hash: typeof seed === 'number' ? hash(seed) : seed, ...(label && { label }) });
  return hashSet;
}

/** `hash` with bits [from, from + count) inverted. */
function flipRange(hash: Uint8Array, from: number, count: number): Uint8Array {
  const copy = Uint8Array.from(hash);
  for (let bit = from; bit < from + count; bit++) copy[bit >> 3]! ^= 0x80 >> (bit & 7);
  return copy;
}

/** A one-frame image whose PDQ is exactly `pdq` (no other variant matches anything). */
function imageOf(pdq: Uint8Array, blockhash = 5): ImageSubject {
  const frame: ImageHashes = { pdq, dihedral: [pdq, ...Array.from({ length: 7 }, (_, i) => hash(90_000 + i))], blockhash: hash(blockhash), pdqQuality: 100 };
  return subjectOfFrames([frame]);
}

/** A set's calls to describe() and the guard's to recordMatchAmong(), with the candidate ids each got. */
function counting(inner: MatchableHashSet, guard: FloodGuard): { set: MatchableHashSet; guard: FloodGuard; describes: number[][]; walks: string[][] } {
  const describes: number[][] = [];
  const walks: string[][] = [];
  const set: MatchableHashSet = {
    config: inner.config,
    get version() {
      return inner.version;
    },
    match: (variants) => inner.match(variants),
    bitsFromBlank: (entryNo) => inner.bitsFromBlank(entryNo),
    describe: (entryNos): Promise<Array<EntryDescription | undefined>> => {
      describes.push([...entryNos]);
      return inner.describe(entryNos);
    },
  };
  const counted: FloodGuard = {
    recordMatchAmong: (config, candidates, itemKey, countSetMatch) => {
      walks.push(candidates.map((candidate) => candidate.id));
      return guard.recordMatchAmong(config, candidates, itemKey, countSetMatch);
    },
    recordSuppressions: (config, count) => guard.recordSuppressions(config, count),
  };
  return { set, guard: counted, describes, walks };
}

describe('hash-set signal type', () => {
  it('reports the closest entry of each set with its evidence and a distance-based score', async () => {
    const bad = set({ name: 'bad' }, [['e1', 1000, 'known bad'], ['e2', 2000]]);
    const signals = await new HashSetMatchSignalType({ source: { sets: () => [bad] } }).match(image(1000, 5, 100, 10), 3);
    expect(signals).toEqual([
      {
        source: 'hashset',
        kind: 'pdq_match',
        item: 3,
        score: 1 - 10 / 32,
        suggests: 'block',
        evidence: { set: 'bad', setVersion: '2', entryId: 'e1', label: 'known bad', distance: 10, threshold: 31, variant: 'original', frame: 0, matches: 1 },
      },
    ]);
  });

  it("names the file's frame that matched, not its place among the frames sampled from an animation", async () => {
    const bad = set({ name: 'bad' }, [['e1', 1000], ['g1', flipRange(hash(5000), 0, 4)]]);
    // Frames 0, 6 and 39 of a 40-frame animation were sampled; the last one is the known-bad image.
    const frames = [image(3000, 5).frames[0]!, image(4000, 5).frames[0]!, image(1000, 5).frames[0]!];
    const decoded = { frameCount: 40, frames: [0, 6, 39].map((index) => ({ index })) } as ImageSubject['decoded'];
    const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [bad] } }).match({ decoded, frames }, 0);
    expect(signal!.evidence).toMatchObject({ entryId: 'e1', distance: 0, frame: 39 });
    // So do the known-good rule's suppressions: frame 6 is both a known-bad and a known-good image.
    const both = imageOf(hash(5000)).frames[0]!;
    const logo = set({ name: 'good', kind: 'negative' }, [['logo', both.pdq]]);
    const hidden = await new HashSetMatchSignalType({ source: { sets: () => [bad, logo] } }).match({ decoded, frames: [frames[0]!, both, frames[1]!] }, 0);
    expect(hidden.find((s) => s.evidence.set === 'good')!.evidence).toMatchObject({ suppressed: [{ entryId: 'g1', frame: 6 }] });
  });

  it('matches PDQ through the dihedral variants and names the variant', async () => {
    const bad = set({ name: 'bad' }, [['rotated', 1003]]);
    const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [bad] } }).match(image(1000, 5), 0);
    expect(signal!.evidence).toMatchObject({ entryId: 'rotated', distance: 0, variant: 'rotate270' });
  });

  it('a known-good entry suppresses a positive hit only when strictly closer, and names the hit, entries and distances', async () => {
    // The scanned image is hash(1000) with 10 leading bits flipped: 10 bits from the bad entry.
    const scanned = image(1000, 5, 100, 10);
    const bad = set({ name: 'bad' }, [['e1', 1000]]);
    const closer = set({ name: 'logos', kind: 'negative' }, [['logo', hash(1000, 12), 'our logo']]); // 2 bits from the image
    const equal = set({ name: 'memes-ok', kind: 'negative' }, [['meme', hash(1000, 20)]]); // 10 bits: as close as the bad entry

    const suppressed = await new HashSetMatchSignalType({ source: { sets: () => [bad, closer] } }).match(scanned, 0);
    expect(suppressed).toEqual([
      expect.objectContaining({
        kind: 'pdq_match',
        suggests: 'allow',
        evidence: expect.objectContaining({
          set: 'logos',
          entryId: 'logo',
          distance: 2,
          knownGood: true,
          suppresses: 'positive hits farther than this entry (same algorithm)',
          suppressed: [{ set: 'bad', entryId: 'e1', distance: 10, frame: 0, knownGoodEntryId: 'logo', knownGoodDistance: 2 }],
        }),
      }),
    ]);

    // Not strictly closer: the bad hit stands, and the known-good match is still reported.
    const kept = await new HashSetMatchSignalType({ source: { sets: () => [bad, equal] } }).match(scanned, 0);
    expect(kept).toEqual([
      expect.objectContaining({ suggests: 'block', evidence: expect.objectContaining({ set: 'bad', entryId: 'e1', distance: 10 }) }),
      expect.objectContaining({ suggests: 'allow', evidence: expect.objectContaining({ set: 'memes-ok', distance: 10, suppressed: [] }) }),
    ]);
  });

  it('a known-good entry as close as the closest bad hit hides none of the hits: the closest blocks, though a farther one is hidable', async () => {
    const scanned = hash(4242);
    const bad = set({ name: 'bad' }, [['near', flipRange(scanned, 0, 5)], ['far', flipRange(scanned, 100, 8)]]);
    const good = set({ name: 'good', kind: 'negative' }, [['g', flipRange(scanned, 200, 5)]]); // 5 bits, as near as `near`
    const signals = await new HashSetMatchSignalType({ source: { sets: () => [bad, good] } }).match(imageOf(scanned), 0);
    expect(signals.find((s) => s.evidence.set === 'bad')).toMatchObject({ suggests: 'block', evidence: { entryId: 'near', distance: 5 } });
  });

  it('counts on the known-good set the matches it hid, one per positive set per item, and nothing when it hid none', async () => {
    const counted: Array<[string, number]> = [];
    const guard: FloodGuard = { recordMatchAmong: async () => 0, recordSuppressions: (set, count) => void counted.push([set.name, count]) };
    const scanned = image(1000, 5, 100, 10); // 10 bits from e1 and r1
    const bad = set({ name: 'bad' }, [['e1', 1000]]);
    const review = set({ name: 'review', kind: 'review' }, [['r1', 1000]]);
    const logos = set({ name: 'logos', kind: 'negative' }, [['logo', hash(1000, 12)]]); // 2 bits from the image
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad, review, logos] }, floodGuard: guard });

    expect((await type.match(scanned, 0)).map((s) => s.suggests)).toEqual(['allow']);
    // The same image on two frames: each set's match is hidden twice, but it is one match.
    expect((await type.match({ ...scanned, frames: [scanned.frames[0]!, scanned.frames[0]!] }, 0)).map((s) => s.suggests)).toEqual(['allow']);
    expect(counted).toEqual([['logos', 2], ['logos', 2]]);
    counted.length = 0;
    // Hidden on one frame, matching on another (an exact copy of e1 and r1, which the logo is no closer to): nothing was hidden.
    const twoFrames = { ...scanned, frames: [scanned.frames[0]!, image(1000, 5).frames[0]!] };
    expect((await type.match(twoFrames, 0)).map((s) => s.suggests)).toEqual(['allow', 'block', 'review']);
    expect(await type.match(image(1000, 5), 0)).toHaveLength(3);
    expect(counted).toEqual([]);
  });

  it('a Redis failure while counting a suppression does not fail the scan', async () => {
    const down = { hincrby: () => Promise.reject(new Error('connection lost')) } as unknown as RedisClient;
    const bad = set({ name: 'bad' }, [['e1', 1000]]);
    const logos = set({ name: 'logos', kind: 'negative' }, [['logo', hash(1000, 12)]]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad, logos] }, floodGuard: new RedisFloodGuard(down, 'test') });
    expect(await type.match(image(1000, 5, 100, 10), 0)).toEqual([expect.objectContaining({ suggests: 'allow' })]);
    await new Promise(setImmediate); // the rejection settles: vitest fails a run on an unhandled one
  });

  it('an exact copy of a known-bad image is blocked although a near-duplicate of it is known-good', async () => {
    const bad = set({ name: 'bad' }, [['e1', 1000]]);
    const nearDuplicate = set({ name: 'memes-ok', kind: 'negative' }, [['fp-1', hash(1000, 20)]]);
    const signals = await new HashSetMatchSignalType({ source: { sets: () => [bad, nearDuplicate] } }).match(image(1000, 5), 0);
    expect(signals.map((s) => [s.evidence.set, s.suggests, s.evidence.distance])).toEqual([
      ['bad', 'block', 0],
      ['memes-ok', 'allow', 20],
    ]);
  });

  it('compares distances within one algorithm only: a PDQ known-good entry never hides a blockhash hit', async () => {
    const review = set({ name: 'blockhash-review', algorithm: 'blockhash', kind: 'review' }, [['b1', 5]]);
    const logos = set({ name: 'logos', kind: 'negative' }, [['logo', 1000]]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [review, logos] } });
    const signals = await type.match(image(1000, 5, 100), 0);
    expect(signals).toEqual([
      expect.objectContaining({ kind: 'blockhash_match', suggests: 'review', evidence: expect.objectContaining({ entryId: 'b1', distance: 0 }) }),
      expect.objectContaining({ kind: 'pdq_match', suggests: 'allow', evidence: expect.objectContaining({ set: 'logos', suppressed: [] }) }),
    ]);
    expect(type.versions()).toEqual({ hashSets: { 'blockhash-review': '1', logos: '1' } });
  });

  it('does not match PDQ on frames below the set quality floor (blockhash still matches)', async () => {
    const bad = set({ name: 'bad' }, [['e1', 1000]]);
    const strict = set({ name: 'strict', minQuality: 90 }, [['e1', 1000]]);
    const blocks = set({ name: 'blocks', algorithm: 'blockhash' }, [['b1', 5]]);
    const signals = await new HashSetMatchSignalType({ source: { sets: () => [bad, strict, blocks] } }).match(image(1000, 5, 60), 0);
    expect(signals.map((s) => s.evidence.set)).toEqual(['bad', 'blocks']);
    const flat = await new HashSetMatchSignalType({ source: { sets: () => [bad] } }).match(image(1000, 5, 49), 0);
    expect(flat).toEqual([]);
  });

  describe('blockhash: a frame matches an entry only when closer to it than to blank', () => {
    /** A real image, decoded and hashed as workers do. */
    async function scanned(bytes: Buffer): Promise<ImageSubject> {
      const decoded = await decodeImage(bytes);
      return { decoded, frames: hashFrames(decoded, { dihedral: true }) };
    }
    /**
     * 800x600, #111 background, with white strokes across the middle when `caption`, a white square
     * in a corner when `speck`, a white mark in the middle when `mark`.
     */
    async function dark(caption: boolean, speck = false, mark = false): Promise<Buffer> {
      const pixels = Buffer.alloc(800 * 600 * 3, 0x11);
      if (caption) for (let y = 290; y < 330; y++) for (let x = 60; x < 740; x++) if (x % 16 < 10) pixels.fill(255, (y * 800 + x) * 3, (y * 800 + x) * 3 + 3);
      if (speck) for (let y = 20; y < 60; y++) pixels.fill(255, (y * 800 + 20) * 3, (y * 800 + 70) * 3);
      if (mark) for (let y = 280; y < 340; y++) pixels.fill(255, (y * 800 + 360) * 3, (y * 800 + 440) * 3);
      return sharp(pixels, { raw: { width: 800, height: 600, channels: 3 } }).jpeg().toBuffer();
    }
    const subjectOf = (...blockhashes: Uint8Array[]): ImageSubject => subjectOfFrames(blockhashes.map((blockhash, i) => ({ ...image(1000 + 10 * i, 5).frames[0]!, blockhash })));

    it('an exact copy of a caption on a dark background matches (it was let through); a blank or near-blank dark frame does not', async () => {
      const captioned = await scanned(await dark(true));
      const blank = await scanned(await dark(false));
      const speck = await scanned(await dark(false, true));
      const entry = captioned.frames[0]!.blockhash;
      const captionFromBlank = blockhashBitsFromBlank(entry);
      expect(captionFromBlank).toBe(28);
      expect(hammingDistance(blank.frames[0]!.blockhash, entry)).toBe(28);
      expect(blockhashBitsFromBlank(blank.frames[0]!.blockhash)).toBe(0);
      const speckFromBlank = blockhashBitsFromBlank(speck.frames[0]!.blockhash);
      const speckToEntry = hammingDistance(speck.frames[0]!.blockhash, entry);
      // Near blank, within the threshold of the caption, yet nearer blank than the caption: no match.
      expect(speckFromBlank).toBeGreaterThan(0);
      expect(speckToEntry).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.blockhash);
      expect(speckToEntry).toBeGreaterThanOrEqual(speckFromBlank);

      const memes = set({ name: 'memes', algorithm: 'blockhash' }, [['kb-1', entry, 'caption on dark']]);
      const type = new HashSetMatchSignalType({ source: { sets: () => [memes] } });
      expect(await type.match(blank, 0)).toEqual([]);
      expect(await type.match(speck, 0)).toEqual([]);
      expect(await type.match(captioned, 0)).toEqual([
        {
          source: 'hashset',
          kind: 'blockhash_match',
          item: 0,
          score: 1,
          suggests: 'block',
          evidence: { set: 'memes', setVersion: '1', entryId: 'kb-1', label: 'caption on dark', distance: 0, threshold: 64, bitsFromBlank: 28, variant: 'original', frame: 0, matches: 1 },
        },
      ]);
      // A re-encode of the caption (JPEG again, lower quality) is still nearer the entry than blank.
      const reencoded = await scanned(await sharp(await dark(true)).jpeg({ quality: 40 }).toBuffer());
      const [again] = await type.match(reencoded, 0);
      expect(again).toMatchObject({ suggests: 'block', evidence: { entryId: 'kb-1' } });
      expect(again!.evidence.distance).toBeLessThan(again!.evidence.bitsFromBlank as number);
    });

    it("the entry's side: a near-blank entry (a mark in the middle) is not matched by a caption upload, only by its own copies", async () => {
      const captioned = await scanned(await dark(true));
      const marked = await scanned(await dark(false, false, true));
      const entry = marked.frames[0]!.blockhash;
      const [captionFromBlank, entryFromBlank] = [blockhashBitsFromBlank(captioned.frames[0]!.blockhash), blockhashBitsFromBlank(entry)];
      const distance = hammingDistance(captioned.frames[0]!.blockhash, entry);
      // The upload is closer to the entry than to blank, but a blank image is closer to the entry than the upload is.
      expect(distance).toBeLessThan(captionFromBlank);
      expect(distance).toBeGreaterThanOrEqual(entryFromBlank);
      expect(entryFromBlank).toBeGreaterThan(0);
      const marks = set({ name: 'marks', algorithm: 'blockhash' }, [['mark', entry]]);
      const type = new HashSetMatchSignalType({ source: { sets: () => [marks] } });
      expect(await type.match(captioned, 0)).toEqual([]);
      expect(await type.match(marked, 0)).toEqual([expect.objectContaining({ suggests: 'block', evidence: expect.objectContaining({ entryId: 'mark', distance: 0, bitsFromBlank: entryFromBlank }) })]);
    });

    it("reads the entries' own distance from blank again when the set changes", async () => {
      const sparse = new Uint8Array(32);
      sparse.fill(0xf0, 0, 8); // 32 bits from blank
      const e1 = flipRange(sparse, 64, 20); // 20 bits away, 44 from blank (band 1's upper rows: 12 from a gradient band): the entry's side is read from its hash (2 x 20 >= 32)
      const e2 = new Uint8Array(32);
      e2[0] = 0xf0; // 4 bits from blank, 28 from the frame: the frame's side holds, the entry's does not
      expect([hammingDistance(sparse, e1), blockhashBitsFromBlank(e1), hammingDistance(sparse, e2), blockhashBitsFromBlank(e2)]).toEqual([20, 44, 28, 4]);
      const memes = set({ name: 'b', algorithm: 'blockhash' }, [['e1', e1]]);
      const type = new HashSetMatchSignalType({ source: { sets: () => [memes] } });
      expect((await type.match(subjectOf(sparse), 0))[0]!.evidence).toMatchObject({ entryId: 'e1', distance: 20, matches: 1 });
      memes.add({ id: 'e2', hash: e2 });
      expect((await type.match(subjectOf(sparse), 0))[0]!.evidence).toMatchObject({ entryId: 'e1', distance: 20, matches: 1 });
      expect((await type.match(subjectOf(e2), 0))[0]!.evidence).toMatchObject({ entryId: 'e2', distance: 0, bitsFromBlank: 4 });
      memes.remove('e1');
      expect(await type.match(subjectOf(sparse), 0)).toEqual([]);
    });

    it("measures the entry's side from the entry's own nearest blank hash, which need not be the frame's", async () => {
      // Frame: 31 of band 0's bits (16 in its upper rows, 15 in its lower: as far from the gradient
      // patterns) and 10 of band 1's set: nearest blank all 0s (41 bits away), all 1s in band 0 is
      // 43 away. Entry: 62 of band 0's bits (the frame's 31 among them) and the frame's 10 of band
      // 1: nearest blank band 0 all 1s, 12 bits away; 31 bits from the frame.
      const frame = flipRange(flipRange(flipRange(new Uint8Array(32), 0, 16), 32, 15), 64, 10);
      const entry = flipRange(flipRange(flipRange(new Uint8Array(32), 0, 32), 32, 30), 64, 10);
      const blankBand0 = flipRange(new Uint8Array(32), 0, 64);
      expect([blockhashBitsFromBlank(frame), hammingDistance(frame, blankBand0), blockhashBitsFromBlank(entry), hammingDistance(entry, blankBand0), hammingDistance(frame, entry)]).toEqual([
        41, 43, 12, 12, 31,
      ]);
      const marks = set({ name: 'b', algorithm: 'blockhash' }, [['entry', entry]]);
      const type = new HashSetMatchSignalType({ source: { sets: () => [marks] } });
      expect(await type.match(subjectOf(frame), 0)).toEqual([]);
      expect((await type.match(subjectOf(flipRange(entry, 100, 5)), 0))[0]!.evidence).toMatchObject({ entryId: 'entry', distance: 5 });
    });

    it("reads the entry's side from the entry's own hash: one index query per hash of the frame, however far the hit", async () => {
      const photo = hash(4242);
      const entry = flipRange(photo, 0, 62); // 62 bits away: 2 x 62 >= the photo's bits from blank, so the entry's side is asked
      expect(2 * hammingDistance(photo, entry)).toBeGreaterThanOrEqual(blockhashBitsFromBlank(photo));
      expect(blockhashBitsFromBlank(entry)).toBeGreaterThan(62);
      const inner = set({ name: 'b', algorithm: 'blockhash' }, [['photo', entry]]);
      const calls = { match: 0, bitsFromBlank: [] as number[] };
      let held = true;
      const watched: MatchableHashSet = {
        config: inner.config,
        get version() {
          return inner.version;
        },
        match: (variants) => (calls.match++, inner.match(variants)),
        describe: (entryNos) => inner.describe(entryNos),
        bitsFromBlank: (entryNo) => (calls.bitsFromBlank.push(entryNo), held ? inner.bitsFromBlank(entryNo) : undefined),
      };
      const type = new HashSetMatchSignalType({ source: { sets: () => [watched] } });
      expect((await type.match(subjectOf(photo), 0))[0]!.evidence).toMatchObject({ entryId: 'photo', distance: 62, matches: 1 });
      expect(calls).toEqual({ match: 1, bitsFromBlank: [0] });
      // An entry the set no longer holds (undefined) is not matched.
      held = false;
      expect(await type.match(subjectOf(photo), 0)).toEqual([]);
      // A hit under half the frame's bits from blank passes the entry's side without asking.
      calls.bitsFromBlank = [];
      inner.add({ id: 'copy', hash: flipRange(photo, 0, 5) });
      expect((await type.match(subjectOf(photo), 0))[0]!.evidence).toMatchObject({ entryId: 'copy', distance: 5, matches: 1 });
      expect(calls.bitsFromBlank).toEqual([0]);
    });

    it('matches exactly the entries the rule allows, closest first, on random mostly flat hashes (against brute force)', async () => {
      const rand = seededRandom(7);
      /** Each band blank (all 0s or all 1s, at random) with a few random bits flipped: mostly flat. */
      const flat = (maxFlips: number): Uint8Array => {
        const hash = new Uint8Array(32);
        for (let band = 0; band < 4; band++) {
          if (rand() < 0.5) hash.fill(0xff, band * 8, band * 8 + 8);
          const flips = Math.floor(rand() * (maxFlips + 1));
          for (let i = 0; i < flips; i++) {
            const bit = band * 64 + Math.floor(rand() * 64);
            hash[bit >> 3]! ^= 0x80 >> (bit & 7);
          }
        }
        return hash;
      };
      const nudge = (hash: Uint8Array, flips: number): Uint8Array => {
        const copy = Uint8Array.from(hash);
        for (let i = 0; i < flips; i++) {
          const bit = Math.floor(rand() * 256);
          copy[bit >> 3]! ^= 0x80 >> (bit & 7);
        }
        return copy;
      };
      const frames = Array.from({ length: 200 }, (_, i) => flat(i % 3 === 0 ? 40 : 10));
      const entries = [...frames.slice(0, 60).map((frame, i) => nudge(frame, i % 25)), ...Array.from({ length: 200 }, (_, i) => flat(i % 2 ? 2 : 20))].filter(
        (hash) => blockhashBitsFromBlank(hash) > 0,
      );
      const memes = set({ name: 'b', algorithm: 'blockhash' }, entries.map((hash, i) => [`e${i}`, hash] as [string, Uint8Array]));
      const type = new HashSetMatchSignalType({ source: { sets: () => [memes] } });
      let matched = 0;
      let heldBackByEntry = 0;
      for (const frame of frames) {
        const frameFromBlank = blockhashBitsFromBlank(frame);
        const expected = entries
          .map((hash, i) => ({ i, distance: hammingDistance(frame, hash), entryFromBlank: blockhashBitsFromBlank(hash) }))
          .filter(({ distance }) => distance <= 64 && distance < frameFromBlank);
        heldBackByEntry += expected.filter(({ distance, entryFromBlank }) => distance >= entryFromBlank).length;
        const allowed = expected.filter(({ distance, entryFromBlank }) => distance < entryFromBlank).sort((a, b) => a.distance - b.distance || a.i - b.i);
        const [signal] = await type.match(subjectOf(frame), 0);
        if (allowed.length === 0) {
          expect(signal).toBeUndefined();
          continue;
        }
        matched++;
        expect(signal!.evidence).toMatchObject({ entryId: `e${allowed[0]!.i}`, distance: allowed[0]!.distance, matches: allowed.length, bitsFromBlank: frameFromBlank });
      }
      // The cases exercised: matches, and hits the entry's side alone held back.
      expect(matched).toBeGreaterThan(30);
      expect(heldBackByEntry).toBeGreaterThan(10);
    });

    it('a photo still matches its entry, its evidence saying how far from blank it is', async () => {
      const rings = await scanned(readFileSync(join(import.meta.dirname, '..', '..', '..', 'fixtures', 'images', 'rings.jpg')));
      const known = set({ name: 'known', algorithm: 'blockhash' }, [['rings', rings.frames[0]!.blockhash]]);
      const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [known] } }).match(rings, 0);
      expect(signal).toMatchObject({ kind: 'blockhash_match', suggests: 'block', evidence: { entryId: 'rings', distance: 0, bitsFromBlank: 52 } });
      // 52, not 128: each band of rings.jpg splits it much alike from left to right, 52 bits from
      // vertical quarter stripes (the quarter turn of a blank hash, blankBlockhashes).
    });

    it('applies per entry, not per frame: nearer entries match, those as far as blank or farther are out of reach', async () => {
      // Band 0 half set (32 bits decided), the other bands flat: 32 bits from blank.
      const sparse = new Uint8Array(32);
      sparse.fill(0xf0, 0, 8);
      const near = flipRange(sparse, 64, 31); // 31 bits away: closer than blank
      const even = flipRange(sparse, 64, 32); // 32 bits away: as far as blank
      const far = flipRange(sparse, 128, 40); // 40: within the threshold, farther than blank
      const frame = subjectOf(sparse);
      expect(blockhashBitsFromBlank(sparse)).toBe(32);
      const memes = set({ name: 'b', algorithm: 'blockhash' }, [['far', far], ['even', even], ['near', near]]);
      const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [memes] } }).match(frame, 0);
      expect(signal!.evidence).toMatchObject({ entryId: 'near', distance: 31, bitsFromBlank: 32, threshold: 64, matches: 1 });
      // The threshold still bounds the reach: at 30 not even `near` is.
      const tight = set({ name: 'b', algorithm: 'blockhash', threshold: 30 }, [['near', near]]);
      expect(await new HashSetMatchSignalType({ source: { sets: () => [tight] } }).match(frame, 0)).toEqual([]);
      // Only `far` and `even`: nothing.
      const without = set({ name: 'b', algorithm: 'blockhash' }, [['far', far], ['even', even]]);
      expect(await new HashSetMatchSignalType({ source: { sets: () => [without] } }).match(frame, 0)).toEqual([]);
    });

    it('the walk passes a quarantined entry on to the next hit the rule lets through, on whichever frame it stands', async () => {
      // Frame 0: 32 bits from blank, holds Z exactly; X is 33 bits from it (farther than blank: out).
      // X: band 1 half decided (16 bits in its upper rows, 16 in its lower) and one bit of band 2: 65 from blank.
      // Frame 1: 95 bits from blank, 40 bits from X. X's closest hit in reach is frame 1's, at 40.
      const frame0 = new Uint8Array(32);
      frame0.fill(0xf0, 0, 8);
      const X = flipRange(flipRange(frame0, 80, 32), 128, 1);
      const frame1 = flipRange(flipRange(X, 144, 32), 192, 8);
      expect([blockhashBitsFromBlank(frame0), blockhashBitsFromBlank(X), blockhashBitsFromBlank(frame1)]).toEqual([32, 65, 95]);
      expect([hammingDistance(frame0, X), hammingDistance(frame1, X), hammingDistance(frame1, frame0)]).toEqual([33, 40, 73]);
      const memes = set({ name: 'b', algorithm: 'blockhash' }, [['Z', frame0], ['X', X]]);
      const quarantinedZ: FloodGuard = {
        recordMatchAmong: async (_config, candidates) => candidates.findIndex((candidate) => candidate.id !== 'Z'),
        recordSuppressions: () => undefined,
      };
      const type = new HashSetMatchSignalType({ source: { sets: () => [memes] }, floodGuard: quarantinedZ });
      const [signal] = await type.match(subjectOf(frame0, frame1), 0);
      expect(signal).toMatchObject({
        suggests: 'block',
        evidence: { entryId: 'X', distance: 40, frame: 1, bitsFromBlank: 95, matches: 1, quarantinedMatches: [{ entryId: 'Z', distance: 0, frame: 0 }] },
      });
      expect(signal!.score).toBe(1 - 40 / 65);
      // Without the quarantine, Z at 0 on frame 0 stands.
      const [plain] = await new HashSetMatchSignalType({ source: { sets: () => [memes] } }).match(subjectOf(frame0, frame1), 0);
      expect(plain!.evidence).toMatchObject({ entryId: 'Z', distance: 0, frame: 0, bitsFromBlank: 32, matches: 1 });
    });

    it('a known-good entry the rule puts out of reach suppresses nothing, one within it still does', async () => {
      const frame0 = new Uint8Array(32);
      frame0.fill(0xf0, 0, 8); // 32 bits from blank
      const bad = set({ name: 'bad', algorithm: 'blockhash' }, [['bad', flipRange(frame0, 64, 20)]]);
      const farGood = set({ name: 'good', algorithm: 'blockhash', kind: 'negative' }, [['good', flipRange(frame0, 64, 40)]]);
      const nearGood = set({ name: 'good', algorithm: 'blockhash', kind: 'negative' }, [['good', flipRange(frame0, 128, 10)]]);
      const withFar = await new HashSetMatchSignalType({ source: { sets: () => [bad, farGood] } }).match(subjectOf(frame0), 0);
      expect(withFar).toEqual([expect.objectContaining({ suggests: 'block', evidence: expect.objectContaining({ entryId: 'bad', distance: 20 }) })]);
      const withNear = await new HashSetMatchSignalType({ source: { sets: () => [bad, nearGood] } }).match(subjectOf(frame0), 0);
      expect(withNear).toEqual([
        expect.objectContaining({ suggests: 'allow', evidence: expect.objectContaining({ entryId: 'good', distance: 10, suppressed: [expect.objectContaining({ entryId: 'bad', distance: 20 })] }) }),
      ]);
    });
  });

  it('quarantines an entry that floods: past maxItems distinct items in the window it suggests review', async () => {
    let now = 1_000_000;
    const bad = set({ name: 'bad', flood: { maxItems: 2, windowSeconds: 1 } }, [['e1', 1000]]);
    const registry = new Registry();
    const metrics = new HashSetMetrics(registry);
    const guard = new MemoryFloodGuard(metrics, () => now);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: guard });
    const suggestions = [];
    // Distinct items: same PDQ neighbourhood, different blockhash (the item fingerprint covers both).
    for (const blockhash of [1, 1, 2]) suggestions.push((await type.match(image(1000, blockhash), 0))[0]!.suggests);
    expect(suggestions).toEqual(['block', 'block', 'block']);
    now += 1500; // a new window: counting starts again
    for (const blockhash of [3, 4]) expect((await type.match(image(1000, blockhash), 0))[0]!.suggests).toBe('block');
    const third = (await type.match(image(1000, 5), 0))[0]!;
    expect(third).toMatchObject({ suggests: 'review', evidence: { quarantined: true } });
    // Quarantine sticks, whatever the window.
    now += 10_000;
    expect((await type.match(image(1000, 1), 0))[0]!.suggests).toBe('review');
    expect([...guard.quarantined.get('bad')!.keys()]).toEqual(['e1']);
    const exported = await registry.metrics();
    expect(exported).toContain('abuse_scan_hashset_quarantines_total{set="bad"} 1');
    expect(exported).toContain('abuse_scan_hashset_quarantined_entries{set="bad"} 1');
    // Matching counts no match: an attempt retried matches again, and the worker counts the
    // signals of each stored verdict instead (countHashSetMatches).
    expect(exported).not.toContain('abuse_scan_hashset_matches_total{');
  });

  it('counts images, not contents, inside a job: one image sent as many contents is one item, however many', async () => {
    const bad = set({ name: 'meme', flood: { maxItems: 2, windowSeconds: 3600 } }, [['e1', 1000]]);
    const guard = new MemoryFloodGuard(new HashSetMetrics(new Registry()), () => 1_000_000);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: guard });
    const job = (contentId: string, tenant: string) => ({ jobId: `job-${contentId}`, contentId, tenant, surface: 'send' });
    const suggests = async (contentId: string, blockhash = 1, tenant = 'acme') => (await type.match(image(1000, blockhash), 0, job(contentId, tenant)))[0]!.suggests;
    // Reposts of one known-bad image, under other contents and tenants: still blocked.
    for (const contentId of ['a', 'b', 'c', 'd']) expect(await suggests(contentId)).toBe('block');
    expect(await suggests('e', 1, 'globex')).toBe('block');
    // Other images matching the entry are other items: the third one floods it.
    expect(await suggests('f', 2)).toBe('block');
    expect(await suggests('g', 3)).toBe('review');
  });

  describe('a quarantined entry passes its match on only to hits the known-good rule leaves', () => {
    // The scanned image; A (5 bits away) floods, B is 25 bits away, the known-good N 10 bits.
    const img = hash(4242);
    const A = flipRange(img, 0, 5);
    const B = flipRange(img, 100, 25);
    const N = flipRange(img, 200, 10);
    const quarantine = (ids: string[]): FloodGuard => ({
      recordMatchAmong: async (_config, candidates) => candidates.findIndex((candidate) => !ids.includes(candidate.id)),
      recordSuppressions: () => undefined,
    });
    const summary = (signals: Awaited<ReturnType<HashSetMatchSignalType['match']>>) =>
      signals.map((s) => ({ set: s.evidence.set, suggests: s.suggests, entryId: s.evidence.entryId, ...(s.evidence.quarantinedMatches !== undefined && { quarantinedMatches: s.evidence.quarantinedMatches }), ...(s.evidence.suppressed !== undefined && { suppressed: s.evidence.suppressed }) }));

    it('never falls back to an entry a known-good entry is strictly closer than: no harsher than removing the quarantined entry', async () => {
      const good = set({ name: 'good', kind: 'negative' }, [['N-logo', N]]);
      const hiddenB = { set: 'bad', entryId: 'B-far', distance: 25, frame: 0, knownGoodEntryId: 'N-logo', knownGoodDistance: 10 };
      // A removed: N hides B (the set's closest entry), only the known-good match remains.
      const withoutA = set({ name: 'bad' }, [['B-far', B]]);
      expect(summary(await new HashSetMatchSignalType({ source: { sets: () => [withoutA, good] }, floodGuard: quarantine([]) }).match(imageOf(img), 0))).toEqual([
        { set: 'good', suggests: 'allow', entryId: 'N-logo', suppressed: [hiddenB] },
      ]);
      // A quarantined: its own match asks for review; B stays hidden, and the known-good signal says so.
      const bad = set({ name: 'bad' }, [['A-flooding', A], ['B-far', B]]);
      const type = (guard: FloodGuard) => new HashSetMatchSignalType({ source: { sets: () => [bad, good] }, floodGuard: guard });
      const quarantined = await type(quarantine(['A-flooding'])).match(imageOf(img), 0);
      expect(summary(quarantined)).toEqual([
        { set: 'bad', suggests: 'review', entryId: 'A-flooding' },
        { set: 'good', suggests: 'allow', entryId: 'N-logo', suppressed: [hiddenB] },
      ]);
      expect(quarantined[0]!.evidence).toMatchObject({ quarantined: true, distance: 5 });
      // A not quarantined: it is the set's closest entry, N is not closer, nothing was hidden.
      expect(summary(await type(quarantine([])).match(imageOf(img), 0))).toEqual([
        { set: 'bad', suggests: 'block', entryId: 'A-flooding' },
        { set: 'good', suggests: 'allow', entryId: 'N-logo', suppressed: [] },
      ]);
    });

    it('falls back to an entry the known-good entry is not closer than, and then hid nothing', async () => {
      const good = set({ name: 'good', kind: 'negative' }, [['N-logo', N]]);
      const bad = set({ name: 'bad' }, [['A-flooding', A], ['B-far', B], ['C-near', flipRange(img, 50, 8)]]);
      const signals = await new HashSetMatchSignalType({ source: { sets: () => [bad, good] }, floodGuard: quarantine(['A-flooding']) }).match(imageOf(img), 0);
      expect(summary(signals)).toEqual([
        { set: 'bad', suggests: 'block', entryId: 'C-near', quarantinedMatches: [{ entryId: 'A-flooding', distance: 5, frame: 0 }] },
        { set: 'good', suggests: 'allow', entryId: 'N-logo', suppressed: [] },
      ]);
      // C quarantined too: the walk ends at N's distance, and B is what N hid.
      const both = await new HashSetMatchSignalType({ source: { sets: () => [bad, good] }, floodGuard: quarantine(['A-flooding', 'C-near']) }).match(imageOf(img), 0);
      expect(summary(both)).toEqual([
        { set: 'bad', suggests: 'review', entryId: 'A-flooding', quarantinedMatches: [{ entryId: 'C-near', distance: 8, frame: 0 }] },
        { set: 'good', suggests: 'allow', entryId: 'N-logo', suppressed: [{ set: 'bad', entryId: 'B-far', distance: 25, frame: 0, knownGoodEntryId: 'N-logo', knownGoodDistance: 10 }] },
      ]);
    });
  });

  it(`walks at most ${MAX_WALKED_CANDIDATES} candidates and names at most ${MAX_LISTED_QUARANTINED} quarantined entries, counting the rest`, async () => {
    // 40 entries one bit from the image (walked by entry number); the first 35 are quarantined.
    const img = hash(777);
    const entries: Array<[string, Uint8Array]> = Array.from({ length: 40 }, (_, i) => [`e${i}`, flipRange(img, i, 1)]);
    const quarantinedIds = entries.slice(0, 35).map(([id]) => id);
    const inner = set({ name: 'bad' }, entries);
    const guard: FloodGuard = {
      recordMatchAmong: async (_config, candidates) => candidates.findIndex((candidate) => !quarantinedIds.includes(candidate.id)),
      recordSuppressions: () => undefined,
    };
    const { set: counted, guard: countedGuard, describes, walks } = counting(inner, guard);
    const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [counted] }, floodGuard: countedGuard }).match(imageOf(img), 0);
    expect(describes.map((d) => d.length)).toEqual([1, MAX_WALKED_CANDIDATES - 1]);
    expect(walks.map((w) => w.length)).toEqual([1, MAX_WALKED_CANDIDATES - 1]);
    expect(signal).toMatchObject({ suggests: 'review', evidence: { entryId: 'e0', quarantined: true, matches: 40, moreQuarantinedMatches: MAX_WALKED_CANDIDATES - 1 - MAX_LISTED_QUARANTINED } });
    expect(signal!.evidence.quarantinedMatches).toEqual(entries.slice(1, 1 + MAX_LISTED_QUARANTINED).map(([entryId]) => ({ entryId, distance: 1, frame: 0 })));
    expect(JSON.stringify(signal!.evidence).length).toBeLessThan(2000);
  });

  describe('a quarantined entry affects only its own matches', () => {
    // J: a junk entry (a near-blank template) that floods; the scanned image Q is 10 bits from J
    // and 20 bits from R, a real known-bad entry of the same set (30 bits from J).
    const J = hash(1000);
    const Q = flipRange(J, 0, 10);
    const R = flipRange(Q, 100, 20);
    // Three different images near J (32 bits from R: out of its reach); items are images, not contents.
    const floodJ = async (type: HashSetMatchSignalType) => {
      for (const [i, item] of ['a', 'b', 'c'].entries()) await type.match(imageOf(flipRange(J, 200 + 10 * i, 2)), 0, { jobId: item, contentId: item, surface: 'upload' });
    };

    it('an item that also matches a non-quarantined entry gets the set action through it; the quarantined one is evidence only', async () => {
      const bad = set({ name: 'csam', flood: { maxItems: 2, windowSeconds: 3600 } }, [['junk-template', J, 'template'], ['real-bad', R, 'known bad']]);
      const registry = new Registry();
      const metrics = new HashSetMetrics(registry);
      const guard = new MemoryFloodGuard(metrics, () => 1_000_000);
      const type = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: guard });
      await floodJ(type);
      expect([...guard.quarantined.get('csam')!.keys()]).toEqual(['junk-template']);

      const signals = await type.match(imageOf(Q), 0, { jobId: 'q', contentId: 'victim', surface: 'upload' });
      expect(signals).toEqual([
        {
          source: 'hashset',
          kind: 'pdq_match',
          item: 0,
          score: 1 - 20 / 32,
          suggests: 'block',
          evidence: {
            set: 'csam',
            setVersion: '2',
            entryId: 'real-bad',
            label: 'known bad',
            distance: 20,
            threshold: 31,
            variant: 'original',
            frame: 0,
            matches: 2,
            quarantinedMatches: [{ entryId: 'junk-template', distance: 10, frame: 0 }],
          },
        },
      ]);
      // The same again: the same evidence (deterministic).
      expect(await type.match(imageOf(Q), 0, { jobId: 'q2', contentId: 'victim', surface: 'upload' })).toEqual(signals);
      // Matching counts no match metric (the worker counts stored verdicts' signals).
      expect(await registry.metrics()).not.toContain('abuse_scan_hashset_matches_total{');
    });

    it('asks for review, naming the closest quarantined entry, only when every entry within reach is quarantined', async () => {
      const bad = set({ name: 'csam', flood: { maxItems: 2, windowSeconds: 3600 } }, [['junk-template', J], ['real-bad', R]]);
      const guard = new MemoryFloodGuard(undefined, () => 1_000_000);
      const type = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: guard });
      await floodJ(type);
      // An item within reach of J alone: 5 bits from J, 35 from R.
      const far = flipRange(J, 200, 5);
      const [onlyJ] = await type.match(imageOf(far), 0, { jobId: 'x', contentId: 'x', surface: 'upload' });
      expect(onlyJ).toMatchObject({ suggests: 'review', evidence: { entryId: 'junk-template', distance: 5, quarantined: true, matches: 1 } });
      expect(onlyJ!.evidence).not.toHaveProperty('quarantinedMatches');
      // R floods too (items near R alone): now Q matches two quarantined entries.
      for (const [i, item] of ['r1', 'r2', 'r3'].entries()) await type.match(imageOf(flipRange(R, 200 + 10 * i, 2)), 0, { jobId: item, contentId: item, surface: 'upload' });
      const [both] = await type.match(imageOf(Q), 0, { jobId: 'q', contentId: 'q', surface: 'upload' });
      expect(both).toMatchObject({
        suggests: 'review',
        evidence: { entryId: 'junk-template', distance: 10, quarantined: true, quarantinedMatches: [{ entryId: 'real-bad', distance: 20, frame: 0 }] },
      });
    });

    it('walks the entries of every frame by distance, then frame, and reports the frame and variant of the entry the match stands on', async () => {
      const bad = set({ name: 'csam', flood: { maxItems: 2, windowSeconds: 3600 } }, [['junk-template', J], ['real-bad', R]]);
      const guard = new MemoryFloodGuard(undefined, () => 1_000_000);
      const type = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: guard });
      await floodJ(type);
      // Frame 0 is 4 bits from J (34 from R); frame 1, through its rotate90 variant, 6 bits from R (36 from J).
      const frame0 = imageOf(flipRange(J, 200, 4)).frames[0]!;
      const rotated = flipRange(R, 220, 6);
      const frame1: ImageHashes = { pdq: hash(5), dihedral: [hash(5), rotated, ...Array.from({ length: 6 }, (_, i) => hash(80_000 + i))], blockhash: hash(6), pdqQuality: 100 };
      const twoFrames = subjectOfFrames([frame0, frame1]);
      const expected = {
        suggests: 'block',
        score: 1 - 6 / 32,
        evidence: { entryId: 'real-bad', distance: 6, frame: 1, variant: 'rotate90', matches: 1, quarantinedMatches: [{ entryId: 'junk-template', distance: 4, frame: 0 }] },
      };
      expect((await type.match(twoFrames, 0))[0]).toMatchObject(expected);
      // The frames the other way round: the same entries, each named with its own frame.
      const [swapped] = await type.match({ ...twoFrames, frames: [frame1, frame0] }, 0);
      expect(swapped).toMatchObject({ ...expected, evidence: { ...expected.evidence, frame: 0, quarantinedMatches: [{ entryId: 'junk-template', distance: 4, frame: 1 }] } });
      // On a tie the earlier frame comes first: R exactly on both frames.
      const tie = subjectOfFrames([imageOf(R).frames[0]!, { ...frame1, dihedral: [hash(5), R, ...frame1.dihedral!.slice(2)] }]);
      expect((await type.match(tie, 0))[0]).toMatchObject({ evidence: { entryId: 'real-bad', distance: 0, frame: 0, variant: 'original' } });
    });

    it('costs nothing more while the closest entry is not quarantined: one describe and one flood-guard call for the closest only', async () => {
      const inner = set({ name: 'csam', flood: { maxItems: 2, windowSeconds: 3600 } }, [['junk-template', J], ['real-bad', R], ['other', flipRange(Q, 150, 25)]]);
      const { set: counted, guard, describes, walks } = counting(inner, new MemoryFloodGuard(undefined, () => 1_000_000));
      const type = new HashSetMatchSignalType({ source: { sets: () => [counted] }, floodGuard: guard });
      const [signal] = await type.match(imageOf(Q), 0, { jobId: 'q', contentId: 'q', surface: 'upload' });
      expect(signal).toMatchObject({ suggests: 'block', evidence: { entryId: 'junk-template', matches: 3 } });
      expect(describes).toEqual([[0]]);
      expect(walks).toEqual([['junk-template']]);
      // Once J is quarantined: one more describe and one more guard call, for all the others at once.
      await floodJ(type);
      describes.length = 0;
      walks.length = 0;
      await type.match(imageOf(Q), 0, { jobId: 'q2', contentId: 'q2', surface: 'upload' });
      expect(describes).toEqual([[0], [1, 2]]);
      expect(walks).toEqual([['junk-template'], ['real-bad', 'other']]);
    });
  });
});
