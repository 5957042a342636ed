import { canonicalize } from '../../src/links/canonicalize.js';
import { lookupExpressions } from '../../src/links/expressions.js';
import { registrableDomain } from '../../src/links/registrable-domain.js';
import type { LinkTarget } from '../../src/pipeline/link-preparer.js';

/** A URL as the link preparer hands it to link signal types: canonical form, expressions, registrable domain. */
export function targetOf(url: string, hop = 0): LinkTarget {
  const canonical = canonicalize(url);
  return { hop, canonical, expressions: lookupExpressions(canonical), registrableDomain: canonical.hostIsIp ? null : registrableDomain(canonical.host) };
}
