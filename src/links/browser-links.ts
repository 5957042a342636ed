/**
 * Links of app schemes that make a browser open a web URL: what that URL is, so that it is
 * matched and unfurled as the link itself (a browser wrapper) or as a URL the link leads to (an
 * Android `intent:` link's web forms).
 */

/** What the URL parser strips: tab and newlines anywhere, C0 controls and spaces at either end. */
function cleaned(text: string): string {
  return text.replace(/[\t\r\n]/g, '').replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
}

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
  const text = cleaned(link);
  const match = SCHEME.exec(text);
  if (match === null) return undefined;
  const scheme = match[1]!.toLowerCase();
  const web = BROWSER_WRAPPERS.get(scheme);
  if (web === undefined) return undefined;
  const inner = web === null ? cleaned(text.slice(match[0].length)) : `${web}:${text.slice(match[0].length)}`;
  return /^https?:/i.test(inner) && webUrl(inner) !== undefined ? inner : undefined;
}

/** Android's Uri.decode: runs of %XX escapes as UTF-8 (invalid sequences as U+FFFD), `+` kept. */
function uriDecode(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => new TextDecoder('utf-8').decode(Buffer.from(run.replaceAll('%', ''), 'hex')));
}

/**
 * The web URLs (hrefs) an Android `intent:` link sends Chrome to, in order: its data URL when its
 * `scheme` is http or https (`intent://evil.example/a#Intent;scheme=https;end` is
 * `https://evil.example/a`, which Chrome may open itself), then its `S.browser_fallback_url`
 * (percent-decoded), where Chrome goes when no app takes the intent; only http(s) ones, as Chrome
 * follows no other. Empty for any other link. Read as Android's Intent.parseUri reads it: the
 * extras after the last `#Intent;`, `key=value;` pairs up to `end`.
 */
export function intentWebUrls(link: string): string[] {
  if (!link.includes('#')) return []; // the extras are in the fragment
  const text = cleaned(link);
  if (!/^intent:/i.test(text)) return [];
  const start = text.lastIndexOf('#Intent;');
  if (start < 0) return [];
  let scheme: string | undefined;
  let fallback: string | undefined;
  for (const pair of text.slice(start + '#Intent;'.length).split(';')) {
    if (pair === 'end') break;
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq);
    if (key === 'scheme') scheme = uriDecode(pair.slice(eq + 1));
    else if (key === 'S.browser_fallback_url') fallback = uriDecode(pair.slice(eq + 1));
  }
  const urls: string[] = [];
  const add = (url: URL | undefined) => {
    if (url !== undefined && !urls.includes(url.href)) urls.push(url.href);
  };
  if (scheme !== undefined && /^https?$/i.test(scheme)) add(webUrl(`${scheme}:${text.slice('intent:'.length, start)}`));
  if (fallback !== undefined) add(webUrl(cleaned(fallback)));
  return urls;
}
