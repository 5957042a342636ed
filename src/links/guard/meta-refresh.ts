/**
 * Finds the `<meta http-equiv="refresh" content="N; url=...">` refreshes in the first bytes of a
 * page (already decoded: see html-encoding.ts), the way browsers read the content attribute
 * (HTML "shared declarative refresh steps"): content a browser rejects is skipped, as a browser
 * skips it, so an invalid decoy before the real refresh cannot stand in for it. Phishing kits use
 * meta refresh to hop past URL scanners that only follow HTTP redirects.
 *
 * HTML syntax is read by parse5, a WHATWG HTML parser (tokenizer and tree construction), with
 * scripting enabled as in a victim's browser (`<noscript>` holds text): foreign content
 * (`<svg><style><meta>` breaks out of the SVG, `<![CDATA[` is CDATA only inside it), script-data
 * escapes, raw-text elements, framesets and the rest are what a browser makes of them. A refresh
 * is taken when its `<meta>` is inserted into the document, as browsers process it then: one the
 * tree builder later drops with the body a `<frameset>` replaces still counts, one in `<template>`
 * contents never does. parse5 follows the pre-2025 `<select>` parser, which drops a `<meta>`
 * inside `<select>`; Chromium's current parser keeps it, so it counts too. Parsing HTML is not
 * linear in the worst case (the stack of open elements is searched per tag, attribute names per
 * attribute): the work is counted, and a page past PARSE_WORK_LIMIT throws RefreshScanTooComplex
 * rather than take seconds of CPU (a browser would parse it: where it leads is unknown).
 *
 * XML syntax (`application/xhtml+xml`, other XML types) is read as XML, linearly: no raw-text
 * elements, no `<noscript>` special case, comments, CDATA sections, processing instructions and
 * the doctype skipped, names case-sensitive, only elements in the XHTML namespace count, and the
 * scan stops at the first well-formedness error a browser stops at (a mismatched end tag, a
 * second root, an unquoted or duplicate attribute, an undeclared prefix, `--` in a comment). The
 * doctype's internal subset is read as expat reads it (comments and processing instructions whole);
 * one that declares entities (whose text could hold markup) or attribute defaults (which can make a
 * `<meta>` a refresh), or that cannot be read, throws RefreshScanTooComplex: it never ends the scan.
 *
 * The first `<base href>` in the document (tree order) when the refresh is met is reported, for
 * the URL to be resolved against the document base URL as browsers do. Pure logic: no I/O.
 */
import { decodeHTMLStrict } from 'entities';
import { Parser, html as parse5Html, type Token, type TreeAdapter, type TreeAdapterTypeMap } from 'parse5';
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

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\f' || c === '\r';
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
 * Thrown when a page would cost too much to read for refreshes (PARSE_WORK_LIMIT), or holds what
 * the scan does not model (entity or attribute-default declarations in an XML doctype, or one it
 * cannot read): where it leads is unknown.
 */
export class RefreshScanTooComplex extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefreshScanTooComplex';
  }
}

/**
 * Steps of parser work allowed per scan: per tag, the open elements looked at (twice for an end
 * tag, which may run the adoption agency) and the active formatting elements (four times, each
 * may be cloned, and compared attribute by attribute for a start tag); per text run, the open
 * elements the reconstruction of active formatting elements really searches; attribute names
 * compared per attribute; nodes moved by the adoption agency; ancestors walked for `<base>` order.
 * The tree is built with O(1) insertions and removals (scanTreeAdapter), so foster parenting and
 * the adoption agency cost no more than that. A 64 KiB page of ordinary markup, sloppy markup
 * included (a hundred unclosed elements, a `<font>` reopened per paragraph), costs a few percent
 * of it; a hostile one (thousands of nested or unclosed elements, thousands of attributes on a
 * tag) reaches it within tens of milliseconds instead of running for most of a second.
 */
export const PARSE_WORK_LIMIT = 2_000_000;

/** Whether a refresh content value is in the Refresh state (enumerated attribute: ASCII case-insensitive, nothing trimmed). */
function isRefreshState(value: string | undefined): boolean {
  return value !== undefined && asciiLower(value) === 'refresh';
}

/**
 * A node of the scan's tree: children in a doubly linked list, so that inserting before a node
 * (foster parenting) and detaching one (the adoption agency) take O(1), where parse5's default
 * tree adapter searches and splices an array of children. Text is not kept: nothing reads it.
 */
