import { describe, expect, it } from 'vitest';
import { resolveHashSetConfig } from '../../hashsets/hash-set-config.js';
import type { EntryDescription, MatchableHashSet } from '../../hashsets/hash-set.js';
import type { VariantMatch } from '../../hashsets/entry-index.js';
import type { ImageHashes } from '../../images/index.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import type { MatchContext } from '../signal-type.js';
import { HashSetMatchSignalType } from './index.js';
import { seededHash as hash, subjectOfFrames } from '../../../test/harness/hashes.js';

/**
 * A replica-like set: one entry that always matches, and a version that changes in place, as a
 * worker's replica does when a change is applied while a job awaits Redis (describe, flood guard).
 */
class LiveSet implements MatchableHashSet {
  readonly config = resolveHashSetConfig({ name: 'live', algorithm: 'pdq' });
  versionNo = 5;
  /** Called while describe() awaits: what a sync does meanwhile. */
  duringDescribe: () => void = () => undefined;

  get version(): string {
    return String(this.versionNo);
  }

  match(): VariantMatch[] {
    return [{ entryNo: 0, distance: 0, variant: 0 }];
  }

  bitsFromBlank(): number {
    return Infinity; // PDQ: no blank rule
  }

  async describe(entryNos: readonly number[]): Promise<Array<EntryDescription | undefined>> {
    await new Promise((resolve) => setImmediate(resolve));
    this.duringDescribe();
    return entryNos.map(() => ({ id: 'e0' }));
  }
}

function image(): ImageSubject {
  const frame: ImageHashes = { pdq: hash(1), dihedral: Array.from({ length: 8 }, (_, i) => hash(1 + i)), blockhash: hash(99), pdqQuality: 100 };
  return subjectOfFrames([frame]);
}

const context = (): MatchContext => ({ jobId: 'j1', contentId: 'c1', surface: 'upload' });

describe('hash-set signal type: versions are those of the sets as matched', () => {
  it('a signal names the version its entry matched in, though the set moved on while the signal was described', async () => {
    const set = new LiveSet();
    set.duringDescribe = () => void (set.versionNo = 6);
    const [signal] = await new HashSetMatchSignalType({ source: { sets: () => [set] } }).match(image(), 0, context());
    expect(signal!.evidence).toMatchObject({ set: 'live', setVersion: '5', entryId: 'e0' });
  });

  it("a job's versions are the sets' versions when its items were matched, not when the verdict is written", async () => {
    const set = new LiveSet();
    const type = new HashSetMatchSignalType({ source: { sets: () => [set] } });
    const job = context();
    await type.match(image(), 0, job);
    set.versionNo = 7; // a change applied after the job's match, before its verdict
    expect(type.versions(job)).toEqual({ hashSets: { live: '5' } });
    // Without a job: the sets as they are now.
    expect(type.versions()).toEqual({ hashSets: { live: '7' } });
  });
});
