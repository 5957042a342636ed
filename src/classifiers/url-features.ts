/**
 * THE lexical feature vector of a URL, used by the trainer (scripts/models/train-url-model.ts)
 * and at inference alike, so the two can never drift. Only the URL's text is read: no fetch, no
 * DNS. Bump URL_FEATURES_VERSION on any change; a model records the version it was trained on
 * and the manifest check refuses a mismatch.
 *
 * Layout (URL_FEATURE_DIMENSION values):
 *   [0, 1024)     hashed character 3-grams of the host, with ^ $ boundary marks, L2-normalized
 *   [1024, 1536)  hashed character 3-grams of path + query, letters lowercased, L2-normalized
 *   [1536, 1600)  hashed top-level domain (one-hot)
 *   [1600, ...)   dense features, each scaled into [0, 1] (see DENSE_FEATURES)
 * The scheme and port are left out on purpose: training sources write them inconsistently.
 * The training script lowercases every URL before canonicalizing it (url-training-data.ts), so
 * the path and query are lowercased here too: the model never saw an uppercase letter there.
 */
import { canonicalize, type CanonicalUrl } from '../links/canonicalize.js';
import { registrableDomain } from '../links/registrable-domain.js';

export const URL_FEATURES_VERSION = 'url-lexical-v2';

const HOST_GRAMS = 1024;
const PATH_GRAMS = 512;
const TLD_BUCKETS = 64;
const HOST_OFFSET = 0;
const PATH_OFFSET = HOST_GRAMS;
const TLD_OFFSET = PATH_OFFSET + PATH_GRAMS;
const DENSE_OFFSET = TLD_OFFSET + TLD_BUCKETS;

/** Brands phishing pages imitate most; seen outside their own registrable domain they are a tell. */
export const PHISHED_BRANDS = [
  'paypal', 'apple', 'icloud', 'microsoft', 'office', 'outlook', 'live', 'google', 'gmail', 'facebook', 'instagram',
  'whatsapp', 'amazon', 'netflix', 'linkedin', 'yahoo', 'dropbox', 'docusign', 'adobe', 'steam', 'discord',
  'telegram', 'twitter', 'metamask', 'myetherwallet', 'mycrypto', 'binance', 'coinbase', 'blockchain', 'kraken',
  'uniswap', 'opensea', 'pancakeswap', 'ledger', 'trezor', 'trustwallet', 'phantom', 'wallet', 'chase', 'wellsfargo',
  'bankofamerica', 'citibank', 'hsbc', 'santander', 'dhl', 'fedex', 'usps', 'royalmail', 'irs', 'hmrc',
] as const;

/** Words that phishing URLs use to sound official. */
const LURE_WORDS = ['login', 'signin', 'verify', 'account', 'secure', 'update', 'confirm', 'wallet', 'support', 'claim', 'airdrop', 'bonus', 'reward', 'recover', 'unlock', 'validate', 'auth', 'billing'];

/** Names of the dense features, in vector order. */
export const DENSE_FEATURES = [
  'url_length', 'host_length', 'path_length', 'query_length', 'host_digit_ratio', 'path_digit_ratio',
  'path_symbol_ratio', 'host_hyphens', 'subdomain_depth', 'ip_literal_host', 'punycode_host',
  'brand_outside_registrable', 'brand_in_registrable_not_own', 'brand_in_path', 'lure_words', 'path_segments',
  'has_query', 'had_userinfo', 'host_entropy', 'longest_host_label', 'no_registrable_domain', 'path_is_root',
  'path_file_extension', 'percent_escapes',
] as const;

export const URL_FEATURE_DIMENSION = DENSE_OFFSET + DENSE_FEATURES.length;

/** The URL whose features are computed: anything `canonicalize` accepts; a bare host is read as https://host/. */
export function urlForFeatures(input: string | CanonicalUrl): CanonicalUrl {
  return typeof input === 'string' ? canonicalize(/^[a-z][a-z0-9+.-]*:/i.test(input) ? input : `https://${input}`) : input;
}