class ScanNode {
  parentNode: ScanNode | null = null;
  previousSibling: ScanNode | null = null;
  nextSibling: ScanNode | null = null;
  firstChild: ScanNode | null = null;
  lastChild: ScanNode | null = null;
  /** Set on the document only. */
  mode: parse5Html.DOCUMENT_MODE = parse5Html.DOCUMENT_MODE.NO_QUIRKS;
  constructor(readonly nodeName: string) {}
}

class ScanElement extends ScanNode {
  /** The names in attrs, once attributes are adopted (`<html>`, `<body>` repeated). */
  attrNames: Set<string> | undefined = undefined;
  /** A `<template>`'s contents. */
  content: ScanNode | undefined = undefined;
  constructor(
    readonly tagName: string,
    readonly namespaceURI: parse5Html.NS,
    readonly attrs: Token.Attribute[],
  ) {
    super(tagName);
  }
}

type ScanTreeMap = TreeAdapterTypeMap<ScanNode, ScanNode, ScanNode, ScanNode, ScanNode, ScanElement, ScanNode, ScanNode, ScanElement, ScanNode>;

function isScanElement(node: ScanNode): node is ScanElement {
  return node instanceof ScanElement;
}

function detach(node: ScanNode): void {
  const parent = node.parentNode;
  if (parent === null) return;
  if (node.previousSibling) node.previousSibling.nextSibling = node.nextSibling;
  else parent.firstChild = node.nextSibling;
  if (node.nextSibling) node.nextSibling.previousSibling = node.previousSibling;
  else parent.lastChild = node.previousSibling;
  node.parentNode = node.previousSibling = node.nextSibling = null;
}

function insert(parent: ScanNode, node: ScanNode, before: ScanNode | null): void {
  detach(node);
  node.parentNode = parent;
  node.nextSibling = before;
  node.previousSibling = before === null ? parent.lastChild : before.previousSibling;
  if (node.previousSibling) node.previousSibling.nextSibling = node;
  else parent.firstChild = node;
  if (before === null) parent.lastChild = node;
  else before.previousSibling = node;
}

/** parse5 tree adapter for the scan: every operation the parser uses takes O(1) (adoptAttributes O(attributes adopted)). */

const scanTreeAdapter: TreeAdapter<ScanTreeMap> = {
  createDocument: () => new ScanNode('#document'),
  createDocumentFragment: () => new ScanNode('#document-fragment'),
  createElement: (tagName, namespaceURI, attrs) => new ScanElement(tagName, namespaceURI, attrs),
  createCommentNode: () => new ScanNode('#comment'),
  createTextNode: () => new ScanNode('#text'),
  appendChild: (parent, node) => insert(parent, node, null),
  insertBefore: (parent, node, reference) => insert(parent, node, reference),
  setTemplateContent: (template, content) => {
    template.content = content;
  },
  getTemplateContent: (template) => template.content ?? (template.content = new ScanNode('#document-fragment')),
  // The doctype (its name and ids decide the document mode, which parse5 sets itself) is not kept.
  setDocumentType: () => undefined,
  setDocumentMode: (document, mode) => {
    document.mode = mode;
  },
  getDocumentMode: (document) => document.mode,
  detachNode: detach,
  // Text is never read: not kept.
  insertText: () => undefined,
  insertTextBefore: () => undefined,
  adoptAttributes: (recipient, attrs) => {
    const names = (recipient.attrNames ??= new Set(recipient.attrs.map((attr) => attr.name)));
    for (const attr of attrs) {
      if (names.has(attr.name)) continue;
      names.add(attr.name);
      recipient.attrs.push(attr);
    }
  },
  getFirstChild: (node) => node.firstChild,
  getChildNodes: (node) => {
    const children: ScanNode[] = [];
    for (let child = node.firstChild; child !== null; child = child.nextSibling) children.push(child);
    return children;
  },
  getParentNode: (node) => node.parentNode,
  getAttrList: (element) => element.attrs,
  getTagName: (element) => element.tagName,
  getNamespaceURI: (element) => element.namespaceURI,
  getTextNodeContent: () => '',
  getCommentNodeContent: () => '',
  getDocumentTypeNodeName: () => '',
  getDocumentTypeNodePublicId: () => '',
  getDocumentTypeNodeSystemId: () => '',
  isTextNode: (node): node is ScanNode => node.nodeName === '#text',
  isCommentNode: (node): node is ScanNode => node.nodeName === '#comment',
  isDocumentTypeNode: (node): node is ScanNode => node.nodeName === '#documentType',
  isElementNode: isScanElement,
  setNodeSourceCodeLocation: () => undefined,
  getNodeSourceCodeLocation: () => undefined,
  updateNodeSourceCodeLocation: () => undefined,
};

