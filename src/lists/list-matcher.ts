import type { CanonicalUrl } from '../links/canonicalize.js';
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
 *
 * A url entry of http or https hits its URL under either scheme: an http(s) URL is looked up as
 * itself and as its other scheme's twin (`schemeTwin`), so entries keep the scheme they were
 * stored with (no migration of lists in Redis) and evidence names them as stored. Allowlists
 * follow the same rule. A target cut to fit the URL length limit (`cut`) is another page than
 * the URL reached: url entries never hit it, expression and domain entries do.
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
  /** The entry that matched, canonical, as stored (a url entry with its own scheme). */
  entry: string;
  entryKind: EntryKind;
  entryInfo: EntryInfo;
  /**
   * What was looked up and hit (the same as `entry`): the canonical URL or its other scheme's
   * twin, the expression or the registrable domain.
   */
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

/**
 * One URL to match: `expressions` must be `lookupExpressions(canonical)` (host-major order) and
 * `hosts`/`paths`, when present, what they are built from (see LinkTarget).
 */
export type MatchTarget = Pick<LinkTarget, 'hop' | 'canonical' | 'expressions' | 'hosts' | 'paths' | 'registrableDomain' | 'cut'>;

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

  /**
   * Removes one entry (a changelog record replayed after a load). Its host stays in the host set
   * and filter: they only rule hosts out, so a host too many costs a lookup, never a wrong match.
   */
  remove(kind: EntryKind, value: string): this {
    this.maps[kind].delete(value);
    return this;
  }

  addEntry(entry: ListEntry): this {
    return this.add(entry.kind, entry.value, encodeEntryInfo(entry, entry.addedAt ?? '').value);
  }

  /** Distinct entries added so far. */
  get size(): number {
    return this.maps.url.size + this.maps.expression.size + this.maps.domain.size;
  }

  /** The list, with `overrides` of the settings given at construction (a version reached by replaying records). */
  build(overrides: Partial<ListSettings> = {}): CompiledList {
    const { url, expression, domain } = this.maps;
    const size = url.size + expression.size + domain.size;
    return { ...this.settings, ...overrides, urls: url, expressions: expression, domains: domain, expressionHosts: this.expressionHosts, hostFilter: this.hostFilter, size };
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
    const host = target.canonical.host;
    let blocks: ExpressionBlocks | undefined | null = null;
    for (const list of this.allowlists) {
      if (!list.hostFilter.mayHoldHostOrSuffix(host)) continue;
      if (blocks === null) blocks = expressionBlocks(target);
      const hit = firstHit(list, target, blocks);
      if (hit) return { hop: target.hop, url: target.canonical.canonical, list: list.name, entry: hit.value, entryKind: hit.kind };
    }
    return undefined;
  }

  private collect(target: MatchTarget, out: ListMatch[]): void {
    const url = target.canonical.canonical;
    const host = target.canonical.host;
    const domain = target.registrableDomain;
    let blocks: ExpressionBlocks | undefined | null = null;
    for (const list of this.blocklists) {
      if (!list.hostFilter.mayHoldHostOrSuffix(host)) continue;
      if (blocks === null) blocks = expressionBlocks(target);
      // The filter said some host of the URL may be in the list; asking it about each host first
      // (one probe) spares the map lookups (several cache misses each) for the hosts it rules out.
      const filter = list.hostFilter;
      // A cut target is not the page reached (see LinkTarget.cut): no url entry names it.
      if (list.urls.size > 0 && target.cut !== true && filter.mayHold(host)) {
        const exact = list.urls.get(url);
        if (exact !== undefined) out.push(listMatch(list, target, 'url_match', 'url', url, exact));
        const twin = schemeTwin(target.canonical);
        const twinInfo = twin === undefined ? undefined : list.urls.get(twin);
        if (twin !== undefined && twinInfo !== undefined) out.push(listMatch(list, target, 'url_match', 'url', twin, twinInfo));
      }
      if (list.expressions.size > 0) {
        // Only the blocks of hosts some expression entry names (plain loops: no closure per list).
        if (blocks === undefined) {
          for (const expression of target.expressions) {
            const info = list.expressions.get(expression);
            if (info !== undefined) out.push(listMatch(list, target, 'expression_match', 'expression', expression, info));
          }
        } else {
          for (let h = 0; h < blocks.hosts.length; h++) {
            const blockHost = blocks.hosts[h]!;
            if (!(filter.mayHold(blockHost) && list.expressionHosts.has(blockHost))) continue;
            for (let p = 0; p < blocks.perHost; p++) {
              const expression = expressionAt(blocks, h, p);
              const info = list.expressions.get(expression);
              if (info !== undefined) out.push(listMatch(list, target, 'expression_match', 'expression', expression, info));
            }
          }
        }
      }
      if (domain !== null && list.domains.size > 0 && filter.mayHold(domain)) {
        const info = list.domains.get(domain);
        if (info !== undefined) out.push(listMatch(list, target, 'domain_match', 'domain', domain, info));
      }
    }
  }
}