/** Features of one URL (see urlForFeatures). */
export function urlFeatures(input: string | CanonicalUrl): Float32Array {
  const url = urlForFeatures(input);
  const features = new Float32Array(URL_FEATURE_DIMENSION);
  const host = url.host;
  const pathAndQuery = url.path + (url.query !== undefined ? `?${url.query}` : '');
  hashGrams(features, HOST_OFFSET, HOST_GRAMS, `^${host}$`);
  if (pathAndQuery !== '/') hashGrams(features, PATH_OFFSET, PATH_GRAMS, lowercaseAsTrained(pathAndQuery));

  const registrable = url.hostIsIp ? null : registrableDomain(host);
  const labels = host.split('.');
  const tld = url.hostIsIp ? '<ip>' : labels.at(-1) ?? '';
  features[TLD_OFFSET + (fnv1a(tld) % TLD_BUCKETS)] = 1;

  const subdomain = registrable && host.endsWith(`.${registrable}`) ? host.slice(0, -registrable.length - 1) : '';
  const registrableLabel = registrable ? registrable.split('.')[0]! : '';
  const lowerPath = pathAndQuery.toLowerCase();
  const brandIn = (text: string) => PHISHED_BRANDS.some((brand) => text.includes(brand));
  const ownBrand = PHISHED_BRANDS.some((brand) => registrableLabel === brand);

  const dense: Record<(typeof DENSE_FEATURES)[number], number> = {
    url_length: Math.min(Math.log1p(host.length + pathAndQuery.length) / 8, 1),
    host_length: Math.min(host.length / 64, 1),
    path_length: Math.min(Math.log1p(pathAndQuery.length - 1) / 6, 1),
    query_length: url.query ? Math.min(Math.log1p(url.query.length) / 6, 1) : 0,
    host_digit_ratio: ratio(host, /[0-9]/g),
    path_digit_ratio: ratio(pathAndQuery, /[0-9]/g),
    path_symbol_ratio: ratio(pathAndQuery, /[^a-zA-Z0-9/]/g),
    host_hyphens: Math.min(count(host, /-/g) / 4, 1),
    subdomain_depth: Math.min((subdomain ? subdomain.split('.').length : 0) / 4, 1),
    ip_literal_host: url.hostIsIp ? 1 : 0,
    punycode_host: labels.some((label) => label.startsWith('xn--')) ? 1 : 0,
    brand_outside_registrable: brandIn(subdomain) ? 1 : 0,
    brand_in_registrable_not_own: !ownBrand && brandIn(registrableLabel) ? 1 : 0,
    brand_in_path: brandIn(lowerPath) ? 1 : 0,
    lure_words: Math.min(LURE_WORDS.filter((word) => host.includes(word) || lowerPath.includes(word)).length / 3, 1),
    path_segments: Math.min(url.path.split('/').filter(Boolean).length / 8, 1),
    has_query: url.query !== undefined ? 1 : 0,
    had_userinfo: url.hadUserinfo ? 1 : 0,
    host_entropy: Math.min(entropy(host) / 5.5, 1),
    longest_host_label: Math.min(Math.max(...labels.map((label) => label.length)) / 32, 1),
    no_registrable_domain: registrable ? 0 : 1,
    path_is_root: url.path === '/' && url.query === undefined ? 1 : 0,
    path_file_extension: /\.(exe|apk|zip|rar|js|scr|msi|bin|sh|jar|dll|bat|vbs|ps1|php)$/i.test(url.path) ? 1 : 0,
    percent_escapes: Math.min(count(pathAndQuery, /%[0-9a-fA-F]{2}/g) / 8, 1),
  };
  DENSE_FEATURES.forEach((name, i) => (features[DENSE_OFFSET + i] = dense[name]));
  return features;
}

/**
 * Canonical path and query as training hashed them: training lowercased the raw URL, then
 * canonicalize wrote its escapes, so letters are lowercase and `%XX` escapes keep uppercase hex.
 * (Every `%` of a canonical form starts such an escape.)
 */
function lowercaseAsTrained(canonicalText: string): string {
  return canonicalText.replace(/%[0-9A-F]{2}|[A-Z]+/g, (match) => (match.startsWith('%') ? match : match.toLowerCase()));
}

/** Counts of hashed 3-grams in [offset, offset + buckets), scaled to unit length. */
function hashGrams(features: Float32Array, offset: number, buckets: number, text: string): void {
  let sumSquares = 0;
  const counts = new Map<number, number>();
  for (let i = 0; i + 3 <= text.length; i++) {
    const bucket = fnv1a(text.slice(i, i + 3)) % buckets;
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  }
  for (const value of counts.values()) sumSquares += value * value;
  const norm = Math.sqrt(sumSquares) || 1;
  for (const [bucket, value] of counts) features[offset + bucket] = value / norm;
}

/** 32-bit FNV-1a of the UTF-16 code units: fast, stable across platforms and versions. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

function ratio(text: string, pattern: RegExp): number {
  return text.length ? count(text, pattern) / text.length : 0;
}

function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const value of counts.values()) bits -= (value / text.length) * Math.log2(value / text.length);
  return bits;
}