const HTML_NS = parse5Html.NS.HTML;
const META = parse5Html.TAG_ID.META;
const BASE = parse5Html.TAG_ID.BASE;
/** parse5 7.3's InsertionMode.IN_SELECT and IN_SELECT_IN_TABLE (the enum is not exported). */
const IN_SELECT_MODES: ReadonlySet<number> = new Set([15, 16]);

function attribute(attrs: readonly Token.Attribute[], name: string): string | undefined {
  for (const attr of attrs) if (attr.name === name && attr.namespace === undefined) return attr.value;
  return undefined;
}

/** parse5's tokenizer, as far as the work count reaches into it. */
interface CountedTokenizer {
  _leaveAttrName(): void;
  currentToken: { attrs?: unknown[] } | null;
}

/**
 * parse5's document parser, recording each `<meta>` refresh and `<base href>` as it is inserted
 * into the document, and counting its work.
 */
class RefreshParser extends Parser<ScanTreeMap> {
  readonly found: MetaRefresh[] = [];
  private work = 0;
  /** The first `<base href>` in tree order so far, and its ancestors (for the order of a fostered one). */
  private base: { element: ScanElement; href: string; ancestors: Set<ScanNode> } | undefined;

  constructor() {
    super({ scriptingEnabled: true, treeAdapter: scanTreeAdapter });
    const tokenizer = this.tokenizer as unknown as CountedTokenizer;
    const leaveAttrName = tokenizer._leaveAttrName;
    if (typeof leaveAttrName !== 'function') throw new Error('parse5 tokenizer without _leaveAttrName: pin parse5 7.3');
    // A new attribute name is compared with each one the tag already has.
    tokenizer._leaveAttrName = () => {
      this.charge(tokenizer.currentToken?.attrs?.length ?? 0);
      leaveAttrName.call(tokenizer);
    };
  }

  private charge(steps: number): void {
    this.work += steps + 1;
    if (this.work > PARSE_WORK_LIMIT) throw new RefreshScanTooComplex(`the page needs more than ${PARSE_WORK_LIMIT} steps of HTML parsing (deep nesting or many attributes)`);
  }

  /** Per tag: scope checks walk the open elements, formatting elements are reconstructed and compared. */
  private chargeTag(attributes: number, stackFactor: number): void {
    this.charge((this.openElements.stackTop + 1) * stackFactor + this.activeFormattingElements.entries.length * (4 + attributes));
  }

  /** The work counted so far (for tests and measurements). */
  get workDone(): number {
    return this.work;
  }

  private get inTemplate(): boolean {
    return this.openElements.tmplCount > 0;
  }

  private record(tagId: number, attrs: readonly Token.Attribute[]): void {
    if (tagId !== META) return;
    if (!isRefreshState(attribute(attrs, 'http-equiv'))) return;
    const refresh = parseRefreshContent(attribute(attrs, 'content') ?? '');
    if (refresh) this.found.push(this.base === undefined ? refresh : { ...refresh, baseHref: this.base.href });
  }

  private setBase(element: ScanElement, href: string): void {
    const ancestors = new Set<ScanNode>();
    for (let node = element.parentNode; node !== null; node = node.parentNode) {
      this.charge(1);
      ancestors.add(node);
    }
    this.base = { element, href, ancestors };
  }

  override _attachElementToTree(element: ScanElement, location: Parameters<Parser<ScanTreeMap>['_attachElementToTree']>[1]): void {
    const fostered = element.tagName === 'base' && this._shouldFosterParentOnInsertion() ? this._findFosterParentingLocation().beforeElement : null;
    super._attachElementToTree(element, location);
    if (this.inTemplate || element.namespaceURI !== HTML_NS) return;
    const tagId = parse5Html.getTagID(element.tagName);
    if (tagId === BASE) {
      const href = attribute(element.attrs, 'href');
      // Only a base fostered out of a table can land before an earlier one: one in that table.
      if (href !== undefined && (this.base === undefined || (fostered !== null && this.base.ancestors.has(fostered)))) this.setBase(element, href);
    } else {
      this.record(tagId, element.attrs);
    }
  }

