/**
 * The URL model's labelled examples, from packages only:
 *   malicious: eth-phishing-detect's blacklist (crypto phishing domains, npm); URLhaus's online
 *              list and uBlock's badware list, shipped in Debian's webext-ublock-origin-firefox
 *   benign:    eth-phishing-detect's whitelist and fuzzylist (legitimate look-alikes: hard
 *              negatives), top-sites (npm), and every Homepage of Debian's package index (as
 *              given and cut to its bare host)
 * The uBlock package is fetched with `apt-get download` and unpacked with dpkg-deb, unless
 * UBLOCK_ASSETS_DIR names an unpacked assets/ directory already.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

export const UBLOCK_PACKAGE = 'webext-ublock-origin-firefox';

export interface Example {
  url: string;
  label: 0 | 1;
  source: string;
}

export interface TrainingData {
  examples: Example[];
  /** Versions of every source, for the manifest's provenance. */
  sources: Record<string, string>;
  /** sha256 of the sorted examples: equal hashes mean the same training set. */
  datasetSha256: string;
}

export function loadTrainingData(): TrainingData {
  const sources: Record<string, string> = {};
  const raw: Example[] = [];
  const add = (url: string, label: 0 | 1, source: string) => {
    // Lowercased whole; urlFeatures lowercases path and query at inference to match (hosts are lowercase anyway).
    const clean = url.trim().toLowerCase();
    if (clean && !clean.includes('*') && !clean.includes(' ')) raw.push({ url: clean, label, source });
  };

  const eth = require('eth-phishing-detect/src/config.json') as { blacklist: string[]; whitelist: string[]; fuzzylist: string[] };
  sources['eth-phishing-detect'] = packageVersion('eth-phishing-detect');
  for (const host of eth.blacklist) add(host, 1, 'eth-phishing-detect:blacklist');
  for (const host of eth.whitelist) add(host, 0, 'eth-phishing-detect:whitelist');
  for (const host of eth.fuzzylist) add(host, 0, 'eth-phishing-detect:fuzzylist');

  const ublock = ublockAssets();
  sources[UBLOCK_PACKAGE] = ublock.version;
  for (const line of readFileSync(join(ublock.dir, 'thirdparties/urlhaus-filter/urlhaus-filter-online.txt'), 'utf8').split('\n')) {
    const entry = filterTarget(line);
    if (entry) add(entry, 1, 'urlhaus-filter-online');
  }
  for (const line of readFileSync(join(ublock.dir, 'ublock/badware.min.txt'), 'utf8').split('\n')) {
    const entry = filterTarget(line);
    if (entry) add(entry, 1, 'ublock-badware');
  }

  const topSites = require('top-sites/top-sites.json') as Array<{ rootDomain: string }>;
  sources['top-sites'] = packageVersion('top-sites');
  for (const site of topSites) add(site.rootDomain, 0, 'top-sites');

  const debian = debianHomepages();
  sources['debian-homepages'] = `${debian.length} homepages (${debian.release})`;
  for (const url of debian.urls) add(url, 0, 'debian-homepages');
  // The same sites as bare hosts: without them nearly every benign example has a path and nearly
  // every malicious one has none, and the model learns "bare domain = malicious".
  for (const url of debian.urls) add(new URL(url).hostname, 0, 'debian-homepages:host');

  // One example per URL; a URL listed both ways is dropped (the sources disagree).
  const byUrl = new Map<string, Example>();
  const conflicted = new Set<string>();
  for (const example of raw) {
    const seen = byUrl.get(example.url);
    if (seen && seen.label !== example.label) conflicted.add(example.url);
    else if (!seen) byUrl.set(example.url, example);
  }
  const examples = [...byUrl.values()].filter((e) => !conflicted.has(e.url)).sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  const hash = createHash('sha256');
  for (const e of examples) hash.update(`${e.label}\t${e.url}\n`);
  return { examples, sources, datasetSha256: hash.digest('hex') };
}

/** `||host/path^$opts` or a bare host/IP line -> `host/path`; cosmetic and exception rules -> undefined. */
function filterTarget(line: string): string | undefined {
  const text = line.trim();
  if (!text || text.startsWith('!') || text.startsWith('@@') || text.includes('#')) return undefined;
  const body = text.startsWith('||') ? text.slice(2) : text;
  const target = body.split('$')[0]!.replace(/\^$/, '');
  if (!/^[a-z0-9.-]+\.[a-z0-9-]+(\/|$)/i.test(target)) return undefined;
  return target;
}

function ublockAssets(): { dir: string; version: string } {
  const given = process.env.UBLOCK_ASSETS_DIR;
  const version = execFileSync('apt-cache', ['show', '--no-all-versions', UBLOCK_PACKAGE], { encoding: 'utf8' }).match(/^Version: (.+)$/m)?.[1] ?? 'unknown';
  if (given) return { dir: given, version };
  const work = mkdtempSync(join(tmpdir(), 'ublock-'));
  execFileSync('apt-get', ['download', UBLOCK_PACKAGE], { cwd: work, stdio: 'ignore' });
  const deb = readdirSync(work).find((file) => file.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${UBLOCK_PACKAGE} produced no .deb (run apt-get update first)`);
  execFileSync('dpkg-deb', ['-x', join(work, deb), join(work, 'x')]);
  const found = execFileSync('find', [join(work, 'x'), '-type', 'd', '-name', 'assets', '-path', '*uBlock0*'], { encoding: 'utf8' }).split('\n')[0];
  if (!found || !existsSync(join(found, 'ublock/badware.min.txt'))) throw new Error('uBlock assets not found in the package');
  return { dir: found, version };
}

function debianHomepages(): { urls: string[]; length: number; release: string } {
  const dump = execFileSync('apt-cache', ['dumpavail'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const urls = [...new Set([...dump.matchAll(/^Homepage: (https?:\/\/\S+)$/gm)].map((m) => m[1]!))];
  const release = execFileSync('sh', ['-c', '. /etc/os-release && echo "$ID $VERSION_CODENAME"'], { encoding: 'utf8' }).trim();
  return { urls, length: urls.length, release };
}

function packageVersion(name: string): string {
  let dir = require.resolve(name.includes('top-sites') ? 'top-sites/top-sites.json' : `${name}/src/config.json`);
  while (!existsSync(join(dir, 'package.json'))) dir = join(dir, '..');
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}
