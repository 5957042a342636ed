import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { hostOfKey } from './host-filter.js';
import type { EntryKind } from './list-entry.js';
import { CompiledListBuilder, type CompiledList } from './list-matcher.js';
import type { ListLogRecord } from './list-store.js';

/**
 * Changelog records applied to a compiled list without recompiling it. A compiled list is an
 * immutable snapshot of one version (a job keeps the matcher its first link met, so a snapshot must
 * never change under it): a patch makes a new snapshot whose maps are the old one's base maps,
 * shared and never written, under a small layer of the entries added and removed since the base was
 * built. The layer is copied per patch (O(changes since the base), not O(list)); once it grows past
 * a fraction of the base, `compactList` folds it into fresh maps off to the side, in slices.
 *
 * The host set and host filter are shared and only ever grow: they rule hosts out before the maps
 * are asked, so a host an older snapshot does not hold costs that snapshot a map lookup, never a
 * wrong match. A filter filled past its capacity is another reason to compact.
 */

/** A base map with `added` written over it and `removed` (keys of `base` only, none in `added`) taken out. */
export class LayeredMap implements ReadonlyMap<string, string> {
  readonly size: number;

  constructor(
    readonly base: ReadonlyMap<string, string>,
    readonly added: ReadonlyMap<string, string>,
    readonly removed: ReadonlySet<string>,
  ) {
    let size = base.size - removed.size;
    for (const key of added.keys()) if (!base.has(key)) size++;
    this.size = size;
  }

  get(key: string): string | undefined {
    if (this.added.size !== 0) {
      const value = this.added.get(key);
      if (value !== undefined) return value;
    }
    if (this.removed.size !== 0 && this.removed.has(key)) return undefined;
    return this.base.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Entries of the layer counted against the base: what compaction would fold in. */
  get layerSize(): number {
    return this.added.size + this.removed.size;
  }

  *entries(): MapIterator<[string, string]> {
    for (const entry of this.base) if (!this.added.has(entry[0]) && !this.removed.has(entry[0])) yield entry;
    yield* this.added;
  }

  *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}

type Layer = { base: ReadonlyMap<string, string>; added: Map<string, string>; removed: Set<string> };

function layerOf(map: ReadonlyMap<string, string>): Layer {
  if (map instanceof LayeredMap) return { base: map.base, added: new Map(map.added), removed: new Set(map.removed) };
  return { base: map, added: new Map(), removed: new Set() };
}

/**
 * The list at `version`: `list` with the records after its version applied (in order; the caller
 * read them with ListStore.changesSince). `list` itself is left as it was.
 */
export function patchList(list: CompiledList, records: readonly ListLogRecord[], version: string): CompiledList {
  const layers: Record<EntryKind, Layer> = { url: layerOf(list.urls), expression: layerOf(list.expressions), domain: layerOf(list.domains) };
  // Shared with older snapshots and only grown: see the file comment.
  const expressionHosts = list.expressionHosts as Set<string>;
  let { role, action } = list;
  for (const record of records) {
    if (record.op === 'settings') {
      ({ role, action } = record);
      continue;
    }
    const layer = layers[record.kind];
    if (record.op === 'add') {
      layer.removed.delete(record.value);
      layer.added.set(record.value, record.info);
      const host = hostOfKey(record.kind, record.value);
      if (record.kind === 'expression') expressionHosts.add(host);
      list.hostFilter.add(host);
    } else {
      layer.added.delete(record.value);
      if (layer.base.has(record.value)) layer.removed.add(record.value);
    }
  }
  const map = (layer: Layer) => (layer.added.size === 0 && layer.removed.size === 0 ? layer.base : new LayeredMap(layer.base, layer.added, layer.removed));
  const urls = map(layers.url);
  const expressions = map(layers.expression);
  const domains = map(layers.domain);
  return { name: list.name, version, role, action, urls, expressions, domains, expressionHosts, hostFilter: list.hostFilter, size: urls.size + expressions.size + domains.size };
}

/** Layer entries above which a patched list is compacted: a share of the base, so per-patch copies stay small against the list. */
const MIN_COMPACT_LAYER = 4096;
const COMPACT_LAYER_SHARE = 1 / 32;

/** Whether the list's layers or filled host filter warrant `compactList`. */
export function needsCompaction(list: CompiledList): boolean {
  let layer = 0;
  let base = 0;
  for (const map of [list.urls, list.expressions, list.domains]) {
    if (map instanceof LayeredMap) {
      layer += map.layerSize;
      base += map.base.size;
    } else base += map.size;
  }
  if (layer > Math.max(MIN_COMPACT_LAYER, base * COMPACT_LAYER_SHARE)) return true;
  // Past twice its capacity the filter rules out far fewer hosts: the hot path would slow down.
  return list.hostFilter.keysAdded > 2 * list.hostFilter.capacity;
}

/** Entries compiled between event-loop turns while compacting. */
const COMPACT_SLICE = 20_000;

/**
 * The same list (same version and entries) in plain maps, with a host set and filter sized for
 * it. Built beside the patched list, yielding to the event loop between slices.
 */
export async function compactList(list: CompiledList): Promise<CompiledList> {
  const builder = new CompiledListBuilder({ name: list.name, version: list.version, role: list.role, action: list.action }, list.size);
  let done = 0;
  const kinds: Array<[EntryKind, ReadonlyMap<string, string>]> = [
    ['url', list.urls],
    ['expression', list.expressions],
    ['domain', list.domains],
  ];
  for (const [kind, map] of kinds) {
    for (const [value, info] of map) {
      builder.add(kind, value, info);
      if (++done % COMPACT_SLICE === 0) await yieldToEventLoop();
    }
  }
  return builder.build();
}
