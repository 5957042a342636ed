import { describe, expect, it } from 'vitest';
import { blockhashBitsFromBlank } from '../images/blockhash.js';
import { hammingDistance, hexToHash } from '../matching/hash-bits.js';
import { seededHash } from '../../test/harness/hashes.js';
import {
  blankBlockhashes,
  blockhashEntryCanMatch,
  DEFAULT_THRESHOLDS,
  formatHashSetSettingsLine,
  hashSetSettingsDifferences,
  hashSetSettingsInput,
  HashSetSettingsError,
  parseHashSetSettingsLine,
  passesBlankRule,
  resolveHashSetConfig,
} from './hash-set-config.js';

const blockhash = resolveHashSetConfig({ name: 'b', algorithm: 'blockhash' });
const pdq = resolveHashSetConfig({ name: 'p', algorithm: 'pdq' });

/** A 256-bit hash with the given bits set (row by row, most significant bit first). */
function withBits(bits: Iterable<number>): Uint8Array {
  const hash = new Uint8Array(32);
  for (const bit of bits) hash[bit >> 3]! |= 0x80 >> (bit & 7);
  return hash;
}
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('passesBlankRule (blockhash: frame and entry each closer to the other than to blank)', () => {
  it("holds exactly when the distance is below both the frame's and the entry's bits from blank", () => {
    expect(passesBlankRule(blockhash, 0, 35, 35)).toBe(true); // an exact copy of a caption on black
    expect(passesBlankRule(blockhash, 12, 38, 26)).toBe(true); // its JPEG re-encode
    expect(passesBlankRule(blockhash, 34, 35, 40)).toBe(true);
    // The frame's side: as far from the entry as from blank, or farther.
    expect(passesBlankRule(blockhash, 35, 35, 70)).toBe(false); // a solid black frame vs a caption entry
    expect(passesBlankRule(blockhash, 30, 4, 26)).toBe(false); // a near-black frame vs a caption entry
    // The entry's side: a near-blank entry (a small mark in the middle) vs a caption upload.
    expect(passesBlankRule(blockhash, 31, 35, 4)).toBe(false);
    expect(passesBlankRule(blockhash, 4, 35, 4)).toBe(false);
    expect(passesBlankRule(blockhash, 3, 5, 4)).toBe(true); // its near copy
    expect(passesBlankRule(blockhash, 0, 0, 0)).toBe(false); // blank matches nothing, not even blank
    expect(passesBlankRule(blockhash, 64, 128, 127)).toBe(true); // photos at the default threshold
  });

  it("does not depend on the threshold (that is the index's reach) and leaves PDQ sets alone", () => {
    const tight = resolveHashSetConfig({ name: 'b', algorithm: 'blockhash', threshold: 8 });
    expect(passesBlankRule(tight, 20, 35, 30)).toBe(passesBlankRule(blockhash, 20, 35, 30));
    expect(DEFAULT_THRESHOLDS.blockhash).toBe(64);
    expect(passesBlankRule(pdq, 31, 0, 0)).toBe(true);
  });

  it("bitsFromBlank moves by at most one a bit: the entry's side can fail only at 2 x distance >= the frame's bits from blank", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const frame = seed % 2 ? seededHash(seed) : withBits(range((seed * 7) % 200, 20 + (seed % 30)));
      const entry = withBits(range((seed * 13) % 220, seed % 36));
      const distance = hammingDistance(frame, entry);
      const [frameFromBlank, entryFromBlank] = [blockhashBitsFromBlank(frame), blockhashBitsFromBlank(entry)];
      expect(Math.abs(frameFromBlank - entryFromBlank)).toBeLessThanOrEqual(distance);
      if (2 * distance < frameFromBlank) expect(distance).toBeLessThan(entryFromBlank);
    }
  });
});

