import type { UrlClassifier } from '../../classifiers/index.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import type { CanonicalUrl } from '../../links/canonicalize.js';
import { classifyAddress } from '../../links/guard/address.js';
import type { LinkSubject, LinkTarget } from '../../pipeline/link-preparer.js';
import { modelSignalTypeNames } from '../model-signal-names.js';
import type { PartialVersions, SignalType } from '../signal-type.js';

/** Special-use names (RFC 2606, 6761, 6762, 8375) that never name a public site. */
const RESERVED_TLDS = new Set(['example', 'test', 'invalid', 'localhost', 'local', 'internal', 'arpa']);

/**
 * Why the URL models do not score `text`, which no browser can visit (`http://a b.com/`): Safe
 * Browsing's reading accepts nearly any text (spaces in a host are escaped), and a model asked
 * about such text answers with confidence all the same. `classify url` refuses it with this.
 */
export function notVisitableReason(text: string): string {
  return `${JSON.stringify(text.slice(0, 200))} is not a URL a browser could visit`;
}

/**
 * Why the URL models do not score this URL, or undefined when they do: web URLs a browser can
 * visit (`visitable`: see LinkTarget.visitable; `classify url` refuses the rest as invalid_url,
 * in notVisitableReason's words), on public hosts only. The features describe
 * hosts and paths (mailto: or data: have neither), and the model was trained on public sites:
 * loopback and private addresses, special-use names and hosts under no public suffix are outside
 * what it knows (and the unfurl guard refuses to reach them anyway). `abuse-scan classify url`
 * asks the same question, so it never scores what a scan skips.
 */
export function urlModelSkipReason(url: CanonicalUrl, registrableDomain: string | null, visitable = true): string | undefined {
  if (!visitable) return notVisitableReason(url.canonical);
  const { scheme, host, hostIsIp } = url;
  if (scheme !== 'http' && scheme !== 'https') return `${scheme}: URLs are not scored (http and https only)`;
  if (hostIsIp) {
    const address = classifyAddress(host);
    return address.allowed ? undefined : `${host} is a ${address.range} address, not a public one`;
  }
  const tld = host.slice(host.lastIndexOf('.') + 1);
  if (RESERVED_TLDS.has(tld)) return `${tld === host ? host : `.${tld}`} is a special-use name, never a public site`;
  if (registrableDomain === null) return `${host} is under no public suffix`;
  return undefined;
}

function scorable(target: LinkTarget): boolean {
  return urlModelSkipReason(target.canonical, target.registrableDomain, target.visitable !== false) === undefined;
}

export interface ModelSignalOptions {
  /** `fired`: a signal only when the score reaches the review threshold; `all`: every score. Default `fired`. */
  emit?: 'fired' | 'all';
}

/**
 * `url-model`: scores every URL a link reached (the link as given and each unfurl hop) with every
 * URL model of the manifest. One signal per model and URL that reaches the model's review
 * threshold (or per model and URL whatever the score, with `emit: 'all'`), each naming its hop: a
 * clean shortener in front of a phishing page is judged by the page, and the policy can let an
 * allowlisted URL of the chain win without hiding another URL of it that fired.
 */
export function createUrlModelSignalType(classifiers: readonly UrlClassifier[], options: ModelSignalOptions = {}, name = 'url-model'): SignalType<LinkSubject> {
  return {
    name,
    accepts: 'link',
    async match(subject: LinkSubject, itemIndex: number): Promise<Signal[]> {
      const targets = subject.targets.filter(scorable);
      if (!targets.length) return [];
      const perModel = await Promise.all(
        classifiers.map(async (classifier) => {
          const scores = await Promise.all(targets.map((target) => classifier.classifyUrl(target.canonical)));
          return scores.map((score, i) => ({
            source: 'model',
            kind: 'url_model',
            item: itemIndex,
            score: score.abuseScore,
            suggests: score.suggests,
            evidence: {
              model: score.model,
              version: score.version,
              labels: score.labels,
              abuseScore: score.abuseScore,
              thresholds: score.thresholds,
              url: targets[i]!.canonical.canonical,
              hop: targets[i]!.hop,
              hopsScored: targets.length,
              // The model's own suggestion and why it was lowered (an IP-literal host).
              ...(score.capped && { capped: score.capped }),
            },
          }) satisfies Signal);
        }),
      );
      const signals = perModel.flat();
      return options.emit === 'all' ? signals : signals.filter((signal) => signal.suggests !== 'allow');
    },
    versions(): PartialVersions {
      return { models: Object.fromEntries(classifiers.map((c) => [c.id, c.version])) };
    },
  };
}

/**
 * The url-model signal types of a pipeline: `url-model` for one model, `url-model-<id>` for each
 * of several (see modelSignalTypeNames: a failing model costs only its own signals).
 */
export function createUrlModelSignalTypes(classifiers: readonly UrlClassifier[], options: ModelSignalOptions = {}): Array<SignalType<LinkSubject>> {
  const names = modelSignalTypeNames('url-model', classifiers.map((classifier) => classifier.id));
  return classifiers.map((classifier, i) => createUrlModelSignalType([classifier], options, names[i]));
}
