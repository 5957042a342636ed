import { asciiLower, trim } from './ascii-text.js';
import { extractMimeType } from './mime-type.js';

/**
 * The character encoding of an HTML page, as a browser determines it (HTML "determining the
 * character encoding"), the page's text in that encoding, and URLs parsed with it (URL standard:
 * a document's encoding percent-encodes the query of an http(s) URL). A page in UTF-16 hides its
 * markup from a scanner that reads UTF-8, and `/café?q=é` on a windows-1252 page is requested as
 * `/caf%C3%A9?q=%E9`. Pure logic: no I/O.
 *
 * Decided in order: a byte order mark (UTF-8, UTF-16LE, UTF-16BE); the Content-Type charset; a
 * `<meta charset>` or `<meta http-equiv=Content-Type content="...charset=...">` in the first 1024
 * bytes (the standard's prescan; UTF-16 there means UTF-8, as in browsers); else, as nothing is
 * declared, UTF-8 when the bytes read are valid UTF-8 and windows-1252 otherwise. The standard's
 * fallback depends on the user's locale (windows-1252 for most) and browsers guess from the bytes
 * besides (Chromium's detector takes valid UTF-8 for UTF-8): UTF-8 for what decodes as UTF-8,
 * windows-1252 for the rest, is that guess for pages in Western scripts.
 *
 * Not modelled: a `<meta charset>` after the first 1024 bytes (Chromium still honours one in the
 * `<head>`, Firefox does not), an `<?xml encoding?>` declaration, locale-specific fallbacks and
 * detectors' guesses of legacy CJK and Cyrillic encodings for undeclared pages, and encodings
 * Node's ICU lacks (ISO-8859-16: read as undeclared). Several Content-Type headers or values are
 * read as browsers read them (the last one that parses wins: see mime-type.ts). Query encoding is
 * exact for UTF-8, UTF-16 (UTF-8 queries) and every single-byte encoding (windows-125x,
 * ISO-8859-x, KOI8, macintosh...); the multi-byte legacy encodings (Shift_JIS, EUC-JP,
 * ISO-2022-JP, GBK, gb18030, Big5, EUC-KR) get a UTF-8 query, as Node has no encoder for them:
 * their path and host are right, their non-ASCII query characters are not.
 */

export type EncodingSource = 'bom' | 'content-type' | 'meta' | 'default';

export interface PageEncoding {
  /** The WHATWG name of the encoding (`utf-8`, `utf-16le`, `windows-1252`, `shift_jis`...). */
  encoding: string;
  /** What decided it. */
  source: EncodingSource;
}

/** Labels of the "replacement" encoding: a page declared in one decodes to a single U+FFFD. */
const REPLACEMENT_LABELS: ReadonlySet<string> = new Set(['csiso2022kr', 'hz-gb-2312', 'iso-2022-cn', 'iso-2022-cn-ext', 'iso-2022-kr', 'replacement']);

/** Single-byte encodings of the Encoding standard: their encoder is the inverse of their decoder. */
const SINGLE_BYTE: ReadonlySet<string> = new Set([
  'ibm866',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-8-i',
  'iso-8859-10',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'iso-8859-16',
  'koi8-r',
  'koi8-u',
  'macintosh',
  'windows-874',
  'windows-1250',
  'windows-1251',
  'windows-1252',
  'windows-1253',
  'windows-1254',
  'windows-1255',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'x-mac-cyrillic',
]);

function isAsciiWhitespace(c: number | string | undefined): boolean {
  return c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20 || c === '\t' || c === '\n' || c === '\f' || c === '\r' || c === ' ';
}

/**
 * The Encoding standard's "get an encoding": the encoding a label names, or undefined for an
 * unknown label (or one Node's TextDecoder cannot decode).
 */
export function getEncoding(label: string): string | undefined {
  const name = asciiLower(trim(label, isAsciiWhitespace));
  if (REPLACEMENT_LABELS.has(name)) return 'replacement';
  if (name === 'x-user-defined') return name;
  try {
    return new TextDecoder(name).encoding;
  } catch {
    return undefined;
  }
}

