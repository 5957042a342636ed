import type { Signal } from '../../jobs/verdict-schema.js';
import type { ListMatcher } from '../../lists/list-matcher.js';
import type { LinkSubject } from '../../pipeline/link-preparer.js';
import type { PartialVersions, SignalType } from '../signal-type.js';

/**
 * `link-blocklist`: looks up every URL a link reached (the input and every unfurl hop) in the
 * block- and allowlists: the canonical URL, every Safe Browsing expression and the registrable
 * domain. Each hit is one signal suggesting its list's action; an allowlisted URL gives none.
 */

/** Where the signal type gets the lists: a replica that swaps matchers on reload, or a fixed matcher. */
export interface ListMatcherSource {
  current(): ListMatcher;
}

export function createLinkBlocklistSignalType(source: ListMatcherSource): SignalType<LinkSubject> {
  return {
    name: 'link-blocklist',
    accepts: 'link',
    match(subject: LinkSubject, itemIndex: number): Signal[] {
      // One matcher for the whole item: a reload mid-item cannot mix two versions.
      const { matches } = source.current().matchTargets(subject.targets);
      return matches.map((match) => ({
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
    },
    versions(): PartialVersions {
      return { lists: source.current().versions() };
    },
  };
}