  override _startTagOutsideForeignContent(token: Token.TagToken): void {
    // Chromium's select parser (2025) reads `<select>` content as body content: a `<meta>` there
    // is inserted and refreshes. parse5 (the older standard) drops it.
    if (IN_SELECT_MODES.has(this.insertionMode as number) && token.tagID === META && !this.inTemplate) this.record(META, token.attrs);
    super._startTagOutsideForeignContent(token);
  }

  /**
   * Before text and most start tags: parse5 searches the open elements (from the top, with
   * lastIndexOf) for each active formatting element, newest first, down to a marker or one still
   * open, and reopens the rest. Charged as it really searches: nothing for an empty list, little
   * for an open `<b>` on top; a native array search, an eighth of a step per element passed (an
   * unclosed `<font>` under a hundred open elements must not put prose past the limit).
   */
  override _reconstructActiveFormattingElements(): void {
    const { items, stackTop } = this.openElements;
    for (const entry of this.activeFormattingElements.entries) {
      if (!('element' in entry)) break;
      const at = items.lastIndexOf(entry.element, stackTop);
      this.charge((stackTop - at) >>> 3);
      if (at >= 0) break;
    }
    super._reconstructActiveFormattingElements();
  }

  /** The adoption agency moves the children of the furthest block one by one. */
  override _adoptNodes(donor: ScanNode, recipient: ScanNode): void {
    for (let child = donor.firstChild; child !== null; child = child.nextSibling) this.charge(0);
    super._adoptNodes(donor, recipient);
  }

  override onStartTag(token: Token.TagToken): void {
    this.chargeTag(token.attrs.length, 1);
    super.onStartTag(token);
  }

  override onEndTag(token: Token.TagToken): void {
    // The adoption agency runs at most 8 x 3 rounds, each searching the stack.
    this.chargeTag(0, 2);
    super.onEndTag(token);
  }

  // A text run is appended to the current node (or fostered before a table close above it):
  // O(1) beyond the reconstruction charged above.
  override onCharacter(token: Token.CharacterToken): void {
    this.charge(0);
    super.onCharacter(token);
  }

  override onNullCharacter(token: Token.CharacterToken): void {
    this.charge(0);
    super.onNullCharacter(token);
  }

  override onWhitespaceCharacter(token: Token.CharacterToken): void {
    this.charge(0);
    super.onWhitespaceCharacter(token);
  }
}

/** The parser work (see PARSE_WORK_LIMIT) reading `text` as HTML takes; throws past the limit. For measurements. */
export function htmlParseWork(text: string): number {
  const parser = new RefreshParser();
  parser.tokenizer.write(text, true);
  return parser.workDone;
}

function htmlMetaRefreshes(text: string): MetaRefresh[] {
  // No `<meta` start tag (its name cannot be written with character references): no refresh.
  if (!asciiLower(text).includes('<meta')) return [];
  const parser = new RefreshParser();
  parser.tokenizer.write(text, true);
  return parser.found;
}

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

function isXmlSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r';
}

/**
 * The end (just past its `>`) of the XML doctype at `open`, as expat reads it: quoted literals in
 * the external ID; in the internal subset comments and processing instructions as whole units
 * (a quote or `]` in them is text), parameter-entity references, and markup declarations with
 * their quoted literals. Fails closed: a subset that declares entities or attribute defaults
 * (both change what the document's elements hold), or that cannot be read, or a doctype that does
 * not end, throws RefreshScanTooComplex, never hides the rest of the page.
 */