/**
 * The `charset` parameter of the MIME type a browser reads from the Content-Type header value(s)
 * (Fetch "extract a MIME type": the last value that parses wins, see mime-type.ts), or undefined
 * when there is none (or no value parses).
 */
export function contentTypeCharset(contentType: string | readonly string[] | undefined): string | undefined {
  return extractMimeType(contentType)?.parameters.get('charset');
}

/**
 * HTML "extracting a character encoding from a meta element": the encoding named by `charset=`
 * in a `content` value (`text/html; charset=windows-1252`), or undefined.
 */
function charsetFromMetaContent(content: string): string | undefined {
  const lower = asciiLower(content);
  let position = 0;
  for (;;) {
    const at = lower.indexOf('charset', position);
    if (at < 0) return undefined;
    let i = at + 'charset'.length;
    while (isAsciiWhitespace(content[i])) i++;
    if (content[i] !== '=') {
      position = i;
      continue;
    }
    i++;
    while (isAsciiWhitespace(content[i])) i++;
    const c = content[i];
    if (c === undefined) return undefined;
    if (c === '"' || c === "'") {
      const close = content.indexOf(c, i + 1);
      return close < 0 ? undefined : getEncoding(content.slice(i + 1, close));
    }
    let end = i;
    while (end < content.length && !isAsciiWhitespace(content[end]) && content[end] !== ';') end++;
    return getEncoding(content.slice(i, end));
  }
}

const PRESCAN_BYTES = 1024;

/**
 * HTML "prescan a byte stream to determine its encoding" over the first 1024 bytes: the encoding
 * a `<meta charset>` or `<meta http-equiv="content-type" content="...">` declares, or undefined.
 */
export function prescanEncoding(input: Uint8Array): string | undefined {
  const bytes = input.subarray(0, PRESCAN_BYTES);
  const n = bytes.length;
  let p = 0;
  const lowerAt = (i: number) => {
    const b = bytes[i]!;
    return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
  };
  const isAlpha = (b: number | undefined) => b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
  const startsWith = (at: number, ascii: string) => {
    if (at + ascii.length > n) return false;
    for (let k = 0; k < ascii.length; k++) if (lowerAt(at + k) !== ascii.charCodeAt(k)) return false;
    return true;
  };
  const indexOf = (ascii: string, from: number) => {
    for (let at = from; at + ascii.length <= n; at++) if (startsWith(at, ascii)) return at;
    return -1;
  };
  // HTML "get an attribute": null when the tag ends (`>`) or the input does (`ended`).
  let ended = false;
  const getAttribute = (): { name: string; value: string } | null => {
    while (p < n && (isAsciiWhitespace(bytes[p]) || bytes[p] === 0x2f)) p++;
    if (p >= n) return (ended = true), null;
    if (bytes[p] === 0x3e) return null;
    let name = '';
    let value = '';
    for (;;) {
      if (p >= n) return (ended = true), null;
      const b = bytes[p]!;
      if (b === 0x3d && name !== '') {
        p++;
        break;
      }
      if (isAsciiWhitespace(b)) {
        while (p < n && isAsciiWhitespace(bytes[p])) p++;
        if (p >= n) return (ended = true), null;
        if (bytes[p] !== 0x3d) return { name, value };
        p++;
        break;
      }
      if (b === 0x2f || b === 0x3e) return { name, value };
      name += String.fromCharCode(lowerAt(p));
      p++;
    }
    while (p < n && isAsciiWhitespace(bytes[p])) p++;
    if (p >= n) return (ended = true), null;
    const first = bytes[p]!;
    if (first === 0x22 || first === 0x27) {
      for (p++; ; p++) {
        if (p >= n) return (ended = true), null;
        if (bytes[p] === first) {
          p++;
          return { name, value };
        }
        value += String.fromCharCode(lowerAt(p));
      }
    }
    if (first === 0x3e) return { name, value };
    for (;;) {
      if (p >= n) return (ended = true), null;
      if (isAsciiWhitespace(bytes[p]) || bytes[p] === 0x3e) return { name, value };
      value += String.fromCharCode(lowerAt(p));
      p++;
    }
  };

  for (; p < n; p++) {
    if (bytes[p] !== 0x3c) continue;
    if (startsWith(p, '<!--')) {
      // `<!-->` ends at its own `>`: the dashes of `-->` may be the opener's.
      const end = indexOf('-->', p + 2);
      if (end < 0) return undefined;
      p = end + 2; // at the `>`
      continue;
    }
    if (startsWith(p, '<meta') && (isAsciiWhitespace(bytes[p + 5]) || bytes[p + 5] === 0x2f)) {
      p += 6;
      const names = new Set<string>();
      let gotPragma = false;
      let needPragma: boolean | null = null;
      let charset: string | null | false = null; // false: failure
      for (let attribute = getAttribute(); attribute !== null; attribute = getAttribute()) {
        if (names.has(attribute.name)) continue;
        names.add(attribute.name);
        if (attribute.name === 'http-equiv') {
          if (attribute.value === 'content-type') gotPragma = true;
        } else if (attribute.name === 'content') {
          const found = charsetFromMetaContent(attribute.value);
          if (found !== undefined && charset === null) {
            charset = found;
            needPragma = true;
          }
        } else if (attribute.name === 'charset') {
          charset = getEncoding(attribute.value) ?? false;
          needPragma = false;
        }
      }
      if (ended) return undefined;
      if (needPragma === null || (needPragma && !gotPragma) || charset === null || charset === false) continue;
      if (charset === 'utf-16le' || charset === 'utf-16be') return 'utf-8';
      if (charset === 'x-user-defined') return 'windows-1252';
      return charset;
    }
    if (isAlpha(bytes[p + 1]) || (bytes[p + 1] === 0x2f && isAlpha(bytes[p + 2]))) {
      p++;
      while (p < n && !isAsciiWhitespace(bytes[p]) && bytes[p] !== 0x3e) p++;
      while (getAttribute() !== null);
      if (ended) return undefined;
      continue; // at the `>`
    }
    if (bytes[p + 1] === 0x21 || bytes[p + 1] === 0x2f || bytes[p + 1] === 0x3f) {
      const end = indexOf('>', p + 2);
      if (end < 0) return undefined;
      p = end;
    }
  }
  return undefined;
}

