/**
 * A list deleted and made again under its name goes on after the deleted one's last version (kept
 * in the tombstones: listTombstonesKey), whichever write makes it again (add, import), so a version
 * a verdict names (`versions.lists`, evidence `listVersion`) is of one list's contents only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScanClient } from '../../src/client/scan-client.js';
import type { ConsumedVerdict } from '../../src/jobs/verdict-schema.js';
import { canonicalEntry, type ListEntry } from '../../src/lists/list-entry.js';
import { listTombstonesKey } from '../../src/lists/list-keys.js';
import { ListStore } from '../../src/lists/list-store.js';
import { startFleetWithServer } from '../harness/fleet.js';
import { suiteRedis } from '../harness/redis.js';
import type { TestServer } from './unfurl-servers.js';

const entries = (...texts: string[]): ListEntry[] => texts.map((text) => canonicalEntry(text));

describe('list versions across a deletion (Redis)', () => {
  const { prefix, redis } = suiteRedis('list-version-recreate');
  const store = new ListStore(redis, { prefix, batchSize: 3 });
  const tombstones = listTombstonesKey(prefix);

  it('a list made again starts past every version the deleted one had, by an add or an import, and loads as ever', async () => {
    await store.add('spam', entries('old-a.example'));
    await store.add('spam', entries('old-b.example'));
    expect(await store.delete('spam')).toEqual({ name: 'spam', version: 2, entries: 2 });
    expect(await redis.hget(tombstones, 'spam')).toBe('2');
    expect(await redis.keys(`${prefix}:list:spam:*`)).toEqual([]);

    expect(await store.add('spam', entries('new-a.example'))).toMatchObject({ version: 3, added: 1 });
    expect(await redis.hexists(tombstones, 'spam')).toBe(0);
    const loaded = await store.loadWithIdentity('spam');
    expect({ version: loaded!.list.version, domains: [...loaded!.list.domains.keys()] }).toEqual({ version: '3', domains: ['new-a.example'] });

    // Made again by an import (staged, committed in one script), twice over.
    expect(await store.delete('spam')).toMatchObject({ version: 3 });
    expect(await store.import('spam', entries('i1.example', 'i2.example', 'i3.example', 'i4.example'))).toMatchObject({ version: 4, added: 4 });
    expect(await store.delete('spam')).toMatchObject({ version: 4 });
    expect(await store.add('spam', entries('a1.example', 'a2.example', 'a3.example', 'a4.example'))).toMatchObject({ version: 5, added: 4 });
    expect((await store.summary('spam'))!.version).toBe(5);

    // A list never deleted starts at 1 as ever; removing from or deleting a missing list keeps no tombstone.
    expect(await store.add('first', entries('x.example'))).toMatchObject({ version: 1 });
    expect(await store.remove('never-made', entries('x.example'))).toMatchObject({ version: 0 });
    expect(await store.delete('never-made')).toBeUndefined();
    expect(await redis.hkeys(tombstones)).toEqual([]);
  });

  describe("a worker's verdict", () => {
    let fleet: Awaited<ReturnType<typeof startFleetWithServer>>;
    let client: ScanClient;
    let server: TestServer;

    beforeAll(async () => {
      fleet = await startFleetWithServer(prefix, (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('spam'));
      ({ client, server } = fleet);
    });

    afterAll(async () => {
      await fleet?.stop();
    });

    it('after the list is deleted and made again names the new version, not the deleted one\'s', async () => {
      let scans = 0;
      const scan = async () => {
        const { jobId } = await client.enqueue({ contentId: `spam-${scans}`, surface: 'send', items: [`${server.origin}/spam`] }, { jobId: `spam-${scans++}` });
        return client.waitForVerdict(jobId, { timeoutMs: 15_000 });
      };
      const listVersions = (verdict: ConsumedVerdict) => ({
        versions: verdict.versions.lists['e2e-spam'],
        evidence: verdict.signals.filter((s) => s.source === 'blocklist' && s.evidence.list === 'e2e-spam').map((s) => s.evidence.listVersion),
      });
      const waitFor = async (version: number) => {
        const since = Date.now();
        let verdict = await scan();
        while (listVersions(verdict).evidence[0] !== String(version) && Date.now() - since < 3000) verdict = await scan();
        return verdict;
      };

      const first = await store.add('e2e-spam', [{ ...canonicalEntry('127.0.0.1/spam'), label: 'first incarnation' }]);
      expect(listVersions(await waitFor(first.version))).toEqual({ versions: String(first.version), evidence: [String(first.version)] });

      await store.delete('e2e-spam');
      const second = await store.add('e2e-spam', [{ ...canonicalEntry('127.0.0.1/spam'), label: 'second incarnation' }]);
      expect(second.version).toBeGreaterThan(first.version);
      const verdict = await waitFor(second.version);
      expect(listVersions(verdict)).toEqual({ versions: String(second.version), evidence: [String(second.version)] });
      expect(verdict.signals.find((s) => s.source === 'blocklist')!.evidence).toMatchObject({ label: 'second incarnation' });
    });
  });
});