function xmlDoctypeEnd(text: string, open: number): number {
  const n = text.length;
  const unreadable = (why: string) => new RefreshScanTooComplex(`the XML doctype ${why}`);
  /** Past the literal quoted at `at`. */
  const literalEnd = (at: number): number => {
    const close = text.indexOf(text[at]!, at + 1);
    if (close < 0) throw unreadable('holds an unterminated literal');
    return close + 1;
  };
  let i = open + 9;
  for (;;) {
    if (i >= n) throw unreadable('does not end');
    const c = text[i];
    if (c === '"' || c === "'") i = literalEnd(i);
    else if (c === '>') return i + 1;
    else if (c === '[') break;
    else i++;
  }
  i++;
  for (;;) {
    while (i < n && isXmlSpace(text[i])) i++;
    if (i >= n) throw unreadable('does not end');
    if (text[i] === ']') {
      i++;
      while (i < n && isXmlSpace(text[i])) i++;
      if (text[i] !== '>') throw unreadable('is not well-formed after its internal subset');
      return i + 1;
    }
    if (text.startsWith('<!--', i)) {
      const close = text.indexOf('-->', i + 4);
      if (close < 0) throw unreadable('holds an unterminated comment');
      i = close + 3;
    } else if (text.startsWith('<?', i)) {
      const close = text.indexOf('?>', i + 2);
      if (close < 0) throw unreadable('holds an unterminated processing instruction');
      i = close + 2;
    } else if (text[i] === '%') {
      const reference = /%[^\s%;<>"'[\]]+;/y;
      reference.lastIndex = i;
      if (!reference.test(text)) throw unreadable('holds an unreadable parameter-entity reference');
      i = reference.lastIndex;
    } else if (text.startsWith('<!ENTITY', i)) {
      throw unreadable('declares entities');
    } else if (text.startsWith('<!ATTLIST', i)) {
      throw unreadable('declares attribute defaults');
    } else if (text.startsWith('<!ELEMENT', i) || text.startsWith('<!NOTATION', i)) {
      i += 2;
      for (;;) {
        if (i >= n) throw unreadable('holds an unterminated declaration');
        const c = text[i];
        if (c === '"' || c === "'") i = literalEnd(i);
        else if (c === '>') break;
        else i++;
      }
      i++;
    } else {
      throw unreadable('holds what its internal subset cannot');
    }
  }
}

/**
 * The XML-syntax scan: elements and attributes as an XML parser with namespaces reads them,
 * linearly; stops at the first well-formedness error browsers stop at (see the file header).
 */
function* xmlMetaRefreshes(text: string): Generator<MetaRefresh, void, undefined> {
  const n = text.length;
  /** Per open element: its qualified name, the default namespace inside it, the prefixes it declares. */
  const stack: { name: string; defaultNs: string; declared: string[]; template: boolean }[] = [];
  const prefixes = new Map<string, string[]>([['xml', ['http://www.w3.org/XML/1998/namespace']]]);
  let templateDepth = 0;
  let rootClosed = false;
  let doctypeSeen = false;
  let baseHref: string | undefined;
  let position = 0;
  const endOf = (needle: string, from: number): number => {
    const at = text.indexOf(needle, from);
    return at < 0 ? -1 : at + needle.length;
  };
  while (position < n) {
    const open = text.indexOf('<', position);
    const textEnd = open < 0 ? n : open;
    // Character data outside the root element is a well-formedness error.
    if (stack.length === 0) for (let i = position; i < textEnd; i++) if (!isXmlSpace(text[i])) return;
    if (open < 0) return;
    let end: number;
    if (text.startsWith('<!--', open)) {
      // `--` ends a comment: a `--` not followed by `>` is a well-formedness error.
      const dashes = text.indexOf('--', open + 4);
      if (dashes >= 0 && text[dashes + 2] !== '>') return;
      end = dashes < 0 ? -1 : dashes + 3;
    } else if (text.startsWith('<![CDATA[', open)) {
      if (stack.length === 0) return;
      end = endOf(']]>', open + 9);
    } else if (text[open + 1] === '?') end = endOf('?>', open + 2);
    else if (text.startsWith('<!DOCTYPE', open)) {
      if (stack.length > 0 || rootClosed || doctypeSeen) return; // a doctype after the root element starts, or a second one
      doctypeSeen = true;
      end = xmlDoctypeEnd(text, open);
    } else if (text[open + 1] === '!') return; // not well-formed
    else if (text[open + 1] === '/') {
      const close = text.indexOf('>', open + 2);
      if (close < 0) return;
      let nameEnd = close;
      while (nameEnd > open + 2 && isXmlSpace(text[nameEnd - 1])) nameEnd--;
      const top = stack.pop();
      if (top === undefined || text.slice(open + 2, nameEnd) !== top.name) return; // mismatched end tag
      for (const prefix of top.declared) prefixes.get(prefix)!.pop();
      if (top.template) templateDepth--;
      if (stack.length === 0) rootClosed = true;
      end = close + 1;
    } else {
      if (rootClosed) return; // a second root element
      let i = open + 1;
      while (i < n && !isXmlSpace(text[i]) && text[i] !== '/' && text[i] !== '>') i++;
      const name = text.slice(open + 1, i);
      if (name === '') return;
      const attributes = new Map<string, string>();
      let selfClosing = false;
      for (;;) {
        const spaced = isXmlSpace(text[i]);
        while (i < n && isXmlSpace(text[i])) i++;
        if (i >= n) return;
        if (text[i] === '>') break;
        if (text[i] === '/') {
          if (text[i + 1] !== '>') return;
          selfClosing = true;
          i++;
          break;
        }
        if (!spaced) return;
        const nameStart = i;
        while (i < n && !isXmlSpace(text[i]) && text[i] !== '=' && text[i] !== '>' && text[i] !== '/') i++;
        const attribute = text.slice(nameStart, i);
        while (i < n && isXmlSpace(text[i])) i++;
        if (text[i] !== '=') return;
        i++;
        while (i < n && isXmlSpace(text[i])) i++;
        const quote = text[i];
        if (quote !== '"' && quote !== "'") return;
        const close = text.indexOf(quote, i + 1);
        if (close < 0) return;
        const raw = text.slice(i + 1, close);
        if (raw.includes('<') || attributes.has(attribute)) return;
        // XML normalizes whitespace characters in attribute values to spaces.
        attributes.set(attribute, decodeHTMLStrict(raw.replace(/[\t\n\r]/g, ' ')));
        i = close + 1;
      }
      const frame = { name, defaultNs: stack.at(-1)?.defaultNs ?? '', declared: [] as string[], template: false };
      for (const [attribute, value] of attributes) {
        if (attribute === 'xmlns') frame.defaultNs = value;
        else if (attribute.startsWith('xmlns:')) {
          const prefix = attribute.slice(6);
          let list = prefixes.get(prefix);
          if (list === undefined) prefixes.set(prefix, (list = []));
          list.push(value);
          frame.declared.push(prefix);
        }
      }
      const colon = name.indexOf(':');
      const prefix = colon < 0 ? undefined : name.slice(0, colon);
      const localName = colon < 0 ? name : name.slice(colon + 1);
      const namespace = prefix === undefined ? frame.defaultNs : prefixes.get(prefix)?.at(-1);
      if (namespace === undefined) return; // undeclared prefix: a namespace error
      const xhtml = namespace === XHTML_NS;
      frame.template = xhtml && localName === 'template';
      if (xhtml && templateDepth === 0) {
        if (localName === 'base' && baseHref === undefined && attributes.has('href')) baseHref = attributes.get('href');
        if (localName === 'meta' && isRefreshState(attributes.get('http-equiv'))) {
          const refresh = parseRefreshContent(attributes.get('content') ?? '');
          if (refresh) yield baseHref === undefined ? refresh : { ...refresh, baseHref };
        }
      }
      if (selfClosing) {
        for (const declared of frame.declared) prefixes.get(declared)!.pop();
        if (stack.length === 0) rootClosed = true;
      } else {
        stack.push(frame);
        if (frame.template) templateDepth++;
      }
      end = i + 1;
    }
    if (end < 0) return;
    position = end;
  }
}

/** How a body is written: HTML syntax (`text/html`, sniffed) or XML syntax (`application/xhtml+xml` and other XML types). */
export type DocumentSyntax = 'html' | 'xml';

/**
 * Every meta refresh in the document whose content is valid, in document order, each with the
 * `<base href>` in force where it stands. The HTML standard (and Firefox) act on the first one
 * whose URL also parses, and ignore the rest; Chromium and WebKit schedule each in turn and keep
 * the one with the shortest delay (the later one on a tie). An HTML document is parsed whole
 * before the first is yielded. Throws RefreshScanTooComplex (see the file header).
 */
export function* metaRefreshes(text: string, syntax: DocumentSyntax = 'html'): Generator<MetaRefresh, void, undefined> {
  if (syntax === 'xml') yield* xmlMetaRefreshes(text);
  else yield* htmlMetaRefreshes(text);
}

/**
 * The first meta refresh with valid content in the document, or null: the one the HTML standard
 * acts on when its URL parses (see metaRefreshes for what Chromium does instead).
 */
export function findMetaRefresh(text: string, syntax: DocumentSyntax = 'html'): MetaRefresh | null {
  for (const refresh of metaRefreshes(text, syntax)) return refresh;
  return null;
}
