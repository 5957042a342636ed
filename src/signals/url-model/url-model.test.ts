import { describe, expect, it } from 'vitest';
import { targetOf } from '../../../test/harness/link-targets.js';
import type { UrlClassifier } from '../../classifiers/index.js';
import type { CanonicalUrl } from '../../links/canonicalize.js';
import type { LinkSubject } from '../../pipeline/link-preparer.js';
import { ScanError } from '../../errors.js';
import { createUrlModelSignalType, createUrlModelSignalTypes, urlModelSkipReason } from './index.js';

/** A URL model without ONNX: scores each host as the table says (0 for others), review at 0.9, block at 0.99. */
function stubModel(scores: Record<string, number>, id = 'stub-url-model'): UrlClassifier {
  const classifier = {
    id,
    version: 'v1',
    async classifyUrl(url: CanonicalUrl) {
      const abuseScore = scores[url.host] ?? 0;
      const suggests = abuseScore >= 0.99 ? 'block' : abuseScore >= 0.9 ? 'review' : 'allow';
      return { model: 'stub-url-model', version: 'v1', labels: { malicious: abuseScore }, abuseScore, suggests } as const;
    },
  };
  return classifier as unknown as UrlClassifier;
}

describe('url-model signal type', () => {
  // A shortener that redirects to one phishing page, then to another.
  const subject: LinkSubject = {
    input: 'https://short.example.com/x',
    targets: [targetOf('https://short.example.com/x', 0), targetOf('https://paypal-login.verify.com/a', 1), targetOf('https://secure-update.xyz/b', 2)],
  };
  const model = stubModel({ 'paypal-login.verify.com': 1, 'secure-update.xyz': 0.95 });

  it('gives one signal per URL of the chain that fires, naming its hop (so an allowlisted hop hides no other)', async () => {
    const signals = await createUrlModelSignalType([model]).match(subject, 4);
    expect(signals.map((s) => [s.item, s.evidence.hop, s.evidence.url, s.suggests, s.score])).toEqual([
      [4, 1, 'https://paypal-login.verify.com/a', 'block', 1],
      [4, 2, 'https://secure-update.xyz/b', 'review', 0.95],
    ]);
    expect(signals[0]!.evidence).toMatchObject({ model: 'stub-url-model', version: 'v1', hopsScored: 3 });
  });

  it("with emit 'all', one signal per model and URL whatever the score", async () => {
    const signals = await createUrlModelSignalType([model], { emit: 'all' }).match(subject, 0);
    expect(signals.map((s) => [s.evidence.hop, s.suggests])).toEqual([
      [0, 'allow'],
      [1, 'block'],
      [2, 'review'],
    ]);
  });

  it('several models: one type per model, so a model that fails takes no other model signal with it', async () => {
    const failing = {
      id: 'url_fails.v2',
      version: 'v2',
      async classifyUrl(): Promise<never> {
        throw new ScanError('model_failed', 'model url_fails.v2: inference failed', { model: 'url_fails.v2' });
      },
    } as unknown as UrlClassifier;
    const types = createUrlModelSignalTypes([model, failing]);
    expect(types.map((type) => type.name)).toEqual(['url-model-stub-url-model', 'url-model-url-fails-v2']);
    const [scored, failed] = await Promise.allSettled(types.map((type) => type.match(subject, 1)));
    expect(scored).toMatchObject({ status: 'fulfilled', value: [{ evidence: { hop: 1 } }, { evidence: { hop: 2 } }] });
    expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'model_failed', detail: { model: 'url_fails.v2' } } });
    expect(createUrlModelSignalTypes([model]).map((type) => type.name)).toEqual(['url-model']);
  });

  // `classify url` asks urlModelSkipReason too: it must never score what a scan skips.
  it.each([
    ['http://127.0.0.1/', '127.0.0.1 is a loopback address, not a public one'],
    ['http://[fd00::1]/', '[fd00::1] is a unique-local address, not a public one'],
    ['http://localhost/', 'localhost is a special-use name, never a public site'],
    ['https://shop.example/', '.example is a special-use name, never a public site'],
    ['http://intranet/', 'intranet is under no public suffix'],
    ['https://1.1.1.1/', undefined],
    ['https://www.debian.org/', undefined],
  ])('skips %s (reason: %s), and so does the signal type', async (url, reason) => {
    const target = targetOf(url);
    expect(urlModelSkipReason(target.canonical, target.registrableDomain)).toBe(reason);
    const everything = stubModel({ [target.canonical.host]: 1 });
    const signals = await createUrlModelSignalType([everything]).match({ input: url, targets: [target] }, 0);
    expect(signals.length).toBe(reason === undefined ? 1 : 0);
  });
});
