import { asciiLower, trim } from './ascii-text.js';

/**
 * The MIME type of a response as a browser reads its Content-Type header(s): Fetch "extract a
 * MIME type" (https://fetch.spec.whatwg.org/#concept-header-extract-mime-type) over MIME Sniffing
 * "parse a MIME type". Every Content-Type value is combined with `, ` and split on the commas
 * outside quoted strings; each part is parsed, parts that fail (or are `*`/`*`) are skipped, and
 * the last valid one wins. So two headers `text/plain` + `text/html`, or one `text/html, foo`,
 * make an HTML page, whose meta refresh browsers follow. Pure logic: no I/O.
 */

export interface MimeType {
  /** Lowercased. */
  type: string;
  /** Lowercased. */
  subtype: string;
  /** Names lowercased, values as parsed (a quoted-string unescaped); the first of a name wins. */
  parameters: Map<string, string>;
}

/** `type/subtype`. */
export function mimeEssence(mime: MimeType): string {
  return `${mime.type}/${mime.subtype}`;
}

function isHttpWhitespace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

function isHttpTabOrSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** HTTP token code points (RFC 9110 tchar). */
function isTokenString(text: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(text);
}

/** HTTP quoted-string token code points: tab, U+0020-U+007E, U+0080-U+00FF. */
function isQuotedStringTokenString(text: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(text);
}

/**
 * Fetch "collect an HTTP quoted string" from `input` at `start` (a `"`): the value (unescaped
 * when `extractValue`, else the raw text, quotes included) and the index just past it.
 */
function collectQuotedString(input: string, start: number, extractValue: boolean): { value: string; end: number } {
  const n = input.length;
  let i = start + 1;
  let value = '';
  for (;;) {
    let run = i;
    while (run < n && input[run] !== '"' && input[run] !== '\\') run++;
    value += input.slice(i, run);
    i = run;
    if (i >= n) break;
    const quoteOrBackslash = input[i++];
    if (quoteOrBackslash === '\\') {
      if (i >= n) {
        value += '\\';
        break;
      }
      value += input[i++];
    } else {
      break; // the closing `"`
    }
  }
  return { value: extractValue ? value : input.slice(start, i), end: i };
}

/**
 * Fetch "getting, decoding, and splitting" a header: its values (each one line, read as Latin-1
 * as Node gives them) joined with `, `, split on the commas outside quoted strings, each part
 * trimmed of tabs and spaces. Empty parts are kept (`text/html,` has two values). Undefined when
 * the header is absent.
 */
export function splitHeaderValues(header: string | readonly string[] | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const input = typeof header === 'string' ? header : header.join(', ');
  if (typeof header !== 'string' && header.length === 0) return undefined;
  const n = input.length;
  const values: string[] = [];
  let i = 0;
  let value = '';
  for (;;) {
    let run = i;
    while (run < n && input[run] !== '"' && input[run] !== ',') run++;
    value += input.slice(i, run);
    i = run;
    if (i < n && input[i] === '"') {
      const quoted = collectQuotedString(input, i, false);
      value += quoted.value;
      i = quoted.end;
      if (i < n) continue;
    }
    values.push(trim(value, isHttpTabOrSpace));
    value = '';
    if (i >= n) return values;
    i++; // past `,`
  }
}

/** MIME Sniffing "parse a MIME type": null for failure. */
export function parseMimeType(text: string): MimeType | null {
  const input = trim(text, isHttpWhitespace);
  const n = input.length;
  let i = input.indexOf('/');
  if (i < 0) return null;
  const type = input.slice(0, i);
  if (!isTokenString(type)) return null;
  i++; // past `/`
  let end = input.indexOf(';', i);
  if (end < 0) end = n;
  const subtype = trim(input.slice(i, end), isHttpWhitespace, false);
  if (!isTokenString(subtype)) return null;
  const mime: MimeType = { type: asciiLower(type), subtype: asciiLower(subtype), parameters: new Map() };
  i = end;
  while (i < n) {
    i++; // past `;`
    while (isHttpWhitespace(input[i])) i++;
    const nameStart = i;
    while (i < n && input[i] !== ';' && input[i] !== '=') i++;
    const name = asciiLower(input.slice(nameStart, i));
    if (i < n) {
      if (input[i] === ';') continue;
      i++; // past `=`
    }
    if (i >= n) break;
    let value: string;
    if (input[i] === '"') {
      const quoted = collectQuotedString(input, i, true);
      value = quoted.value;
      i = quoted.end;
      while (i < n && input[i] !== ';') i++;
    } else {
      const valueStart = i;
      while (i < n && input[i] !== ';') i++;
      value = trim(input.slice(valueStart, i), isHttpWhitespace, false);
      if (value === '') continue;
    }
    if (name !== '' && isTokenString(name) && isQuotedStringTokenString(value) && !mime.parameters.has(name)) mime.parameters.set(name, value);
  }
  return mime;
}

/** MIME Sniffing "serialize a MIME type": values that are not tokens are quoted (`"` and `\` escaped). */
export function serializeMimeType(mime: MimeType): string {
  let text = mimeEssence(mime);
  for (const [name, value] of mime.parameters) {
    text += `;${name}=${value !== '' && isTokenString(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`}`;
  }
  return text;
}

/**
 * Fetch "extract a MIME type" from the Content-Type header value(s) of a response (Node's form: a
 * string, or an array for several headers): null when there is none, or none parses (the type is
 * then undeclared, and browsers sniff the body). When a value has the essence of the one before
 * and no charset, it keeps the charset of the first value of that essence (the standard's rule:
 * `text/html;charset=gbk, text/html` is `text/html;charset=gbk`).
 */
export function extractMimeType(contentType: string | readonly string[] | undefined): MimeType | null {
  const values = splitHeaderValues(contentType);
  if (values === undefined) return null;
  let charset: string | undefined;
  let essence: string | undefined;
  let mime: MimeType | null = null;
  for (const value of values) {
    const parsed = parseMimeType(value);
    if (parsed === null || mimeEssence(parsed) === '*/*') continue;
    mime = parsed;
    if (mimeEssence(mime) !== essence) {
      charset = mime.parameters.get('charset');
      essence = mimeEssence(mime);
    } else if (!mime.parameters.has('charset') && charset !== undefined) {
      mime.parameters.set('charset', charset);
    }
  }
  return mime;
}

/**
 * MIME Sniffing's "unknown MIME type" (`unknown/unknown`, `application/unknown`, `*\/*`): a
 * response that declares one is sniffed as if it declared none (Chromium's kUnknownMimeTypes adds
 * the empty type, which does not parse here: undeclared too).
 */
export function isUnknownMimeType(mime: MimeType): boolean {
  const essence = mimeEssence(mime);
  return essence === 'unknown/unknown' || essence === 'application/unknown' || essence === '*/*';
}

/** MIME Sniffing's "XML MIME type": `text/xml`, `application/xml`, any `+xml` subtype (`application/xhtml+xml`). */
export function isXmlMimeType(mime: MimeType): boolean {
  const essence = mimeEssence(mime);
  return essence === 'text/xml' || essence === 'application/xml' || essence.endsWith('+xml');
}

/**
 * A response's Content-Type as browsers read it (extractMimeType), serialized
 * (`text/html;charset=utf-8`); undefined when it declares none that parses.
 */
export function responseContentType(header: string | readonly string[] | undefined): string | undefined {
  const mime = extractMimeType(header);
  return mime === null ? undefined : serializeMimeType(mime);
}
