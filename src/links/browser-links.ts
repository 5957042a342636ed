/**
 * Links of app schemes that make a browser open a web URL: what that URL is, so that it is
 * matched and unfurled as the link itself (a browser wrapper) or as a URL the link leads to (an
 * Android `intent:` link's web forms).
 */
import { stripAsUrlParser } from './url-parser-strip.js';

/** `text` when a browser reads it as an http(s) URL (WHATWG), else undefined. */
function webUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Schemes that open the rest of the link in a browser, with the web scheme they stand for:
 * Safari's `x-safari-https://host/path` (iOS 17), Chrome for iOS's `googlechromes://host/path`,
 * and Windows' `microsoft-edge:<URL>` (the whole http(s) URL follows, `null` here).
 */
const BROWSER_WRAPPERS = new Map<string, string | null>([
  ['x-safari-http', 'http'],
  ['x-safari-https', 'https'],
  ['googlechrome', 'http'],
  ['googlechromes', 'https'],
  ['microsoft-edge', null],
]);

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * The http(s) URL, as text, a browser-wrapper link opens (`x-safari-https://evil.example/a` ->
 * `https://evil.example/a`, `microsoft-edge:https://evil.example/a` -> `https://evil.example/a`);
 * undefined for any other link, and for a wrapper around no http(s) URL. The link is judged as
 * that URL: nothing else of it reaches a browser.
 */
export function unwrapBrowserLink(link: string): string | undefined {
  const text = stripAsUrlParser(link);
  const match = SCHEME.exec(text);
  if (match === null) return undefined;
  const scheme = match[1]!.toLowerCase();
  const web = BROWSER_WRAPPERS.get(scheme);
  if (web === undefined) return undefined;
  const inner = web === null ? stripAsUrlParser(text.slice(match[0].length)) : `${web}:${text.slice(match[0].length)}`;
  return /^https?:/i.test(inner) && webUrl(inner) !== undefined ? inner : undefined;
}

/**
 * Android's Uri.decode (UriCodec.decode, no `+` conversion, no failure): runs of %XX escapes as
 * UTF-8 (invalid sequences as U+FFFD); a `%` not followed by two hex digits is U+FFFD, eating the
 * characters read up to the bad one (`%4g` is one U+FFFD), or the rest at the end of the text.
 */
function uriDecode(text: string): string {
  if (!text.includes('%')) return text;
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
    bytes.length = 0;
  };
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '%') {
      flush();
      out += text[i++];
      continue;
    }
    i++;
    let value = 0;
    let bad = false;
    for (let j = 0; j < 2; j++) {
      if (i >= text.length) {
        flush();
        return `${out}\uFFFD`;
      }
      const digit = parseInt(text[i++]!, 16);
      if (Number.isNaN(digit)) {
        bad = true;
        break;
      }
      value = value * 16 + digit;
    }
    if (bad) {
      flush();
      out += '\uFFFD';
    } else bytes.push(value);
  }
  flush();
  return out;
}

/** The extra Chrome reads for where to go when no app takes an intent. */
const FALLBACK_EXTRA = 'browser_fallback_url';

/**
 * Most web URLs taken from one `intent:` link (its data URL and fallbacks together): each is
 * matched and unfurled, so a link naming a thousand fallbacks does not fan out.
 */
export const MAX_INTENT_WEB_URLS = 4;

/**
 * What Android's Intent.parseUri (URI_INTENT_SCHEME) reads in an `intent:` link that Chrome
 * uses: the base intent's `scheme` and its string extra `browser_fallback_url`, as AOSP's
 * parseUriInternal walks the fragment after the last `#` when it is `#Intent;`: `name=value;`
 * pairs from there until one that starts with `end`; the kind of each pair is told by its raw
 * start (`scheme=`, `S.`, `SEL;`), its key (after the two-character type) and value Uri.decoded;
 * a later extra of the same key replaces an earlier one; after `SEL;` the extras and `scheme=`
 * belong to the selector intent, never the base one Chrome reads. Where Android would fail (a
 * pair of unknown type, a number that does not parse) this walks on: it only names URLs to match.
 */
