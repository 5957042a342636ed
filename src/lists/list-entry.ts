import { domainToASCII } from 'node:url';
import { isScanError } from '../errors.js';
import { canonicalize, type CanonicalUrl } from '../links/canonicalize.js';
import { hostSuffixes, pathPrefixes } from '../links/expressions.js';
import { registrableDomain } from '../links/registrable-domain.js';

/**
 * List entries and their canonical forms. An entry is looked up by exact string against what the
 * link preparer computes for every URL a link reaches, so each kind is canonicalized the way the
 * matching side is:
 *
 * - `url`: a whole URL in Safe Browsing canonical form (`http://evil.example/login?x=1`). An
 *   http or https entry hits that URL under either scheme (the matcher looks up the other
 *   scheme's twin): Safe Browsing's exact-URL expression has no scheme, and browsers upgrade to
 *   HTTPS. So the two forms are one entry (entryIdentity): it is stored, and named in evidence,
 *   with the scheme it was first added with; adding the other form updates it, and removing
 *   either form removes it (the store looks under both fields: entryFields). Its host must name a
 *   host, as an expression's must (`http://*.evil.example/` is refused: no link has that host).
 * - `expression`: a Safe Browsing host-suffix/path-prefix expression, no scheme
 *   (`evil.example/`, `evil.example/phish/`, `1.2.3.4/`): hits every URL under it. Only what a
 *   Safe Browsing lookup can reach is accepted: a host of at most 5 labels, and a path prefix
 *   (ending in `/`) of at most 3 directories (see expressions.ts); deeper ones would hit only their
 *   own exact host or URL, and are refused naming the longest expression that works.
 * - `domain`: a registrable domain (`evil.example`): hits every URL whose registrable domain it is.
 *
 * A backslash is a path separator, as canonicalization (and browsers) read it: `evil.example\x`
 * is the expression `evil.example/x`, never the domain `evil.example`.
 */
export const ENTRY_KINDS = ['url', 'expression', 'domain'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** Provenance and explanation stored with an entry; shown in a match's evidence. */
export interface EntryInfo {
  label?: string;
  reason?: string;
  addedBy?: string;
  /** ISO time the entry was first added (kept on re-import). */
  addedAt?: string;
}

export interface ListEntry extends EntryInfo {
  kind: EntryKind;
  /** Canonical form: what the matcher looks up. */
  value: string;
}

/** What a list is for: a blocklist raises its action on a match; an allowlist suppresses blocklists. */
export type ListRole = 'block' | 'allow';
/** The decision a blocklist's matches suggest. */
export type ListAction = 'block' | 'review';

export class EntryError extends Error {}

/** A scheme (`https:`, `javascript:`), but not `host:8080/` or `host:8080\\` (a host and port). */
const ANY_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d+(?:[/?\\]|$))/;

/** A path separator: canonicalization reads `\\` as `/`. */
const PATH_SEPARATOR = /[/\\]/;

/** The kind an entry's text reads as: a scheme makes a URL, a `/` (or `\\`) an expression, else a domain. */
export function guessEntryKind(text: string): EntryKind {
  if (ANY_SCHEME.test(text)) return 'url';
  return PATH_SEPARATOR.test(text) ? 'expression' : 'domain';
}

export interface CanonicalEntryOptions {
  /**
   * The text names an entry to remove, which may have been stored before a rule for new entries
   * (an expression deeper than Safe Browsing lookups) refused it: skip those rules.
   */
  toRemove?: boolean;
}

/**
 * The canonical form of an entry of `kind` (guessed from the text when absent). A bare IP address
 * given as a domain becomes the expression `<ip>/` (IPs have no registrable domain). Throws
 * EntryError with a message fit for an import report.
 */
export function canonicalEntry(text: string, kind: EntryKind = guessEntryKind(text.trim()), options: CanonicalEntryOptions = {}): { kind: EntryKind; value: string } {
  const trimmed = text.trim();
  if (trimmed === '') throw new EntryError('empty entry');
  try {
    switch (kind) {
      case 'url':
        return { kind, value: canonicalUrlEntry(trimmed, options) };
      case 'expression':
        return { kind, value: canonicalExpression(trimmed, options) };
      case 'domain':
        return canonicalDomainEntry(trimmed);
    }
  } catch (error) {
    if (error instanceof EntryError) throw error;
    if (isScanError(error)) throw new EntryError(`${error.code}: ${error.message}`);
    throw error;
  }
}

/** Schemes of defanged links in threat feeds: `hxxp`, `hXXps`, `fxp` (`h**p://` is no URL: it reads as a host, refused as such). */
const DEFANGED_SCHEME = /^(hxxps?|fxp)(?=:)/i;