describe('blankBlockhashes', () => {
  it("are the 510 hashes blockhashBitsFromBlank measures from: each horizontal band, or each vertical stripe, all 0s, all 1s or a gradient's halves", () => {
    const blanks = blankBlockhashes();
    // 4^4 of bands, 4^4 of stripes, all 0s and all 1s both.
    expect(new Set(blanks.map((hash) => Buffer.from(hash).toString('hex'))).size).toBe(510);
    expect(blanks.map((hash) => Buffer.from(hash).toString('hex'))).toContain('ff00'.repeat(16)); // a flag split left and right
    expect(blanks.map((hash) => Buffer.from(hash).toString('hex'))).toContain('00000000ffffffff'.repeat(4)); // a top-to-bottom gradient
    expect(blanks.map((hash) => Buffer.from(hash).toString('hex'))).toContain('3333'.repeat(16)); // a left-to-right gradient, brightening
    for (const blank of blanks) expect(blockhashBitsFromBlank(blank)).toBe(0);
    for (let seed = 1; seed <= 100; seed++) {
      const hash = seed % 2 ? seededHash(seed) : withBits(range(seed, seed % 50));
      expect(Math.min(...blanks.map((blank) => hammingDistance(hash, blank)))).toBe(blockhashBitsFromBlank(hash));
    }
  });
});

describe('blockhashEntryCanMatch', () => {
  it("turns down exactly the blank images' hashes (each quarter band, or each quarter stripe, all 0s or all 1s) of blockhash sets", () => {
    for (const blank of blankBlockhashes()) expect(blockhashEntryCanMatch(blockhash, blank)).toBe(false);
    // A picture split left and right (vertical stripes): refused too, as its quarter turn is.
    expect(blockhashEntryCanMatch(blockhash, hexToHash('ff00'.repeat(16), 256))).toBe(false);
    expect(blockhashEntryCanMatch(blockhash, hexToHash('0ff0'.repeat(16), 256))).toBe(false);
    // A smooth gradient, top to bottom or left to right (each band or stripe split in half at its median): refused.
    expect(blockhashEntryCanMatch(blockhash, hexToHash('00000000ffffffff'.repeat(4), 256))).toBe(false);
    expect(blockhashEntryCanMatch(blockhash, hexToHash('cccc'.repeat(16), 256))).toBe(false);
    expect(blockhashEntryCanMatch(blockhash, withBits([100]))).toBe(true); // one block decided: an exact copy matches
    expect(blockhashEntryCanMatch(blockhash, withBits(range(0, 63)))).toBe(true);
    expect(blockhashEntryCanMatch(blockhash, seededHash(1))).toBe(true);
  });

  it('leaves PDQ sets to their quality floor', () => {
    expect(blockhashEntryCanMatch(pdq, new Uint8Array(32))).toBe(true);
  });
});

describe("a set's settings line (formatHashSetSettingsLine / parseHashSetSettingsLine)", () => {
  it('writes every setting that changes matching and reads back the same configuration', () => {
    const config = resolveHashSetConfig({ name: 'tight', algorithm: 'blockhash', kind: 'review', threshold: 40, minQuality: 70, flood: { maxItems: 1, windowSeconds: 60 } });
    const line = formatHashSetSettingsLine(config);
    expect(line).toBe('# abuse-scan hash set: algorithm=blockhash kind=review threshold=40 min_quality=70 flood_max_items=1 flood_window_seconds=60');
    const settings = parseHashSetSettingsLine(line)!;
    expect(resolveHashSetConfig({ name: 'tight', algorithm: settings.algorithm!, ...hashSetSettingsInput(settings) })).toEqual(config);
    expect(hashSetSettingsDifferences(settings, config)).toEqual([]);
    // The defaults are written too: a reader's defaults never decide.
    expect(formatHashSetSettingsLine(pdq)).toBe(`# abuse-scan hash set: algorithm=pdq kind=block threshold=${DEFAULT_THRESHOLDS.pdq} min_quality=50 flood_max_items=1000 flood_window_seconds=3600`);
  });

  it('names what a line gives that a set does not have, and nothing it leaves out', () => {
    expect(hashSetSettingsDifferences(parseHashSetSettingsLine('# abuse-scan hash set: algorithm=pdq threshold=8 flood_max_items=1')!, pdq)).toEqual(['threshold=8 (set: 31)', 'flood_max_items=1 (set: 1000)']);
    expect(hashSetSettingsDifferences(parseHashSetSettingsLine('# abuse-scan hash set: kind=negative threshold=8')!, pdq, ['algorithm', 'kind'])).toEqual(['kind=negative (set: block)']);
    expect(parseHashSetSettingsLine('# a comment')).toBeUndefined();
    expect(parseHashSetSettingsLine(`${'a'.repeat(64)},x,y`)).toBeUndefined();
    expect(() => parseHashSetSettingsLine('# abuse-scan hash set: colour=red')).toThrow(HashSetSettingsError);
  });
});
