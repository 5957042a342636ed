import { ScanError } from '../../errors.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import { decodeEntryInfo } from '../../lists/list-entry.js';
import { ListMatcher, type AllowedBy, type MatchTarget } from '../../lists/list-matcher.js';
import type { LinkSubject } from '../../pipeline/link-preparer.js';
import { ALLOWLIST_MATCH_KIND, type MatchContext, type PartialVersions, type SignalType } from '../signal-type.js';

/**
 * `link-blocklist`: looks up every URL a link reached (the input and every unfurl hop) in the
 * block- and allowlists: the canonical URL, every Safe Browsing expression and the registrable
 * domain. Each blocklist hit is one signal suggesting its list's action. An allowlisted URL gets
 * no blocklist signal but one `allowlist_match` signal (suggests `allow`) naming the allowlist
 * entry and the blocklist entries it overrode; the policy then overrides every other signal about
 * that URL (the URL model's, say), so allowlists win per URL, whatever fired on it.
 *
 * A link is never matched as if a list that exists had nothing to say: while the source names
 * lists it holds no copy of (ListReplica.unavailable: a load that failed or is under way), a link
 * the lists held do not decide throws ScanError `list_unavailable` naming them, transient, so the
 * job is retried while attempts remain and a last attempt gets the partial error (review by
 * default), as hash sets do with `hashset_unavailable`. Decided: a blocklist match suggesting
 * `block` (no list could make the link more than blocked; only an allowlist could let it through,
 * the rarer mistake), or every URL of the link allowlisted (allowlists win per URL, so no other
 * list can change it).
 */

/** Where the signal type gets the lists: a replica that swaps matchers on reload, or a fixed matcher. */
export interface ListMatcherSource {
  current(): ListMatcher;
  /** Lists that exist but that no copy of is held (not in current()); none when absent. */
  unavailable?(): readonly string[];
}

export interface LinkBlocklistSignalType extends SignalType<LinkSubject> {
  match(subject: LinkSubject, itemIndex: number, context?: MatchContext): Signal[];
  /** Versions of the lists the job of `context` was matched against; without one, of the lists now. */
  versions(context?: MatchContext): PartialVersions;
}

export function createLinkBlocklistSignalType(source: ListMatcherSource): LinkBlocklistSignalType {
  // The matcher each job's first item met, for its other items and its versions: items unfurl for
  // seconds, and a reload meanwhile must not match one job against two versions of a list.
  const jobMatchers = new WeakMap<MatchContext, ListMatcher>();
  const matcherOf = (context: MatchContext | undefined): ListMatcher => {
    if (context === undefined) return source.current();
    let matcher = jobMatchers.get(context);
    if (matcher === undefined) jobMatchers.set(context, (matcher = source.current()));
    return matcher;
  };
  return {
    name: 'link-blocklist',
    accepts: 'link',
    match(subject: LinkSubject, itemIndex: number, context?: MatchContext): Signal[] {
      // One matcher for the whole item (and job): a reload mid-item cannot mix two versions.
      const matcher = matcherOf(context);
      const { matches, allowed } = matcher.matchTargets(subject.targets);
      const blocked = matches.map((match): Signal => ({
        source: 'blocklist',
        kind: match.kind,
        item: itemIndex,
        score: 1,
        suggests: match.action,
        evidence: {
          list: match.list,
          listVersion: match.listVersion,
          entry: match.entry,
          entryKind: match.entryKind,
          ...match.entryInfo,
          expression: match.expression,
          hop: match.hop,
          url: match.url,
        },
      }));
      const targetsByHop = new Map(subject.targets.map((target) => [target.hop, target]));
      const unavailable = source.unavailable?.() ?? [];
      if (unavailable.length > 0 && !blocked.some((signal) => signal.suggests === 'block') && !subject.targets.every((target) => allowed.some((allow) => allow.hop === target.hop))) {
        throw new ScanError('list_unavailable', `no copy of list ${unavailable.join(', ')} is loaded yet: the link was not matched against it`, { lists: [...unavailable] });
      }
      const allowlisted = allowed.map((allow) => allowlistSignal(matcher, allow, targetsByHop.get(allow.hop)!, itemIndex));
      return [...blocked, ...allowlisted];
    },
    versions(context?: MatchContext): PartialVersions {
      return { lists: ((context && jobMatchers.get(context)) ?? source.current()).versions() };
    },
  };
}

function allowlistSignal(matcher: ListMatcher, allow: AllowedBy, target: MatchTarget, itemIndex: number): Signal {
  const list = matcher.lists.find((candidate) => candidate.name === allow.list)!;
  const storedInfo = { url: list.urls, expression: list.expressions, domain: list.domains }[allow.entryKind].get(allow.entry);
  return {
    source: 'blocklist',
    kind: ALLOWLIST_MATCH_KIND,
    item: itemIndex,
    score: 1,
    suggests: 'allow',
    evidence: {
      list: allow.list,
      listVersion: list.version,
      entry: allow.entry,
      entryKind: allow.entryKind,
      ...(storedInfo !== undefined && decodeEntryInfo(storedInfo)),
      hop: allow.hop,
      url: allow.url,
      overrode: blocklistMatcherOf(matcher)
        .matchTargets([target])
        .matches.map((match) => ({ list: match.list, entry: match.entry, entryKind: match.entryKind, suggests: match.action })),
    },
  };
}

const blocklistMatchers = new WeakMap<ListMatcher, ListMatcher>();

/**
 * The matcher's blocklists alone: what an allowlisted URL would have matched, for the evidence.
 * Built once per matcher (a reload swaps in a new matcher), only when an allowlist matched.
 */
function blocklistMatcherOf(matcher: ListMatcher): ListMatcher {
  let blocklists = blocklistMatchers.get(matcher);
  if (!blocklists) {
    blocklists = new ListMatcher(matcher.lists.filter((list) => list.role === 'block'));
    blocklistMatchers.set(matcher, blocklists);
  }
  return blocklists;
}
