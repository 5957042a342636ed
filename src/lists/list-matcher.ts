import { hostSuffixes } from '../links/expressions.js';
import type { LinkTarget } from '../pipeline/link-preparer.js';
import { HostFilter, hostOfKey } from './host-filter.js';
import { decodeEntryInfo, encodeEntryInfo, type EntryInfo, type EntryKind, type ListAction, type ListEntry, type ListRole } from './list-entry.js';

/**
 * Pure list matching: every list is three hash maps (canonical URL, expression, registrable domain
 * -> the entry's stored info), so matching one URL costs at most one lookup per expression per
 * list and never walks entries. A set of the hosts that expression entries name is looked up
 * first: a URL's expressions under a host no entry names (nearly all of them) cost nothing more.
 * Info stays in its stored string form until an entry matches.
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
  /** The host part of every expression entry. */
  readonly expressionHosts: ReadonlySet<string>;
  /** Every host an entry is reached through, for a quick "nothing here" (see host-filter.ts). */
  readonly hostFilter: HostFilter;
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

/** One URL to match: `expressions` must be `lookupExpressions(canonical)` (host-major order). */
export type MatchTarget = Pick<LinkTarget, 'hop' | 'canonical' | 'expressions' | 'registrableDomain'>;

/**
 * Builds a list's maps incrementally: the store's chunked load adds one HSCAN page at a time, so
 * every per-entry step (maps, host set, host filter) happens in `add`, and `build` is O(1).
 */
export class CompiledListBuilder {
  private readonly maps: Record<EntryKind, Map<string, string>> = { url: new Map(), expression: new Map(), domain: new Map() };
  private readonly expressionHosts = new Set<string>();
  private readonly hostFilter: HostFilter;

  /** `expectedSize` sizes the host filter; more entries still match, with more false positives. */
  constructor(
    private readonly settings: ListSettings,
    expectedSize: number,
  ) {
    this.hostFilter = new HostFilter(expectedSize);
  }

  /** Adds one entry; `info` is its stored form (see encodeEntryInfo). */
  add(kind: EntryKind, value: string, info: string): this {
    this.maps[kind].set(value, info);
    const host = hostOfKey(kind, value);
    if (kind === 'expression') this.expressionHosts.add(host);
    this.hostFilter.add(host);
    return this;
  }

  addEntry(entry: ListEntry): this {
    return this.add(entry.kind, entry.value, encodeEntryInfo(entry, entry.addedAt ?? '').value);
  }

  /** Distinct entries added so far. */
  get size(): number {
    return this.maps.url.size + this.maps.expression.size + this.maps.domain.size;
  }

  build(): CompiledList {
    const { url, expression, domain } = this.maps;
    const size = url.size + expression.size + domain.size;
    return { ...this.settings, urls: url, expressions: expression, domains: domain, expressionHosts: this.expressionHosts, hostFilter: this.hostFilter, size };
  }
}

export function compileList(settings: ListSettings, entries: Iterable<ListEntry>): CompiledList {
  const all = [...entries];
  const builder = new CompiledListBuilder(settings, all.length);
  for (const entry of all) builder.addEntry(entry);
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
      if (!list.hostFilter.mayHoldHostOrSuffix(target.canonical.host)) continue;
      const hit = firstHit(list, target, expressionBlocks(target));
      if (hit) return { hop: target.hop, url, list: list.name, entry: hit.value, entryKind: hit.kind };
    }
    return undefined;
  }

  private collect(target: MatchTarget, out: ListMatch[]): void {
    const url = target.canonical.canonical;
    let blocks: ExpressionBlocks | undefined | null = null;
    for (const list of this.blocklists) {
      if (!list.hostFilter.mayHoldHostOrSuffix(target.canonical.host)) continue;
      if (blocks === null) blocks = expressionBlocks(target);
      const push = (kind: MatchKind, entryKind: EntryKind, key: string, info: string) =>
        out.push({ list: list.name, listVersion: list.version, action: list.action, kind, entry: key, entryKind, entryInfo: decodeEntryInfo(info), expression: key, hop: target.hop, url });
      const exact = list.urls.get(url);
      if (exact !== undefined) push('url_match', 'url', url, exact);
      forEachCandidate(list, target, blocks, (expression) => {
        const info = list.expressions.get(expression);
        if (info !== undefined) push('expression_match', 'expression', expression, info);
        return false;
      });
      if (target.registrableDomain !== null) {
        const info = list.domains.get(target.registrableDomain);
        if (info !== undefined) push('domain_match', 'domain', target.registrableDomain, info);
      }
    }
  }
}

/** A target's host suffixes and how many expressions each has (expressions are host-major). */
interface ExpressionBlocks {
  hosts: string[];
  perHost: number;
}

function expressionBlocks(target: MatchTarget): ExpressionBlocks | undefined {
  const hosts = hostSuffixes(target.canonical.host, target.canonical.hostIsIp);
  const perHost = target.expressions.length / hosts.length;
  // Not the product lookupExpressions builds: look every expression up.
  return Number.isInteger(perHost) && target.expressions[0]?.startsWith(hosts[0]!) ? { hosts, perHost } : undefined;
}

/** Calls `visit` with each expression whose host some entry of the list names, until it returns true. */
function forEachCandidate(list: CompiledList, target: MatchTarget, blocks: ExpressionBlocks | undefined, visit: (expression: string) => boolean): boolean {
  if (list.expressions.size === 0) return false;
  if (blocks === undefined) return target.expressions.some(visit);
  for (let h = 0; h < blocks.hosts.length; h++) {
    if (!list.expressionHosts.has(blocks.hosts[h]!)) continue;
    for (let i = h * blocks.perHost; i < (h + 1) * blocks.perHost; i++) if (visit(target.expressions[i]!)) return true;
  }
  return false;
}

function firstHit(list: CompiledList, target: MatchTarget, blocks: ExpressionBlocks | undefined): { kind: EntryKind; value: string } | undefined {
  if (list.urls.has(target.canonical.canonical)) return { kind: 'url', value: target.canonical.canonical };
  let hit: string | undefined;
  if (forEachCandidate(list, target, blocks, (e) => list.expressions.has(e) && (hit = e) !== undefined)) return { kind: 'expression', value: hit! };
  if (target.registrableDomain !== null && list.domains.has(target.registrableDomain)) return { kind: 'domain', value: target.registrableDomain };
  return undefined;
}