/**
 * The canonical URL under the other of http and https (`https://a.example/x` for
 * `http://a.example/x`), the key a url entry stored with that scheme has; undefined for other
 * schemes. Canonical URLs carry no port or userinfo, so only the scheme differs.
 */
export function schemeTwin(url: Pick<CanonicalUrl, 'scheme' | 'canonical'>): string | undefined {
  if (url.scheme === 'http') return `https${url.canonical.slice(4)}`;
  if (url.scheme === 'https') return `http${url.canonical.slice(5)}`;
  return undefined;
}

function listMatch(list: CompiledList, target: MatchTarget, kind: MatchKind, entryKind: EntryKind, key: string, info: string): ListMatch {
  return { list: list.name, listVersion: list.version, action: list.action, kind, entry: key, entryKind, entryInfo: decodeEntryInfo(info), expression: key, hop: target.hop, url: target.canonical.canonical };
}

/**
 * A target's host suffixes and how many expressions each has (expressions are host-major):
 * expression `p` of host `h` is `hosts[h] + paths[p]` when the target carries its paths (see
 * LinkTarget), else `expressions[h * perHost + p]`.
 */
interface ExpressionBlocks {
  hosts: readonly string[];
  perHost: number;
  paths: readonly string[] | undefined;
  expressions: readonly string[] | undefined;
}

/** The target's blocks: from `target.hosts`/`target.paths` when the preparer kept them, else computed here. */
function expressionBlocks(target: MatchTarget): ExpressionBlocks | undefined {
  if (target.hosts !== undefined && target.paths !== undefined) return { hosts: target.hosts, perHost: target.paths.length, paths: target.paths, expressions: undefined };
  const hosts = target.hosts ?? hostSuffixes(target.canonical.host, target.canonical.hostIsIp);
  const { expressions } = target;
  const perHost = expressions.length / hosts.length;
  // Not the product lookupExpressions builds: look every expression up.
  return Number.isInteger(perHost) && expressions[0]?.startsWith(hosts[0]!) ? { hosts, perHost, paths: undefined, expressions } : undefined;
}

function expressionAt(blocks: ExpressionBlocks, h: number, p: number): string {
  return blocks.paths !== undefined ? blocks.hosts[h]! + blocks.paths[p]! : blocks.expressions![h * blocks.perHost + p]!;
}

/** The first expression whose host some entry of the list names and that the list holds. */
function firstExpressionHit(list: CompiledList, target: MatchTarget, blocks: ExpressionBlocks | undefined): string | undefined {
  if (list.expressions.size === 0) return undefined;
  if (blocks === undefined) {
    for (const expression of target.expressions) if (list.expressions.has(expression)) return expression;
    return undefined;
  }
  for (let h = 0; h < blocks.hosts.length; h++) {
    if (!(list.hostFilter.mayHold(blocks.hosts[h]!) && list.expressionHosts.has(blocks.hosts[h]!))) continue;
    for (let p = 0; p < blocks.perHost; p++) {
      const expression = expressionAt(blocks, h, p);
      if (list.expressions.has(expression)) return expression;
    }
  }
  return undefined;
}

function firstHit(list: CompiledList, target: MatchTarget, blocks: ExpressionBlocks | undefined): { kind: EntryKind; value: string } | undefined {
  if (list.urls.size > 0 && target.cut !== true && list.hostFilter.mayHold(target.canonical.host)) {
    if (list.urls.has(target.canonical.canonical)) return { kind: 'url', value: target.canonical.canonical };
    const twin = schemeTwin(target.canonical);
    if (twin !== undefined && list.urls.has(twin)) return { kind: 'url', value: twin };
  }
  const expression = firstExpressionHit(list, target, blocks);
  if (expression !== undefined) return { kind: 'expression', value: expression };
  if (target.registrableDomain !== null && list.domains.size > 0 && list.hostFilter.mayHold(target.registrableDomain) && list.domains.has(target.registrableDomain)) return { kind: 'domain', value: target.registrableDomain };
  return undefined;
}
