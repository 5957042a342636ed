/**
 * A frame can have several views of one name (a `trimmed` view per ring of a border, a `stretched`
 * view of the whole frame and of each faint trimmed crop): a hit on a view with a box names the box
 * (`box`, in the image's upright pixels as `abuse-scan hash --views` prints it) next to `view`, in
 * the evidence, in quarantinedMatches and in a known-good signal's `suppressed`; absent for the
 * stored pixels and for a view without a box.
 */
import { describe, expect, it } from 'vitest';
import { resolveHashSetConfig, type HashSetConfigInput } from '../../hashsets/hash-set-config.js';
import { HashSet } from '../../hashsets/hash-set.js';
import type { FloodGuard } from '../../hashsets/flood-guard.js';
import type { BorderBox, ImageHashes, ImageView, ImageViewHashes } from '../../images/index.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import { seededHash as hash, subjectOfFrames } from '../../../test/harness/hashes.js';
import { HashSetMatchSignalType } from './index.js';

function set(input: Omit<HashSetConfigInput, 'algorithm'>, entries: Array<[string, Uint8Array]>): HashSet {
  const hashSet = new HashSet(resolveHashSetConfig({ algorithm: 'pdq', ...input }));
  for (const [id, entry] of entries) hashSet.add({ id, hash: entry });
  return hashSet;
}

/** Hashes of one picture whose PDQ is exactly `pdq` (its other variants, and its blockhash, match nothing). */
function picture(pdq: Uint8Array, salt: number): Omit<ImageHashes, 'views'> {
  return { pdq, dihedral: [pdq, ...Array.from({ length: 7 }, (_, i) => hash(70_000 + 10 * salt + i))], blockhash: hash(71_000 + salt), pdqQuality: 100 };
}

function view(name: ImageView, pdq: Uint8Array, salt: number, box?: BorderBox): ImageViewHashes {
  return { view: name, ...picture(pdq, salt), ...(box && { box }) };
}

/** `hash` with bits [from, from + count) inverted. */
function flipRange(hashBytes: Uint8Array, from: number, count: number): Uint8Array {
  const copy = Uint8Array.from(hashBytes);
  for (let bit = from; bit < from + count; bit++) copy[bit >> 3]! ^= 0x80 >> (bit & 7);
  return copy;
}

const OUTLINE: BorderBox = { left: 4, top: 4, width: 252, height: 192 };
const MAT: BorderBox = { left: 20, top: 20, width: 220, height: 160 };