function androidIntent(text: string): { scheme: string | undefined; fallback: string | undefined; hash: number } | undefined {
  let hash = text.lastIndexOf('#');
  // Android reads a fragment not starting `#Intent;` the old way (no extras); a later `#` inside
  // a value is read here from the last `#Intent;` all the same.
  if (!text.startsWith('#Intent;', hash)) hash = text.lastIndexOf('#Intent;');
  if (hash < 0) return undefined;
  let scheme: string | undefined;
  let fallback: string | undefined;
  let inSelector = false;
  let i = hash + '#Intent;'.length;
  while (i < text.length && !text.startsWith('end', i)) {
    let eq = text.indexOf('=', i);
    if (eq < 0) eq = i - 1;
    const semi = text.indexOf(';', i);
    // Android goes back to the start of the link here and fails: no pair is left to read.
    if (semi < 0) break;
    const value = eq < semi ? uriDecode(text.slice(eq + 1, semi)) : '';
    if (text.startsWith('scheme=', i)) {
      if (!inSelector) scheme = value;
    } else if (semi === i + 3 && text.startsWith('SEL', i)) {
      inSelector = true;
    } else if (text.startsWith('S.', i) && !inSelector && eq >= i + 2 && uriDecode(text.slice(i + 2, eq)) === FALLBACK_EXTRA) {
      fallback = value;
    }
    i = semi + 1;
  }
  return { scheme, fallback, hash };
}

/**
 * Every `S.browser_fallback_url` value anywhere in the link's fragment, in order (each `;`- or
 * `#`-separated piece whose key, percent-decoded, is that extra): what another reading of the link
 * than Android's (a later Android, a decoy after `end` or `SEL`) could take for the fallback.
 */
function everyFallback(text: string): string[] {
  const hash = text.indexOf('#');
  if (hash < 0) return [];
  const values: string[] = [];
  for (const piece of text.slice(hash + 1).split(';')) {
    // A piece may hold a `#`: what follows it is read as a pair too.
    const starts = [0];
    for (let at = piece.indexOf('#'); at >= 0; at = piece.indexOf('#', at + 1)) starts.push(at + 1);
    for (const start of starts) {
      const pair = piece.slice(start);
      const eq = pair.indexOf('=');
      if (eq < 0 || uriDecode(pair.slice(0, eq)) !== `S.${FALLBACK_EXTRA}`) continue;
      values.push(uriDecode(pair.slice(eq + 1)));
    }
  }
  return values;
}

/**
 * The intent's data URL as AOSP's parseUriInternal builds it: the text between `intent:` and the
 * intent fragment, prefixed with `scheme:` when the base intent names one
 * (`intent://evil.example/a#Intent;scheme=https;end` is `https://evil.example/a`), as it is
 * without (`intent:https://evil.example/a#Intent;end`); a web URL only when http(s).
 */
function dataUrl(text: string, intent: { scheme: string | undefined; hash: number }): URL | undefined {
  const data = text.slice('intent:'.length, intent.hash);
  if (intent.scheme === undefined) return webUrl(data);
  return /^https?$/i.test(intent.scheme) ? webUrl(`${intent.scheme}:${data}`) : undefined;
}

/**
 * The web URLs (hrefs) an Android `intent:` link sends Chrome to, in order, without repeats and
 * at most MAX_INTENT_WEB_URLS: its `S.browser_fallback_url` as Android reads it (see
 * androidIntent), the page Chrome shows when no app takes the intent, first; then its data URL
 * when http(s) (see dataUrl), which Chrome may open itself; then every other http(s)
 * `browser_fallback_url` value in the fragment (decoys Android skips, in case a reader takes one
 * of them); only http(s) ones, as Chrome follows no other. Empty for any other link.
 */
export function intentWebUrls(link: string): string[] {
  return intentWebPages(link).urls;
}

/**
 * intentWebUrls, and how many of them come first as the pages Chrome itself may open (`primary`,
 * 0 to 2): Android's fallback and the data URL; the rest are decoys. The link's unfurls
 * (link-preparer.ts) give each primary page the link's whole budget, at the same time (the scanner
 * cannot know which of the two Chrome opens: neither may spend the other's), and the decoys one
 * more budget after them.
 */
export function intentWebPages(link: string): { urls: string[]; primary: number } {
  if (!link.includes('#')) return { urls: [], primary: 0 }; // the extras are in the fragment
  const text = stripAsUrlParser(link);
  if (!/^intent:/i.test(text)) return { urls: [], primary: 0 };
  const intent = androidIntent(text);
  const urls: string[] = [];
  const add = (url: URL | undefined) => {
    if (url !== undefined && urls.length < MAX_INTENT_WEB_URLS && !urls.includes(url.href)) urls.push(url.href);
  };
  if (intent?.fallback !== undefined) add(webUrl(stripAsUrlParser(intent.fallback)));
  if (intent !== undefined) add(dataUrl(text, intent));
  const primary = urls.length;
  for (const value of everyFallback(text)) {
    if (urls.length >= MAX_INTENT_WEB_URLS) break;
    add(webUrl(stripAsUrlParser(value)));
  }
  return { urls, primary };
}
