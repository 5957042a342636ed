import type { LinkTarget } from '../pipeline/link-preparer.js';
import { decodeEntryInfo, encodeEntryInfo, type EntryInfo, type EntryKind, type ListAction, type ListEntry, type ListRole } from './list-entry.js';

/**
 * Pure list matching: every list is three hash maps (canonical URL, expression, registrable domain
 * -> the entry's stored info), so matching one URL costs one lookup per expression per list and
 * never walks entries. Info stays in its stored string form until an entry matches.
 */

export interface ListSettings {
  name: string;
  /** Opaque version string reported in verdicts (`"12"` for Redis lists, `sha256:...` for files). */
  version: string;
  role: ListRole;
  /** Decision a blocklist's matches suggest. Ignored for allowlists. */
  action: ListAction;
}

export interface CompiledList extends ListSettings {
  readonly urls: ReadonlyMap<string, string>;
  readonly expressions: ReadonlyMap<string, string>;
  readonly domains: ReadonlyMap<string, string>;
  readonly size: number;
}

export type MatchKind = 'url_match' | 'expression_match' | 'domain_match';

export interface ListMatch {
  list: string;
  listVersion: string;
  action: ListAction;
  kind: MatchKind;
  /** The entry that matched, canonical. */
  entry: string;
  entryKind: EntryKind;
  entryInfo: EntryInfo;
  /** What was looked up and hit: the canonical URL, the expression or the registrable domain. */
  expression: string;
  hop: number;
  /** Canonical URL of the hop. */
  url: string;
}

/** An allowlist entry that suppressed every block match of one hop. */
export interface AllowedBy {
  hop: number;
  url: string;
  list: string;
  entry: string;
  entryKind: EntryKind;
}

export interface TargetsMatch {
  matches: ListMatch[];
  allowed: AllowedBy[];
}

export type MatchTarget = Pick<LinkTarget, 'hop' | 'expressions' | 'registrableDomain'> & { canonical: { canonical: string } };

/** Builds a list's maps incrementally (the store's chunked load adds one HSCAN page at a time). */
export class CompiledListBuilder {
  private readonly maps: Record<EntryKind, Map<string, string>> = { url: new Map(), expression: new Map(), domain: new Map() };

  constructor(private readonly settings: ListSettings) {}

  /** Adds one entry; `info` is its stored form (see encodeEntryInfo). */
  add(kind: EntryKind, value: string, info: string): this {
    this.maps[kind].set(value, info);
    return this;
  }

  addEntry(entry: ListEntry): this {
    return this.add(entry.kind, entry.value, encodeEntryInfo(entry, entry.addedAt ?? '').value);
  }

  build(): CompiledList {
    const { url, expression, domain } = this.maps;
    return { ...this.settings, urls: url, expressions: expression, domains: domain, size: url.size + expression.size + domain.size };
  }
}

export function compileList(settings: ListSettings, entries: Iterable<ListEntry>): CompiledList {
  const builder = new CompiledListBuilder(settings);
  for (const entry of entries) builder.addEntry(entry);
  return builder.build();
}

/** An immutable set of compiled lists; a reload builds a new matcher and swaps it in whole. */
export class ListMatcher {
  readonly lists: readonly CompiledList[];
  private readonly blocklists: CompiledList[];
  private readonly allowlists: CompiledList[];

  constructor(lists: Iterable<CompiledList> = []) {
    this.lists = [...lists].sort((a, b) => a.name.localeCompare(b.name));
    this.blocklists = this.lists.filter((l) => l.role === 'block');
    this.allowlists = this.lists.filter((l) => l.role === 'allow');
  }

  /** `{ <list name>: <version> }` of every list, allowlists included. */
  versions(): Record<string, string> {
    return Object.fromEntries(this.lists.map((l) => [l.name, l.version]));
  }

  /** Matches of every target; an allowlisted target gives no matches (allowlists win per URL). */
  matchTargets(targets: readonly MatchTarget[]): TargetsMatch {
    const result: TargetsMatch = { matches: [], allowed: [] };
    for (const target of targets) {
      const allowed = this.allowedBy(target);
      if (allowed) result.allowed.push(allowed);
      else this.collect(target, result.matches);
    }
    return result;
  }

  /** The first allowlist entry covering the target, if any. */
  allowedBy(target: MatchTarget): AllowedBy | undefined {
    const url = target.canonical.canonical;
    for (const list of this.allowlists) {
      const hit = firstHit(list, target);
      if (hit) return { hop: target.hop, url, list: list.name, entry: hit.value, entryKind: hit.kind };
    }
    return undefined;
  }

  private collect(target: MatchTarget, out: ListMatch[]): void {
    const url = target.canonical.canonical;
    for (const list of this.blocklists) {
      const push = (kind: MatchKind, entryKind: EntryKind, key: string, info: string) =>
        out.push({ list: list.name, listVersion: list.version, action: list.action, kind, entry: key, entryKind, entryInfo: decodeEntryInfo(info), expression: key, hop: target.hop, url });
      const exact = list.urls.get(url);
      if (exact !== undefined) push('url_match', 'url', url, exact);
      for (const expression of target.expressions) {
        const info = list.expressions.get(expression);
        if (info !== undefined) push('expression_match', 'expression', expression, info);
      }
      if (target.registrableDomain !== null) {
        const info = list.domains.get(target.registrableDomain);
        if (info !== undefined) push('domain_match', 'domain', target.registrableDomain, info);
      }
    }
  }
}

function firstHit(list: CompiledList, target: MatchTarget): { kind: EntryKind; value: string } | undefined {
  if (list.urls.has(target.canonical.canonical)) return { kind: 'url', value: target.canonical.canonical };
  for (const expression of target.expressions) if (list.expressions.has(expression)) return { kind: 'expression', value: expression };
  if (target.registrableDomain !== null && list.domains.has(target.registrableDomain)) return { kind: 'domain', value: target.registrableDomain };
  return undefined;
}