/**
 * A URL entry's canonical form; its host must name one, as an expression's and a domain's must
 * (`http://*.evil.example/` is no wildcard: no link's host is `*.evil.example`, so the entry could
 * never match). Removing skips the check, so that an entry stored before it can still be removed.
 */
function canonicalUrlEntry(text: string, options: CanonicalEntryOptions): string {
  // Threat feeds defang links (`hxxp://`, `hXXps://`); no link has that scheme, so such an entry never matches.
  const defanged = DEFANGED_SCHEME.exec(text);
  if (defanged && !options.toRemove) throw new EntryError(`${defanged[1]}:// is a defanged scheme no link has: write http:// or https://`);
  const url = canonicalize(ANY_SCHEME.test(text) ? text : `http://${text}`);
  if (!url.hostIsIp && !options.toRemove) requireHostName(url.host, text);
  return url.canonical;
}

/** `host/path[?query]` canonicalized through the URL rules; a missing path means `/`. */
function canonicalExpression(text: string, options: CanonicalEntryOptions): string {
  if (ANY_SCHEME.test(text)) throw new EntryError('an expression has no scheme (write evil.example/path/)');
  const url = canonicalize(`http://${text}`);
  if (!url.hostIsIp) requireHostName(url.host, text);
  const value = expressionOf(url.host, url.path, url.query);
  if (!options.toRemove) requireReachable(url, value);
  return value;
}

function expressionOf(host: string, path: string, query: string | undefined): string {
  return `${host}${path}${query === undefined ? '' : `?${query}`}`;
}

/**
 * Refuses an expression that a URL under it would not be looked up by: a URL's expressions (see
 * expressions.ts) use host suffixes of at most 5 labels and path prefixes of at most 3
 * directories, so `a.b.c.d.evil.co.uk/` would hit that host only, not its subdomains, and
 * `evil.example/a/b/c/d/` that exact URL only, not the pages under it. Asked of the lookup
 * helpers themselves (with a subdomain and a page under the entry), so the rule cannot drift from
 * the expressions the matcher looks up. An IP host has no subdomains, a dotless host (`localhost/`)
 * is only ever looked up exactly, and an exact path (no trailing `/`, or a query) is always looked up.
 */
function requireReachable(url: CanonicalUrl, value: string): void {
  const problems: string[] = [];
  let host = url.host;
  let path = url.path;
  if (!url.hostIsIp && host.includes('.')) {
    const suffixes = hostSuffixes(`x.${host}`, false);
    if (!suffixes.includes(host)) {
      problems.push(`a host of more than 5 labels: subdomains of ${url.host} would not match`);
      host = suffixes[1]!;
    }
  }
  if (url.query === undefined && path.endsWith('/')) {
    const prefixes = pathPrefixes(`${path}x`);
    if (!prefixes.includes(path)) {
      problems.push(`a path prefix of more than 3 directories: only the page ${url.path} itself would match, not the pages under it`);
      path = prefixes[prefixes.length - 1]!;
    }
  }
  if (problems.length === 0) return;
  throw new EntryError(
    `${value} is deeper than Safe Browsing lookups reach (${problems.join('; ')}); the longest expression that works is ${expressionOf(host, path, url.query)}`,
  );
}

