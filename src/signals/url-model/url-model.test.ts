import { describe, expect, it } from 'vitest';
import { targetOf } from '../../../test/harness/link-targets.js';
import type { UrlClassifier } from '../../classifiers/index.js';
import type { CanonicalUrl } from '../../links/canonicalize.js';
import { LinkPreparer, type LinkSubject } from '../../pipeline/link-preparer.js';
import { ScanPipeline } from '../../pipeline/scan-pipeline.js';
import { ScanError } from '../../errors.js';
import { DEFAULT_POLICY } from '../../policy/policy-config.js';
import { SignalRegistry } from '../registry.js';
import type { SignalType } from '../signal-type.js';
import { createUrlModelSignalType, createUrlModelSignalTypes, notVisitableReason, urlModelSkipReason } from './index.js';

/** A URL model without ONNX: scores each host as the table says (0 for others), review at 0.9, block at 0.99. */
function stubModel(scores: Record<string, number>, id = 'stub-url-model'): UrlClassifier {
  const classifier = {
    id,
    version: 'v1',
    async classifyUrl(url: CanonicalUrl) {
      const abuseScore = scores[url.host] ?? 0;
      const suggests = abuseScore >= 0.99 ? 'block' : abuseScore >= 0.9 ? 'review' : 'allow';
      return { model: 'stub-url-model', version: 'v1', labels: { malicious: abuseScore }, abuseScore, suggests, thresholds: { review: 0.9, block: 0.99 } } as const;
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
    expect(signals[0]!.evidence).toMatchObject({ model: 'stub-url-model', version: 'v1', thresholds: { review: 0.9, block: 0.99 }, hopsScored: 3 });
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

  // Safe Browsing's reading of such text is a host with escaped spaces, which the model scored
  // 0.995 (block); `classify url` refuses the same text with the same words.
  it.each([['http://not a url at all.com/'], ['http://paypa1-login .com/verify/account']])(
    '%s: no browser can visit it, so no URL model scores it; other signal types still read it, and invalid_url sends it to review',
    async (link) => {
      const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
      const [target] = prepared.subject.targets;
      expect(prepared.subject.targets).toHaveLength(1);
      expect(urlModelSkipReason(target!.canonical, target!.registrableDomain, target!.visitable !== false)).toBe(notVisitableReason(target!.canonical.canonical));
      const everything = { ...stubModel({}), classifyUrl: async () => ({ model: 'stub-url-model', version: 'v1', labels: { malicious: 0.995 }, abuseScore: 0.995, suggests: 'block' as const, thresholds: { review: 0.9, block: 0.99 } }) };
      const urlModel = createUrlModelSignalType([everything as unknown as UrlClassifier], { emit: 'all' });
      expect(await urlModel.match(prepared.subject, 0)).toEqual([]);

      const job = { schemaVersion: 1 as const, contentId: 'c-1', surface: 'send', items: [link] };
      const run = { jobId: 'job-1', attempt: 1, finalAttempt: false };
      const scan = (registry: SignalRegistry) => new ScanPipeline({ preparers: [new LinkPreparer({ unfurl: false })], registry, policy: DEFAULT_POLICY }).scan(job, run);
      const reviewed = await scan(new SignalRegistry([urlModel]));
      expect(reviewed.signals).toEqual([]);
      expect(reviewed.errors).toEqual([expect.objectContaining({ code: 'invalid_url', item: 0, partial: true })]);
      expect(reviewed.decision).toBe('review');

      // Other link signal types still read the Safe Browsing reading, as before.
      const hostSignal: SignalType<LinkSubject> = {
        name: 'test-host',
        accepts: 'link',
        match: (subject, item) => subject.targets.filter((t) => t.canonical.host === target!.canonical.host).map(() => ({ source: 'test', kind: 'host_match', item, score: 1, suggests: 'block' as const, evidence: {} })),
        versions: () => ({}),
      };
      const blocked = await scan(new SignalRegistry([hostSignal, urlModel]));
      expect(blocked.signals.map((signal) => signal.source)).toEqual(['test']);
      expect(blocked.decision).toBe('block');
    },
  );

  it('words the skip of an unvisitable URL as `classify url` words its refusal', () => {
    expect(notVisitableReason('not a url at all')).toBe('"not a url at all" is not a URL a browser could visit');
    const target = targetOf('https://www.debian.org/');
    expect(urlModelSkipReason(target.canonical, target.registrableDomain, false)).toBe('"https://www.debian.org/" is not a URL a browser could visit');
  });
});
