/**
 * Finds the `<meta http-equiv="refresh" content="N; url=...">` refreshes in the first bytes of an
 * HTML page (already decoded: see html-encoding.ts), the way browsers read the content attribute
 * (HTML "shared declarative refresh steps"): content a browser rejects is skipped, as a browser
 * skips it, so an invalid decoy before the real refresh cannot stand in for it. Phishing kits use
 * meta refresh to hop past URL scanners that only follow HTTP redirects.
 * Tags are read as the WHATWG tokenizer reads them: a quoted attribute value may hold `>`, an
 * unquoted one runs to whitespace or `>` (`=` included). What a browser never acts on is skipped:
 * comments, the text of `<script>`, `<style>`, `<noscript>` (scripting is on in a victim's
 * browser), `<title>`, `<textarea>` and the other raw-text elements, and `<template>` contents.
 * The first `<base href>` before the tag is reported, for the URL to be resolved against the
 * document base URL as browsers do. All scanning is linear in the input: no regular expression
 * here can backtrack over the whole page. Pure logic: no I/O.
 *
 * Not modelled: foreign content (inside `<svg>`/`<math>`, `<title>` and `<style>` are not raw
 * text), and script-data escapes (`<!--<script>` inside a script).
 */
import { decodeHTMLAttribute } from 'entities';
import { asciiLower } from './ascii-text.js';

export interface MetaRefresh {
  /** Delay in whole seconds, as the HTML standard reads it (we never wait: the target is followed at once). */
  delaySeconds: number;
  /**
   * The delay as Chromium and WebKit read it, fraction included (`1.5` is 1.5 s, `.5` 0.5 s): they
   * schedule the refresh with the shortest delay, so it decides which of several refreshes they follow.
   */
  exactDelaySeconds: number;
  /**
   * The URL exactly as written (not trimmed: the URL parser strips what a browser strips), not yet
   * resolved against the document. Absent when the content gives none (`content="30"`): a refresh
   * of the document itself. Present but empty (`url=`): it resolves to the document base URL.
   */
  url?: string;
  /**
   * The URL as Chromium and WebKit cut it from the same content, where they differ from the
   * standard: a quoted URL runs to the LAST matching quote, and whitespace around it is stripped
   * (Unicode spaces such as U+3000 included). Absent when they see none, or an empty one: a
   * refresh of the document itself (never of a `<base href>`).
   */
  chromiumUrl?: string;
  /**
   * The `href` of the first `<base href>` before the refresh (character references decoded, not
   * yet resolved): the document base URL the refresh URL is resolved against. Absent: the page URL.
   */
  baseHref?: string;
}

/**
 * `indexOf` for searches whose start only moves forward, remembering each needle's last answer:
 * a needle that occurs late or never is looked for once per scan, not once per block skipped.
 */
function forwardSearch(text: string): (needle: string, from: number) => number {
  const found = new Map<string, number>();
  return (needle, from) => {
    const known = found.get(needle);
    if (known !== undefined && (known < 0 || known >= from)) return known;
    const at = text.indexOf(needle, from);
    found.set(needle, at);
    return at;
  };
}

type Find = (needle: string, from: number) => number;

/**
 * Where the comment opened at `start` ends, as the WHATWG tokenizer reads it: `<!-->` and
 * `<!--->` are complete (empty) comments, and `--!>` closes a comment as `-->` does. Searching
 * `-->` from `start + 2` covers the first two: its dashes may be those of the opener. -1 when the
 * comment runs to the end of the input.
 */
function commentEnd(find: Find, start: number): number {
  const dashes = find('-->', start + 2);
  const bang = find('--!>', start + 4);
  if (dashes < 0 && bang < 0) return -1;
  if (dashes < 0) return bang + 4;
  if (bang < 0) return dashes + 3;
  return Math.min(dashes + 3, bang + 4);
}

/** Elements whose text the tokenizer does not read as markup, up to their own end tag. */
const RAW_TEXT_ELEMENTS: ReadonlySet<string> = new Set([
  'script',
  'style',
  'noscript', // raw text when scripting is enabled, as in a victim's browser
  'title',
  'textarea',
  'xmp',
  'iframe',
  'noembed',
  'noframes',
]);