function canonicalDomainEntry(text: string): { kind: EntryKind; value: string } {
  if (/[/\\?#@]/.test(text)) throw new EntryError('a domain entry is a bare name such as evil.example');
  const url = canonicalize(`http://${text}/`);
  if (url.hostIsIp) return { kind: 'expression', value: `${url.host}/` };
  const name = domainToASCII(url.host);
  requireHostName(name, text);
  const registrable = registrableDomain(name);
  if (registrable === null) throw new EntryError(`${name} is a public suffix or not a domain name`);
  if (registrable !== name) throw new EntryError(`${name} is not a registrable domain (it is under ${registrable}; use the expression ${name}/ for the subdomain)`);
  return { kind: 'domain', value: name };
}

/** What a DNS lookup can find, IDN labels in punycode: anything else in an entry is a typo (a stray quote from a CSV cell). */
const HOST_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

function requireHostName(host: string, text: string): void {
  if (!HOST_NAME.test(host)) throw new EntryError(`${JSON.stringify(text)} does not name a host (letters, digits, '-', '_' and dots, or an IP address)`);
}

/**
 * An entry's canonical value as it can be written back (`blocklist list` prints it so): a
 * backslash in a canonical path or query, decoded from `%5C`, is written `%5C`, since a written
 * backslash is a path separator (`evil.example/a\b` would name `evil.example/a/b`).
 */
export function entryAsWritten(entry: { kind: EntryKind; value: string }): string {
  return entry.kind === 'domain' ? entry.value : entry.value.replaceAll('\\', '%5C');
}

/** Redis hash field of an entry: one kind letter, `:`, the canonical value. */
export function entryField(entry: Pick<ListEntry, 'kind' | 'value'>): string {
  return `${entry.kind[0]}:${entry.value}`;
}

/** What follows the scheme (`://host/path`) in an http or https URL entry's value; undefined for other schemes. */
function httpUrlRest(value: string): string | undefined {
  if (value.startsWith('http://')) return value.slice(4);
  if (value.startsWith('https://')) return value.slice(5);
  return undefined;
}

/**
 * What makes two entries one: the Redis field, except that an http and an https URL entry of the
 * same URL are one entry (`u:` and the URL without its scheme: `u://evil.example/login`), as the
 * matcher hits either with either. An import counts the second form as a duplicate; the store
 * writes both to one field.
 */
export function entryIdentity(entry: Pick<ListEntry, 'kind' | 'value'>): string {
  const rest = entry.kind === 'url' ? httpUrlRest(entry.value) : undefined;
  return rest === undefined ? entryField(entry) : `u:${rest.slice(1)}`;
}

/**
 * The Redis fields an entry of this identity may be stored under, its own first: an http(s) URL
 * entry is stored with the scheme it was first added with (and lists written before the two forms
 * were one entry may hold both), so the other scheme's field comes second.
 */
export function entryFields(entry: Pick<ListEntry, 'kind' | 'value'>): [string] | [string, string] {
  const own = entryField(entry);
  const rest = entry.kind === 'url' ? httpUrlRest(entry.value) : undefined;
  if (rest === undefined) return [own];
  return [own, entryField({ kind: 'url', value: `${entry.value.startsWith('https:') ? 'http' : 'https'}${rest}` })];
}

const KIND_BY_LETTER: Record<string, EntryKind> = { u: 'url', e: 'expression', d: 'domain' };

export function parseEntryField(field: string): { kind: EntryKind; value: string } {
  const kind = KIND_BY_LETTER[field[0]!];
  if (kind === undefined || field[1] !== ':') throw new Error(`not a list entry field: ${field.slice(0, 80)}`);
  return { kind, value: field.slice(2) };
}

/**
 * Stored value of an entry: `<addedAt> <JSON of label, reason, addedBy>`. The time sits apart so a
 * re-import can tell an unchanged entry (same JSON) and keep its first addedAt. The store's scripts
 * write the same JSON (keys in this order, escaped as JSON.stringify does: list-scripts.ts).
 */
export function encodeEntryInfo(info: EntryInfo, addedAt: string): { rest: string; value: string } {
  const rest = JSON.stringify({
    ...(info.label !== undefined && { label: info.label }),
    ...(info.reason !== undefined && { reason: info.reason }),
    ...(info.addedBy !== undefined && { addedBy: info.addedBy }),
  });
  return { rest, value: `${info.addedAt ?? addedAt} ${rest}` };
}

/**
 * What a write gives of an entry's info, as JSON: the fields set on `info` (label, reason,
 * addedBy), `""` to clear one. The store writes them over the stored info and keeps the rest
 * (a re-add or re-import without a label keeps the entry's label).
 */
export function encodeEntryPatch(info: EntryInfo): string {
  return JSON.stringify({
    ...(info.label !== undefined && { label: wellFormed(info.label) }),
    ...(info.reason !== undefined && { reason: wellFormed(info.reason) }),
    ...(info.addedBy !== undefined && { addedBy: wellFormed(info.addedBy) }),
  });
}

/** Lone surrogates as U+FFFD (as UTF-8 stores them): JSON.stringify would write `\ud800`, which Redis's cjson refuses. */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

export function decodeEntryInfo(value: string): EntryInfo {
  const space = value.indexOf(' ');
  if (space < 0) return {};
  const info = JSON.parse(value.slice(space + 1)) as EntryInfo;
  const addedAt = value.slice(0, space);
  return addedAt === '' ? info : { ...info, addedAt };
}

/**
 * A list's role follows its name, in Redis as in ABUSE_SCAN_LISTS_DIR: lists named `allow-*` are
 * allowlists, all others blocklists. A name that says one role must never hold the other: a
 * partner list filed as `allow-partners` that blocked its partners' links was that mistake.
 */
export function listRoleOfName(name: string): ListRole {
  return name.startsWith('allow-') ? 'allow' : 'block';
}

/** A write asked for a role its list's name does not give, or the stored list has the other one. */
export class ListRoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListRoleError';
  }
}
