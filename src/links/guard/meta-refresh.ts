/**
 * Finds a `<meta http-equiv="refresh" content="N; url=...">` redirect in the first bytes of an
 * HTML page, the way browsers read the content attribute (HTML "shared declarative refresh
 * steps"). Phishing kits use it to hop past URL scanners that only follow HTTP redirects.
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

export interface MetaRefresh {
  /** Delay in seconds as written (we never wait: the target is followed at once). */
  delaySeconds: number;
  /** The URL exactly as written, not yet resolved against the page URL. */
  url: string;
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

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\f' || c === '\r';
}

function isAsciiAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/** ASCII-only lowercasing: keeps every index (String#toLowerCase turns 'İ' into two units). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
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

const WHITESPACE = /[\t\n\f\r ]/;

/** Parses a refresh content attribute: `5`, `0;url=/x`, `0; URL='x'`, `3,http://x`. */
export function parseRefreshContent(content: string): MetaRefresh | null {
  let i = 0;
  const skipWhitespace = () => {
    while (i < content.length && WHITESPACE.test(content[i]!)) i++;
  };
  skipWhitespace();
  const delayStart = i;
  while (i < content.length && /[0-9]/.test(content[i]!)) i++;
  if (i === delayStart && content[i] !== '.') return null;
  const delaySeconds = Number(content.slice(delayStart, i) || '0');
  while (i < content.length && /[0-9.]/.test(content[i]!)) i++;
  skipWhitespace();
  if (content[i] === ';' || content[i] === ',') i++;
  skipWhitespace();
  if (i >= content.length) return null; // a plain reload of the same page
  if (content.slice(i, i + 3).toLowerCase() === 'url') {
    const afterUrl = i + 3;
    let j = afterUrl;
    while (j < content.length && WHITESPACE.test(content[j]!)) j++;
    if (content[j] === '=') {
      i = j + 1;
      skipWhitespace();
    }
  }
  let url = content.slice(i);
  const quote = url[0];
  if (quote === '"' || quote === "'") {
    const close = url.indexOf(quote, 1);
    url = close < 0 ? url.slice(1) : url.slice(1, close);
  }
  url = url.trim();
  return url === '' ? null : { delaySeconds, url };
}

/** The first meta refresh with a URL in the document, or null. */
export function findMetaRefresh(html: string): MetaRefresh | null {
  const lower = asciiLower(html);
  const find = forwardSearch(lower);
  let position = 0;
  let templateDepth = 0;
  let baseHref: string | undefined;
  for (;;) {
    const open = find('<', position);
    if (open < 0) return null;
    const next = lower[open + 1];
    if (lower.startsWith('<!--', open)) {
      const end = commentEnd(find, open);
      if (end < 0) return null;
      position = end;
      continue;
    }
    if (next === '!' || next === '?' || (next === '/' && !isAsciiAlpha(lower[open + 2]))) {
      // A doctype, a bogus comment, or `</>`: up to the next `>`.
      const end = find('>', open + 2);
      if (end < 0) return null;
      position = end + 1;
      continue;
    }
    if (next === '/') {
      const tag = readTag(html, lower, find, open + 2);
      if (tag === null) return null;
      if (tag.name === 'template' && templateDepth > 0) templateDepth--;
      position = tag.end;
      continue;
    }
    if (!isAsciiAlpha(next)) {
      position = open + 1; // a `<` in text
      continue;
    }
    const tag = readTag(html, lower, find, open + 1);
    if (tag === null) return null;
    position = tag.end;
    if (tag.name === 'plaintext') return null; // the rest of the input is text
    if (RAW_TEXT_ELEMENTS.has(tag.name)) {
      position = rawTextEnd(lower, find, tag.name, position);
      if (position < 0) return null;
      continue;
    }
    if (tag.name === 'template') templateDepth++;
    if (templateDepth > 0) continue; // template contents are inert
    if (tag.name === 'base' && baseHref === undefined && tag.attributes.has('href')) {
      baseHref = decodeHTMLAttribute(tag.attributes.get('href')!);
    }
    if (tag.name !== 'meta') continue;
    const httpEquiv = tag.attributes.get('http-equiv');
    if (httpEquiv === undefined || decodeHTMLAttribute(httpEquiv).trim().toLowerCase() !== 'refresh') continue;
    const refresh = parseRefreshContent(decodeHTMLAttribute(tag.attributes.get('content') ?? ''));
    if (refresh) return baseHref === undefined ? refresh : { ...refresh, baseHref };
  }
}