/** True when `bytes` are UTF-8; `cut`: but for a sequence cut at the end (a body cut at the byte cap). */
function isUtf8(bytes: Uint8Array, cut: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: cut });
    return true;
  } catch {
    return false;
  }
}

/**
 * The encoding of an HTML page whose first bytes are `bytes`: all of it, or (`truncated`) the part
 * read, which may end in the middle of a character. `contentType`: its Content-Type header
 * value(s), or the type extracted from them (see contentTypeCharset).
 */
export function sniffHtmlEncoding(bytes: Uint8Array, contentType: string | readonly string[] | undefined, truncated = false): PageEncoding {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', source: 'bom' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', source: 'bom' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', source: 'bom' };
  const label = contentTypeCharset(contentType);
  const declared = label === undefined ? undefined : getEncoding(label);
  if (declared !== undefined) return { encoding: declared, source: 'content-type' };
  const meta = prescanEncoding(bytes);
  if (meta !== undefined) return { encoding: meta, source: 'meta' };
  return { encoding: isUtf8(bytes, truncated) ? 'utf-8' : 'windows-1252', source: 'default' };
}

/**
 * windows-1252's 0x80-0x9F (WHATWG index). Node 20's TextDecoder reads windows-1252 (and the
 * labels naming it: latin1, iso-8859-1, ascii...) as ISO-8859-1, with C1 controls there.
 */
const WINDOWS_1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Decodes a page in `encoding` (a name from sniffHtmlEncoding); a matching BOM is dropped. */
export function decodeHtml(bytes: Uint8Array, encoding: string): string {
  if (encoding === 'replacement') return bytes.length > 0 ? '\ufffd' : '';
  if (encoding === 'x-user-defined') {
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b < 0x80 ? b : 0xf780 + b - 0x80);
    return text;
  }
  if (encoding === 'windows-1252') {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      .toString('latin1')
      .replace(/[\x80-\x9f]/g, (c) => WINDOWS_1252_C1[c.charCodeAt(0) - 0x80]!);
  }
  return new TextDecoder(encoding).decode(bytes);
}