/**
 * Start tags after which a `<frameset>` surely still replaces the body (the parser's frameset-ok
 * flag stays "ok"): the head's elements. Any other start tag, an explicit `<body>` or text is
 * taken as ending that chance, a few more than the standard says (`<div>` keeps it): when unsure
 * the scan goes on, as it did before it knew of framesets.
 */
const FRAMESET_STAYS_OK: ReadonlySet<string> = new Set(['html', 'head', 'meta', 'link', 'base', 'title', 'style', 'script', 'noscript', 'template', 'basefont', 'bgsound', 'noframes']);

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\f' || c === '\r';
}

/** Whether `text[from..to)` holds only HTML whitespace. */
function isSpacesOnly(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(text[i])) return false;
  return true;
}

function isAsciiAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

interface Tag {
  name: string;
  /** Raw values (character references not decoded), first occurrence of each name. */
  attributes: Map<string, string>;
  /** Index just past the tag's `>`. */
  end: number;
}

/**
 * The tag whose name starts at `from` (just after `<` or `</`), tokenized as the WHATWG tokenizer
 * does; null when the input ends inside the tag (the tokenizer drops such a tag).
 */
function readTag(text: string, lower: string, find: Find, from: number): Tag | null {
  const n = text.length;
  let i = from;
  while (i < n && !isSpace(text[i]) && text[i] !== '/' && text[i] !== '>') i++;
  const name = lower.slice(from, i);
  const attributes = new Map<string, string>();
  for (;;) {
    while (i < n && (isSpace(text[i]) || text[i] === '/')) i++;
    if (i >= n) return null;
    if (text[i] === '>') return { name, attributes, end: i + 1 };
    // The first character belongs to the name whatever it is (`=` included); the name runs to
    // whitespace, `/`, `>` or `=`.
    const nameStart = i++;
    while (i < n && !isSpace(text[i]) && text[i] !== '/' && text[i] !== '>' && text[i] !== '=') i++;
    const attribute = lower.slice(nameStart, i);
    while (i < n && isSpace(text[i])) i++;
    let value = '';
    if (text[i] === '=') {
      i++;
      while (i < n && isSpace(text[i])) i++;
      if (i >= n) return null;
      const quote = text[i];
      if (quote === '"' || quote === "'") {
        const close = find(quote, i + 1);
        if (close < 0) return null;
        value = text.slice(i + 1, close);
        i = close + 1;
      } else {
        // Unquoted: to whitespace or `>` (a `>` right after `=` leaves the value empty).
        const start = i;
        while (i < n && !isSpace(text[i]) && text[i] !== '>') i++;
        value = text.slice(start, i);
      }
    }
    if (!attributes.has(attribute)) attributes.set(attribute, value);
  }
}

