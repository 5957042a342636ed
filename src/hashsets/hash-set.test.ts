import { describe, expect, it } from 'vitest';
import { resolveHashSetConfig } from './hash-set-config.js';
import { HashSet } from './hash-set.js';
import { seededHash as hash } from '../../test/harness/hashes.js';

const pdqSet = (expectedSize = 0) => new HashSet(resolveHashSetConfig({ name: 'known-bad', algorithm: 'pdq' }), { expectedSize });

describe('HashSet', () => {
  it('fills defaults: PDQ threshold 31, blockhash 64, kind block, quality floor 50', () => {
    expect(resolveHashSetConfig({ name: 'a', algorithm: 'pdq' })).toMatchObject({ threshold: 31, kind: 'block', minQuality: 50 });
    expect(resolveHashSetConfig({ name: 'a', algorithm: 'blockhash' }).threshold).toBe(64);
    expect(() => resolveHashSetConfig({ name: 'bad:name', algorithm: 'pdq' })).toThrow();
  });

  it('matches within the threshold (inclusive) and not beyond, reporting the closest variant', () => {
    const set = pdqSet();
    expect(set.add({ id: 'a', hash: hash(1), label: 'A' })).toBe('added');
    expect(set.match([hash(1, 31)])).toEqual([{ entryNo: 0, distance: 31, variant: 0 }]);
    expect(set.match([hash(1, 32)])).toEqual([]);
    expect(set.match([hash(9), hash(1, 3)])).toEqual([{ entryNo: 0, distance: 3, variant: 1 }]);
  });

  it('adds idempotently: same id and hash is unchanged, same id with another hash a conflict', () => {
    const set = pdqSet();
    set.add({ id: 'a', hash: hash(1) });
    const version = set.version;
    expect(set.add({ id: 'a', hash: hash(1) })).toBe('unchanged');
    expect(set.add({ id: 'a', hash: hash(2) })).toBe('conflict');
    expect(set.version).toBe(version);
    expect(set.match([hash(2)])).toEqual([]);
  });

  it('removes, disables and enables entries incrementally', async () => {
    const set = pdqSet();
    set.add({ id: 'a', hash: hash(1) });
    set.add({ id: 'b', hash: hash(2), label: 'B' });
    expect(set.disable('a', 'false positive')).toBe(true);
    expect(set.disable('a', 'again')).toBe(false);
    expect(set.get('a')!.disabled).toMatchObject({ reason: 'false positive' });
    expect(set.match([hash(1)])).toEqual([]);
    expect(set.enabledSize).toBe(1);
    expect(set.enable('a')).toBe(true);
    expect(set.match([hash(1)])).toHaveLength(1);
    expect(set.remove('b')).toBe(true);
    expect(set.remove('b')).toBe(false);
    expect(set.match([hash(2)])).toEqual([]);
    expect(set.size).toBe(1);
    // The freed entry number is reused by the next add.
    set.add({ id: 'c', hash: hash(3), label: 'C' });
    const [match] = set.match([hash(3)]);
    expect(await set.describe([match!.entryNo])).toEqual([{ id: 'c', label: 'C' }]);
  });

  it('refuses PDQ hashes below the quality floor, and hashes of the wrong length', () => {
    const set = pdqSet();
    expect(() => set.add({ id: 'flat', hash: hash(1) }, 49)).toThrow(expect.objectContaining({ code: 'hash_low_quality' }));
    expect(set.add({ id: 'ok', hash: hash(1) }, 50)).toBe('added');
    expect(() => set.add({ id: 'short', hash: new Uint8Array(8) })).toThrow(expect.objectContaining({ code: 'invalid_hash' }));
    const blockhash = new HashSet(resolveHashSetConfig({ name: 'b', algorithm: 'blockhash' }));
    expect(blockhash.add({ id: 'flat', hash: hash(1) }, 0)).toBe('added');
  });

  it("refuses a blockhash that is a blank image's hash (it can never match), as it refuses PDQ below the floor", () => {
    const blockhash = new HashSet(resolveHashSetConfig({ name: 'b', algorithm: 'blockhash' }));
    for (const blank of [new Uint8Array(32), new Uint8Array(32).fill(0xff), Uint8Array.from({ length: 32 }, (_, i) => (i < 8 ? 0xff : 0))]) {
      expect(() => blockhash.add({ id: 'blank', hash: blank })).toThrow(expect.objectContaining({ code: 'hash_low_quality', message: expect.stringContaining("blank image's hash") }));
    }
    expect(blockhash.size).toBe(0);
    const oneBlock = new Uint8Array(32);
    oneBlock[12] = 0x01;
    expect(blockhash.add({ id: 'one-block', hash: oneBlock })).toBe('added');
    // PDQ sets hold all-zero hashes (their floor is the quality, given separately).
    expect(pdqSet().add({ id: 'zero', hash: new Uint8Array(32) })).toBe('added');
  });

  it('stays exact when it grows far past the size its index was laid out for', () => {
    const set = pdqSet(0);
    for (let i = 0; i < 3000; i++) set.add({ id: `e${i}`, hash: hash(i + 10) });
    for (const i of [0, 1234, 2999]) expect(set.match([hash(i + 10, 5)])[0]).toMatchObject({ distance: 5 });
  });
});