/** The URL parser's encoding for a document in `encoding` (Encoding "get an output encoding"). */
function outputEncoding(encoding: string): string {
  return encoding === 'replacement' || encoding === 'utf-16le' || encoding === 'utf-16be' ? 'utf-8' : encoding;
}

const encoders = new Map<string, Map<number, number>>();

/** Code point -> byte of a single-byte encoding, the inverse of its decoder (first byte wins). */
function singleByteEncoder(encoding: string): Map<number, number> {
  let table = encoders.get(encoding);
  if (table === undefined) {
    table = new Map();
    for (let b = 0x80; b <= 0xff; b++) {
      const c = decodeHtml(Uint8Array.of(b), encoding).codePointAt(0)!;
      if (c !== 0xfffd && !table.has(c)) table.set(c, b);
    }
    encoders.set(encoding, table);
  }
  return table;
}

/**
 * The bytes of one non-ASCII code point in `encoding`, or undefined when it has none there.
 * Multi-byte legacy encodings (no encoder in Node) get UTF-8: see the file comment.
 */
function encodeCodePoint(codePoint: number, encoding: string): number[] | undefined {
  if (encoding === 'x-user-defined') return codePoint >= 0xf780 && codePoint <= 0xf7ff ? [codePoint - 0xf780 + 0x80] : undefined;
  if (SINGLE_BYTE.has(encoding)) {
    const byte = singleByteEncoder(encoding).get(codePoint);
    return byte === undefined ? undefined : [byte];
  }
  return [...Buffer.from(String.fromCodePoint(codePoint), 'utf8')];
}

/**
 * A query's non-ASCII code points percent-encoded in `encoding`, as the URL parser encodes them
 * ("percent-encode after encoding"): one with no bytes there becomes `%26%23<decimal>%3B`
 * (`&#<decimal>;`). ASCII is left to the URL parser, which encodes it the same in every
 * ASCII-compatible encoding; existing `%XX` escapes stay as written.
 */
function encodeQuery(query: string, encoding: string): string {
  let out = '';
  for (const character of query) {
    let codePoint = character.codePointAt(0)!;
    if (codePoint < 0x80) {
      out += character;
      continue;
    }
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) codePoint = 0xfffd; // a lone surrogate, as the parser reads it
    const bytes = encodeCodePoint(codePoint, encoding);
    if (bytes === undefined) out += `%26%23${codePoint}%3B`;
    else for (const byte of bytes) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Schemes whose query takes the document's encoding (special schemes but ws and wss). */
const ENCODED_QUERY_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'ftp:', 'file:']);

/**
 * HTML "encoding-parsing a URL": `input` parsed against `base` with a document in `encoding`, so
 * the query is percent-encoded in that encoding (the path and host are always UTF-8/IDNA). Throws
 * as `new URL` does when `input` is not a URL.
 */
export function parseUrlWithEncoding(input: string, base: URL | string, encoding: string): URL {
  const parsed = new URL(input, base);
  const queryEncoding = outputEncoding(encoding);
  if (queryEncoding === 'utf-8' || !ENCODED_QUERY_SCHEMES.has(parsed.protocol)) return parsed;
  // The query is what follows the first `?`, up to a `#`: a `?` ends the authority and the path,
  // and only a fragment holds one literally.
  const question = input.indexOf('?');
  const hash = input.indexOf('#');
  if (question < 0 || (hash >= 0 && hash < question)) return parsed;
  const end = hash < 0 ? input.length : hash;
  const query = input.slice(question + 1, end);
  if (!/[^\x00-\x7f]/.test(query)) return parsed;
  return new URL(`${input.slice(0, question + 1)}${encodeQuery(query, queryEncoding)}${input.slice(end)}`, base);
}
