/**
 * `abuse-scan hashset release` exits as `disable` and `enable` do for an id they cannot change: 2
 * when an id is unknown or not quarantined, naming it (the quarantined ones are released all the
 * same); 0 when every id was released; 1 for a set that does not exist.
 */
import { describe, expect, it } from 'vitest';
import { RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { hexToHash } from '../../src/matching/hash-bits.js';
import { runCli } from '../harness/cli.js';
import { suiteRedis } from '../harness/redis.js';

/** Runs a few CLI commands: seconds each when the machine is busy. */
const CLI_TEST_TIMEOUT = 120_000;

describe('abuse-scan hashset release: exit status', () => {
  const { prefix, redis } = suiteRedis('hashset-release-exit');
  const store = new HashSetStore(redis, { prefix });
  const env = { ABUSE_SCAN_PREFIX: prefix };

  it('exits 2 naming the ids it did not release (unknown, or not quarantined), 0 when it released every one, 1 for a missing set', async () => {
    await store.create({ name: 'flooded', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.add('flooded', [
      { id: 'viral-1', hash: hexToHash('a'.repeat(64), 256) },
      { id: 'viral-2', hash: hexToHash('b'.repeat(64), 256) },
      { id: 'calm', hash: hexToHash('c'.repeat(64), 256) },
    ]);
    const { config } = await store.summary('flooded');
    const guard = new RedisFloodGuard(redis, prefix);
    for (const [entryNo, id] of ['viral-1', 'viral-2'].entries()) {
      for (const item of ['item-1', 'item-2']) await guard.recordMatch(config, { entryNo, id }, item);
    }
    expect((await store.quarantined('flooded')).map((entry) => entry.id).sort()).toEqual(['viral-1', 'viral-2']);

    const some = await runCli(['hashset', 'release', 'flooded', 'viral-1', 'no-such-id', 'calm', 'no-such-id'], { env });
    expect(some).toMatchObject({
      code: 2,
      stdout: 'released 1 of 3 from quarantine in flooded\n',
      stderr: 'not quarantined (unknown or not in quarantine): no-such-id, calm\n',
    });
    expect((await store.quarantined('flooded')).map((entry) => entry.id)).toEqual(['viral-2']);

    expect(await runCli(['hashset', 'release', 'flooded', 'viral-1'], { env })).toMatchObject({ code: 2, stdout: 'released 0 of 1 from quarantine in flooded\n', stderr: 'not quarantined (unknown or not in quarantine): viral-1\n' });
    expect(await runCli(['hashset', 'release', 'flooded', 'viral-2'], { env })).toMatchObject({ code: 0, stdout: 'released 1 of 1 from quarantine in flooded\n', stderr: '' });
    expect(await store.quarantined('flooded')).toEqual([]);

    // As disable and enable of an unknown id do.
    expect(await runCli(['hashset', 'disable', 'flooded', 'no-such-id', '--reason', 'x'], { env })).toMatchObject({ code: 2 });
    expect(await runCli(['hashset', 'release', 'no-such-set', 'viral-1'], { env })).toMatchObject({ code: 1, stderr: 'abuse-scan: hashset_not_found: no hash set named "no-such-set"\n' });
  }, CLI_TEST_TIMEOUT);
});