describe('hash-set evidence of a view with a box', () => {
  it('a frame with two trimmed views (a border of two rings): the match on the second names its box', async () => {
    const entry = hash(5000);
    const bad = set({ name: 'bad' }, [['bad', entry]]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad] } });
    const frame: ImageHashes = { ...picture(hash(5100), 1), views: [view('trimmed', hash(5200), 2, OUTLINE), view('trimmed', flipRange(entry, 0, 3), 3, MAT)] };
    const [signal] = await type.match(subjectOfFrames([frame]), 0);
    expect(signal).toMatchObject({ suggests: 'block', evidence: { entryId: 'bad', distance: 3, view: 'trimmed', box: MAT, frame: 0 } });

    // On the first ring's view instead: that box.
    const onOutline: ImageHashes = { ...picture(hash(5100), 1), views: [view('trimmed', flipRange(entry, 0, 2), 2, OUTLINE), view('trimmed', hash(5300), 3, MAT)] };
    expect((await type.match(subjectOfFrames([onOutline]), 0))[0]!.evidence).toMatchObject({ distance: 2, view: 'trimmed', box: OUTLINE });
  });

  it('a stretched view of a trimmed crop names its box; the whole frame stretched, a view without a box and the stored pixels name none', async () => {
    const entry = hash(6000);
    const type = new HashSetMatchSignalType({ source: { sets: () => [set({ name: 'bad' }, [['bad', entry]])] } });
    const match = async (frame: ImageHashes) => (await type.match(subjectOfFrames([frame]), 0))[0]!.evidence;

    const stretchedCrop: ImageHashes = { ...picture(hash(6100), 1), views: [view('stretched', hash(6200), 2), view('stretched', entry, 3, MAT)] };
    expect(await match(stretchedCrop)).toMatchObject({ view: 'stretched', box: MAT });
    const stretchedWhole: ImageHashes = { ...picture(hash(6100), 1), views: [view('stretched', entry, 2), view('stretched', hash(6300), 3, MAT)] };
    const whole = await match(stretchedWhole);
    expect(whole).toMatchObject({ view: 'stretched' });
    expect(whole).not.toHaveProperty('box');
    const onWhite = await match({ ...picture(hash(6100), 1), views: [view('on-white', entry, 2)] });
    expect(onWhite).toMatchObject({ view: 'on-white' });
    expect(onWhite).not.toHaveProperty('box');
    const stored = await match({ ...picture(entry, 1), views: [view('trimmed', hash(6400), 2, MAT)] });
    expect(stored).not.toHaveProperty('view');
    expect(stored).not.toHaveProperty('box');
  });

  it('the box is given in the image\'s upright pixels, scaled from the working frame as `hash --views` prints it', async () => {
    const entry = hash(6500);
    const type = new HashSetMatchSignalType({ source: { sets: () => [set({ name: 'bad' }, [['bad', entry]])] } });
    const frame: ImageHashes = { ...picture(hash(6600), 1), views: [view('trimmed', entry, 2, { left: 10, top: 7, width: 301, height: 200 })] };
    // A 1280x853 image hashed at 512x341.
    const subject: ImageSubject = {
      decoded: { format: 'jpeg', width: 1280, height: 853, frameCount: 1, hasAlpha: false, frames: [{ index: 0, width: 512, height: 341 }] } as unknown as ImageSubject['decoded'],
      frames: [frame],
    };
    const [signal] = await type.match(subject, 0);
    expect(signal!.evidence.box).toEqual({ left: 25, top: Math.round((7 * 853) / 341), width: Math.round((301 * 1280) / 512), height: Math.round((200 * 853) / 341) });
  });

  it("a quarantined hit and a known-good signal's suppressed hit name their view's box", async () => {
    const entry = hash(7000);
    const other = hash(7100);
    const bad = set({ name: 'bad' }, [['e', entry], ['o', other]]);
    const frame: ImageHashes = { ...picture(hash(7200), 1), views: [view('trimmed', entry, 2, OUTLINE), view('trimmed', flipRange(other, 0, 3), 3, MAT)] };
    const quarantineE: FloodGuard = { recordMatchAmong: async (_config, candidates) => candidates.findIndex((c) => c.id !== 'e'), recordSuppressions: () => undefined };
    const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: quarantineE }).match(subjectOfFrames([frame]), 0);
    expect(signal).toMatchObject({ evidence: { entryId: 'o', view: 'trimmed', box: MAT, quarantinedMatches: [{ entryId: 'e', distance: 0, frame: 0, view: 'trimmed', box: OUTLINE }] } });

    // A known-good entry 1 bit from the mat's view hides the bad entry 3 bits from it.
    const shown = flipRange(other, 0, 3);
    const good = set({ name: 'good', kind: 'negative' }, [['near', flipRange(shown, 100, 1)]]);
    const onMat: ImageHashes = { ...picture(hash(7200), 1), views: [view('trimmed', hash(7300), 2, OUTLINE), view('trimmed', shown, 3, MAT)] };
    const signals = await new HashSetMatchSignalType({ source: { sets: () => [set({ name: 'bad' }, [['o', other]]), good] } }).match(subjectOfFrames([onMat]), 0);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.evidence).toMatchObject({
      set: 'good',
      view: 'trimmed',
      box: MAT,
      suppressed: [{ set: 'bad', entryId: 'o', distance: 3, frame: 0, view: 'trimmed', box: MAT, knownGoodEntryId: 'near', knownGoodDistance: 1 }],
    });
  });
});
