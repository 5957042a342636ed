/**
 * Finds a `<meta http-equiv="refresh" content="N; url=...">` redirect in the first bytes of an
 * HTML page, the way browsers read the content attribute (HTML "shared declarative refresh
 * steps"). Phishing kits use it to hop past URL scanners that only follow HTTP redirects.
 * Comments, scripts and styles are skipped. All scanning is linear in the input: no regular
 * expression here can backtrack over the whole page. Pure logic: no I/O.
 */
import { decodeHTMLAttribute } from 'entities';

export interface MetaRefresh {
  /** Delay in seconds as written (we never wait: the target is followed at once). */
  delaySeconds: number;
  /** The URL exactly as written, not yet resolved against the page URL. */
  url: string;
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

/** Blanks out comments, `<script>` and `<style>` bodies, scanning with indexOf only. */
function withoutSkippedBlocks(html: string): string {
  const find = forwardSearch(html.toLowerCase());
  let out = '';
  let position = 0;
  const openers: ReadonlyArray<readonly [string, string]> = [
    ['<!--', '-->'],
    ['<script', '</script'],
    ['<style', '</style'],
  ];
  for (;;) {
    let next = -1;
    let closer = '';
    for (const [open, close] of openers) {
      const at = find(open, position);
      if (at >= 0 && (next < 0 || at < next)) {
        next = at;
        closer = close;
      }
    }
    if (next < 0) return out + html.slice(position);
    out += html.slice(position, next);
    const end = closer === '-->' ? commentEnd(find, next) : blockEnd(find, closer, next + 4);
    if (end < 0) return out;
    position = end;
  }
}

type Find = (needle: string, from: number) => number;

/** Where the block closed by `closer` ends, or -1 when it runs to the end of the input. */
function blockEnd(find: Find, closer: string, from: number): number {
  const at = find(closer, from);
  return at < 0 ? -1 : at + closer.length;
}

/**
 * Where the comment opened at `start` ends, as the WHATWG tokenizer reads it: `<!-->` and
 * `<!--->` are complete (empty) comments, and `--!>` closes a comment as `-->` does. Searching
 * `-->` from `start + 2` covers the first two: its dashes may be those of the opener.
 */
function commentEnd(find: Find, start: number): number {
  const dashes = blockEnd(find, '-->', start + 2);
  const bang = blockEnd(find, '--!>', start + 4);
  if (dashes < 0 || bang < 0) return Math.max(dashes, bang);
  return Math.min(dashes, bang);
}

const ATTRIBUTE = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/**
 * A tag's attributes, values with their character references decoded as a browser decodes them
 * (`url=http&#58;//evil.example/` is evil.example to it, not a relative path).
 */
function attributesOf(tag: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of tag.matchAll(ATTRIBUTE)) {
    const name = match[1]!.toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeHTMLAttribute(match[2] ?? match[3] ?? match[4] ?? ''));
  }
  return attributes;
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
  const text = withoutSkippedBlocks(html);
  const lower = text.toLowerCase();
  let position = 0;
  for (;;) {
    const start = lower.indexOf('<meta', position);
    if (start < 0) return null;
    const end = lower.indexOf('>', start);
    if (end < 0) return null;
    position = end + 1;
    if (!/[\s/>]/.test(lower[start + 5] ?? '')) continue; // <metadata> is not <meta>
    const attributes = attributesOf(text.slice(start + 5, end));
    if (attributes.get('http-equiv')?.trim().toLowerCase() !== 'refresh') continue;
    const refresh = parseRefreshContent(attributes.get('content') ?? '');
    if (refresh) return refresh;
  }
}
