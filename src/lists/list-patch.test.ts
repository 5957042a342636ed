import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { targetOf } from '../../test/harness/link-targets.js';
import { encodeEntryInfo, type EntryKind } from './list-entry.js';
import { CompiledListBuilder, compileList, ListMatcher, type CompiledList } from './list-matcher.js';
import { compactList, LayeredMap, needsCompaction, patchList } from './list-patch.js';
import type { ListLogRecord } from './list-store.js';

/** Patched snapshots must equal a list compiled from scratch at each version, and never change once made. */

const hosts = ['a.example', 'b.example', 'c.example', 'x.a.example', '1.2.3.4'];
const entry = fc.oneof(
  fc.constantFrom(...hosts.filter((h) => !h.startsWith('1') && h.split('.').length === 2)).map((value) => ({ kind: 'domain' as EntryKind, value })),
  fc.tuple(fc.constantFrom(...hosts), fc.constantFrom('/', '/p/', '/p/q.html')).map(([h, p]) => ({ kind: 'expression' as EntryKind, value: `${h}${p}` })),
  fc.tuple(fc.constantFrom(...hosts), fc.constantFrom('/', '/p/q.html')).map(([h, p]) => ({ kind: 'url' as EntryKind, value: `http://${h}${p}` })),
);
const op = fc.oneof(
  fc.tuple(fc.constant('add' as const), entry, fc.constantFrom('one', 'two')),
  fc.tuple(fc.constant('remove' as const), entry, fc.constant('')),
  fc.tuple(fc.constant('settings' as const), fc.constant({ kind: 'domain' as EntryKind, value: '' }), fc.constantFrom('block', 'review')),
);
const urls = hosts.flatMap((h) => [`http://${h}/`, `http://${h}/p/q.html`, `http://www.${h}/p/`]);

type Model = Map<string, { kind: EntryKind; value: string; info: string }>;

function compiled(model: Model, version: number, action: 'block' | 'review'): CompiledList {
  const builder = new CompiledListBuilder({ name: 'l', version: String(version), role: 'block', action }, model.size);
  for (const { kind, value, info } of model.values()) builder.add(kind, value, info);
  return builder.build();
}

function snapshot(list: CompiledList) {
  const matcher = new ListMatcher([list]);
  return {
    version: list.version,
    action: list.action,
    size: list.size,
    entries: [[...list.urls].sort(), [...list.expressions].sort(), [...list.domains].sort()],
    matches: urls.map((url) => matcher.matchTargets([targetOf(url)]).matches.map((m) => `${m.kind} ${m.entry} ${m.action}`)),
  };
}

describe('patchList', () => {
  it('equals the list compiled at each version, leaves earlier snapshots as they were, and compacts to the same list', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { maxLength: 12 }), async (versions) => {
        const model: Model = new Map();
        let action: 'block' | 'review' = 'block';
        let list = compileList({ name: 'l', version: '0', role: 'block', action }, []);
        const taken: Array<[CompiledList, ReturnType<typeof snapshot>]> = [[list, snapshot(list)]];
        versions.forEach((ops, i) => {
          const version = i + 1;
          const records: ListLogRecord[] = ops.map(([kind, e, extra]) => {
            if (kind === 'settings') return { version, op: 'settings', role: 'block', action: extra as 'block' | 'review' };
            if (kind === 'remove') return { version, op: 'remove', ...e };
            return { version, op: 'add', ...e, info: encodeEntryInfo({ label: extra }, '2024-01-01T00:00:00.000Z').value };
          });
          for (const r of records) {
            if (r.op === 'settings') action = r.action;
            else if (r.op === 'remove') model.delete(`${r.kind} ${r.value}`);
            else model.set(`${r.kind} ${r.value}`, { kind: r.kind, value: r.value, info: r.info });
          }
          list = patchList(list, records, String(version));
          expect(snapshot(list)).toEqual(snapshot(compiled(model, version, action)));
          taken.push([list, snapshot(list)]);
        });
        for (const [old, seen] of taken) expect(snapshot(old)).toEqual(seen);
        expect(snapshot(await compactList(list))).toEqual(snapshot(list));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps plain maps where nothing changed and asks for compaction once the layer outgrows its share of the base', () => {
    const base = compileList({ name: 'l', version: '1', role: 'block', action: 'block' }, [{ kind: 'domain', value: 'a.example' }]);
    const patched = patchList(base, [{ version: 2, op: 'add', kind: 'domain', value: 'b.example', info: ' {}' }], '2');
    expect(patched.urls).toBe(base.urls);
    expect(patched.domains).toBeInstanceOf(LayeredMap);
    expect(patched.domains.size).toBe(2);
    expect(base.domains.size).toBe(1);
    expect(needsCompaction(patched)).toBe(false);
    const records: ListLogRecord[] = Array.from({ length: 5000 }, (_, i) => ({ version: 3, op: 'add', kind: 'domain', value: `n${i}.example`, info: ' {}' }));
    expect(needsCompaction(patchList(patched, records, '3'))).toBe(true);
  });
});