/** Where the raw text opened before `from` stops: the `<` of its end tag, or -1 at the end of input. */
function rawTextEnd(lower: string, find: Find, name: string, from: number): number {
  const closer = `</${name}`;
  for (let at = find(closer, from); at >= 0; at = find(closer, at + 1)) {
    const after = lower[at + closer.length];
    if (after === undefined || after === '/' || after === '>' || isSpace(after)) return at;
  }
  return -1;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Longest delay reported (a 400-digit delay must not become Infinity, which JSON writes as null). */
const MAX_DELAY_SECONDS = Number.MAX_SAFE_INTEGER;

/** WTF's StripWhiteSpace: ASCII whitespace (vertical tab included) and the bidi class WS above ASCII. */
function isChromiumStrippedSpace(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  if (code <= 0x7f) return c === ' ' || (code >= 0x09 && code <= 0x0d);
  return code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x205f || code === 0x3000;
}

/**
 * The refresh URL as Chromium's ParseHTTPRefresh (and WebKit's) cuts it from `content`, from
 * `position` just past the delay: undefined for none or an empty one (their document URL).
 */
function chromiumRefreshUrl(content: string, position: number, isSeparatorSpace: (c: string | undefined) => boolean): string | undefined {
  const n = content.length;
  let pos = position;
  const skip = (at: number) => {
    while (at < n && isSeparatorSpace(content[at])) at++;
    return at;
  };
  pos = skip(pos);
  if (content[pos] === ',' || content[pos] === ';') pos++;
  pos = skip(pos);
  let start = pos;
  if (asciiLower(content.slice(pos, pos + 3)) === 'url') {
    start = skip(pos + 3);
    start = content[start] === '=' ? skip(start + 1) : pos;
  }
  let end = n;
  const quote = content[start];
  if (quote === '"' || quote === "'") {
    start++;
    while (end > start) {
      end--;
      if (content[end] === quote) break;
    }
    if (end === start) end = n; // no closing quote: the rest
  }
  let from = start;
  let to = end;
  while (from < to && isChromiumStrippedSpace(content[from])) from++;
  while (to > from && isChromiumStrippedSpace(content[to - 1])) to--;
  return from < to ? content.slice(from, to) : undefined;
}

/** Header whitespace in Chromium's refresh parser: space and tab only. */
function isSpaceOrTab(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/**
 * Parses a refresh content attribute (or `Refresh` header) as the HTML standard's "shared
 * declarative refresh steps" do: `5`, `0;url=/x`, `0; URL='x'`, `3,http://x`, `0 /x`. Null when the
 * content is invalid, and a browser ignores the element: no delay (`abc`, `;url=/x`), or a delay
 * followed by anything but the end, whitespace, `;` or `,` (`5abc`, `0url=/x`, `1e3;url=/x`).
 * Chromium reads the delay the same way (digits and dots only, up to a separator).
 */
export function parseRefreshContent(content: string, source: 'meta' | 'header' = 'meta'): MetaRefresh | null {
  const n = content.length;
  let i = 0;
  const skipWhitespace = () => {
    while (i < n && isSpace(content[i])) i++;
  };
  skipWhitespace();
  const timeStart = i;
  while (isDigit(content[i])) i++;
  const timeString = content.slice(timeStart, i);
  if (timeString === '' && content[i] !== '.') return null;
  // Digits and dots after the integer part are read and ignored by the standard; Chromium and
  // WebKit keep the fraction up to a second dot.
  while (isDigit(content[i]) || content[i] === '.') i++;
  const number = content.slice(timeStart, i);
  const secondDot = number.indexOf('.', number.indexOf('.') + 1);
  const delaySeconds = Math.min(timeString === '' ? 0 : Number(timeString), MAX_DELAY_SECONDS);
  const exact = Number(secondDot < 0 ? number : number.slice(0, secondDot));
  const exactDelaySeconds = Number.isFinite(exact) ? Math.min(exact, MAX_DELAY_SECONDS) : delaySeconds;
  const chromiumUrl = i < n ? chromiumRefreshUrl(content, i, source === 'header' ? isSpaceOrTab : isSpace) : undefined;
  const withUrl = (url: string): MetaRefresh =>
    chromiumUrl === undefined ? { delaySeconds, exactDelaySeconds, url } : { delaySeconds, exactDelaySeconds, url, chromiumUrl };
  if (i < n) {
    const c = content[i];
    if (c !== ';' && c !== ',' && !isSpace(c)) return null;
    skipWhitespace();
    if (content[i] === ';' || content[i] === ',') i++;
    skipWhitespace();
  }
  if (i >= n) return { delaySeconds, exactDelaySeconds }; // a refresh of the document itself
  // `url=` is optional: without it (or with a `u`, `ur`, `url` not followed by `=`) the URL is
  // the whole rest, as written.
  const rest = i;
  let position = i;
  let skipQuotes = true;
  if (content[position] === 'u' || content[position] === 'U') {
    position++;
    if ((content[position] === 'r' || content[position] === 'R') && (content[position + 1] === 'l' || content[position + 1] === 'L')) {
      position += 2;
      while (position < n && isSpace(content[position])) position++;
      if (content[position] === '=') {
        position++;
        while (position < n && isSpace(content[position])) position++;
      } else {
        skipQuotes = false;
      }
    } else {
      skipQuotes = false;
    }
  }
  if (!skipQuotes) return withUrl(content.slice(rest));
  const quote = content[position];
  if (quote === '"' || quote === "'") {
    const close = content.indexOf(quote, position + 1);
    return withUrl(content.slice(position + 1, close < 0 ? n : close));
  }
  return withUrl(content.slice(position));
}

/**
 * Every meta refresh in the document whose content is valid, in document order, each with the
 * `<base href>` in force where it stands. The HTML standard (and Firefox) act on the first one
 * whose URL also parses, and ignore the rest; Chromium and WebKit schedule each in turn and keep
 * the one with the shortest delay (the later one on a tie). Lazy: a caller that only needs the
 * first stops the scan there.
 */
export function* metaRefreshes(html: string): Generator<MetaRefresh, void, undefined> {
  const lower = asciiLower(html);
  const find = forwardSearch(lower);
  let position = 0;
  let templateDepth = 0;
  let baseHref: string | undefined;
  let framesetOk = true;
  for (;;) {
    const open = find('<', position);
    if (open < 0) return;
    if (framesetOk && !isSpacesOnly(lower, position, open)) framesetOk = false;
    const next = lower[open + 1];
    if (lower.startsWith('<!--', open)) {
      const end = commentEnd(find, open);
      if (end < 0) return;
      position = end;
      continue;
    }
    if (next === '!' || next === '?' || (next === '/' && !isAsciiAlpha(lower[open + 2]))) {
      // A doctype, a bogus comment, or `</>`: up to the next `>`.
      const end = find('>', open + 2);
      if (end < 0) return;
      position = end + 1;
      continue;
    }
    if (next === '/') {
      const tag = readTag(html, lower, find, open + 2);
      if (tag === null) return;
      if (tag.name === 'template' && templateDepth > 0) templateDepth--;
      position = tag.end;
      continue;
    }
    if (!isAsciiAlpha(next)) {
      framesetOk = false; // a `<` in text
      position = open + 1;
      continue;
    }
    const tag = readTag(html, lower, find, open + 1);
    if (tag === null) return;
    position = tag.end;
    if (tag.name === 'plaintext') return; // the rest of the input is text
    // A frameset that replaces the body leaves the parser in its frameset modes, which drop every
    // later <meta>: browsers never see a refresh after it (a decoy placed there for scanners).
    if (tag.name === 'frameset' && framesetOk && templateDepth === 0) return;
    if (!FRAMESET_STAYS_OK.has(tag.name)) framesetOk = false;
    if (RAW_TEXT_ELEMENTS.has(tag.name)) {
      position = rawTextEnd(lower, find, tag.name, position);
      if (position < 0) return;
      continue;
    }
    if (tag.name === 'template') templateDepth++;
    if (templateDepth > 0) continue; // template contents are inert
    if (tag.name === 'base' && baseHref === undefined && tag.attributes.has('href')) {
      baseHref = decodeHTMLAttribute(tag.attributes.get('href')!);
    }
    if (tag.name !== 'meta') continue;
    // `http-equiv` is an enumerated attribute: an ASCII case-insensitive match, nothing trimmed
    // (`" refresh"` is not the Refresh state, in the standard as in Chromium).
    const httpEquiv = tag.attributes.get('http-equiv');
    if (httpEquiv === undefined || asciiLower(decodeHTMLAttribute(httpEquiv)) !== 'refresh') continue;
    const refresh = parseRefreshContent(decodeHTMLAttribute(tag.attributes.get('content') ?? ''));
    if (refresh) yield baseHref === undefined ? refresh : { ...refresh, baseHref };
  }
}

/**
 * The first meta refresh with valid content in the document, or null: the one the HTML standard
 * acts on when its URL parses (see metaRefreshes for what Chromium does instead).
 */
export function findMetaRefresh(html: string): MetaRefresh | null {
  for (const refresh of metaRefreshes(html)) return refresh;
  return null;
}
