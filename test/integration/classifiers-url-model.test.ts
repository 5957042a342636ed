/**
 * The URL model: its test-split metrics (retrained here when Debian's package lists are available,
 * else as recorded in the manifest), a byte-identical rebuild from the same data, and how it
 * classifies fixture URLs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest, openClassifiers, type Classifiers } from '../../src/classifiers/index.js';
import { canonicalize } from '../../src/links/canonicalize.js';
import { formatMetrics, type Metrics } from '../../scripts/models/binary-metrics.js';
import { trainUrlModel, type UrlModelBuild } from '../../scripts/models/train-url-model.js';
import { UBLOCK_PACKAGE } from '../../scripts/models/url-training-data.js';

const BENIGN = [
  'https://www.debian.org/',
  'https://github.com/nodejs/node',
  'https://www.wikipedia.org/',
  'https://docs.python.org/3/library/index.html',
  'https://www.gnu.org/software/emacs/',
  'https://www.google.com/',
];
const MALICIOUS = [
  'http://paypal.com.secure-login.verify-account.xyz/signin',
  'http://45.12.3.99:8080/update.exe',
  'https://myetherwallet-claim-airdrop.com/',
  'http://xn--metamsk-en4c.com/',
  'https://metamask-io-wallet-connect.web.app/restore',
  'https://uniswap-v3-reward.net/claim',
];

function aptHasUblock(): boolean {
  try {
    return execFileSync('apt-cache', ['show', '--no-all-versions', UBLOCK_PACKAGE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('Version:');
  } catch {
    return false;
  }
}

describe('URL model', () => {
  let classifiers: Classifiers;

  beforeAll(async () => {
    classifiers = await openClassifiers({ tasks: ['url'] });
  });

  afterAll(async () => {
    await classifiers?.close();
  });

  it('prints its test-split precision, recall, ROC-AUC and confusion matrix', async () => {
    const manifest = await loadManifest();
    const entry = manifest.models.find((m) => m.id === 'url-lexical-logreg')!;
    let metrics = entry.provenance.testMetrics as Metrics;
    if (aptHasUblock()) {
      // Retrain from the packages (about 10 s) and print what the training script prints.
      const lines: string[] = [];
      const build: UrlModelBuild = trainUrlModel(join(await mkdtemp(join(tmpdir(), 'url-model-')), 'url.onnx'), (line) => lines.push(line));
      console.log(lines.filter((line) => !line.startsWith('epoch')).join('\n'));
      metrics = build.metrics;
      if (build.datasetSha256 === entry.provenance.datasetSha256) expect(build.sha256).toBe(entry.sha256);
      else console.log(`training data changed since the committed model (dataset ${build.datasetSha256.slice(0, 12)}): sha256 not compared`);
    } else {
      console.log(`apt has no ${UBLOCK_PACKAGE} (run apt-get update): figures as recorded in models/manifest.json\n${formatMetrics(metrics)}`);
    }
    expect(metrics.rocAuc).toBeGreaterThan(0.95);
    expect(metrics.precision).toBeGreaterThan(0.85);
    expect(metrics.recall).toBeGreaterThan(0.85);
  }, 120_000);

  it.each(BENIGN)('allows %s', async (url) => {
    const score = await classifiers.url[0]!.classifyUrl(url);
    expect(score.abuseScore).toBeLessThan(0.5);
    expect(score.suggests).toBe('allow');
  });

  it.each(MALICIOUS)('flags %s', async (url) => {
    const score = await classifiers.url[0]!.classifyUrl(url);
    expect(score.abuseScore).toBeGreaterThan(0.9);
    expect(score.suggests).not.toBe('allow');
    expect(score.labels.malicious! + score.labels.benign!).toBeCloseTo(1, 5);
  });

  it('scores a URL as it scores its lower-case form: training saw URLs lowercased only', async () => {
    const model = classifiers.url[0]!;
    const mixed = await model.classifyUrl('https://bit.ly/3xYzAbC');
    const lower = await model.classifyUrl('https://bit.ly/3xyzabc');
    expect(mixed.abuseScore).toBe(lower.abuseScore);
    expect(mixed.suggests).toBe(lower.suggests);
    // The signal type hands over canonical URLs: the same score.
    expect((await model.classifyUrl(canonicalize('https://bit.ly/3xYzAbC'))).abuseScore).toBe(lower.abuseScore);
  });

  it('batches concurrent URLs into one run and still answers each its own', async () => {
    const all = [...BENIGN, ...MALICIOUS];
    const scores = await Promise.all(all.map((url) => classifiers.url[0]!.classifyUrl(url)));
    const one = await Promise.all(all.map(async (url) => (await classifiers.url[0]!.classifyUrl(url)).abuseScore));
    expect(scores.map((s) => s.abuseScore)).toEqual(one);
  });
});
