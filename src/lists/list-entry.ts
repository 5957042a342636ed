import { domainToASCII } from 'node:url';
import { isScanError } from '../errors.js';
import { canonicalize } from '../links/canonicalize.js';
import { registrableDomain } from '../links/registrable-domain.js';

/**
 * List entries and their canonical forms. An entry is looked up by exact string against what the
 * link preparer computes for every URL a link reaches, so each kind is canonicalized the way the
 * matching side is:
 *
 * - `url`: a whole URL in Safe Browsing canonical form (`http://evil.example/login?x=1`).
 * - `expression`: a Safe Browsing host-suffix/path-prefix expression, no scheme
 *   (`evil.example/`, `evil.example/phish/`, `1.2.3.4/`): hits every URL under it.
 * - `domain`: a registrable domain (`evil.example`): hits every URL whose registrable domain it is.
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

/** A scheme (`https:`, `javascript:`), but not `host:8080/` (a host and port). */
const ANY_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d+(?:[/?]|$))/;

/** The kind an entry's text reads as: a scheme makes a URL, a `/` an expression, else a domain. */
export function guessEntryKind(text: string): EntryKind {
  if (ANY_SCHEME.test(text)) return 'url';
  return text.includes('/') ? 'expression' : 'domain';
}

/**
 * The canonical form of an entry of `kind` (guessed from the text when absent). A bare IP address
 * given as a domain becomes the expression `<ip>/` (IPs have no registrable domain). Throws
 * EntryError with a message fit for an import report.
 */
export function canonicalEntry(text: string, kind: EntryKind = guessEntryKind(text.trim())): { kind: EntryKind; value: string } {
  const trimmed = text.trim();
  if (trimmed === '') throw new EntryError('empty entry');
  try {
    switch (kind) {
      case 'url':
        return { kind, value: canonicalize(ANY_SCHEME.test(trimmed) ? trimmed : `http://${trimmed}`).canonical };
      case 'expression':
        return { kind, value: canonicalExpression(trimmed) };
      case 'domain':
        return canonicalDomainEntry(trimmed);
    }
  } catch (error) {
    if (error instanceof EntryError) throw error;
    if (isScanError(error)) throw new EntryError(`${error.code}: ${error.message}`);
    throw error;
  }
}

/** `host/path[?query]` canonicalized through the URL rules; a missing path means `/`. */
function canonicalExpression(text: string): string {
  if (ANY_SCHEME.test(text)) throw new EntryError('an expression has no scheme (write evil.example/path/)');
  const url = canonicalize(`http://${text}`);
  if (!url.hostIsIp) requireHostName(url.host, text);
  return `${url.host}${url.path}${url.query === undefined ? '' : `?${url.query}`}`;
}

function canonicalDomainEntry(text: string): { kind: EntryKind; value: string } {
  if (/[/?#@]/.test(text)) throw new EntryError('a domain entry is a bare name such as evil.example');
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

/** Redis hash field of an entry: one kind letter, `:`, the canonical value. */
export function entryField(entry: Pick<ListEntry, 'kind' | 'value'>): string {
  return `${entry.kind[0]}:${entry.value}`;
}

const KIND_BY_LETTER: Record<string, EntryKind> = { u: 'url', e: 'expression', d: 'domain' };

export function parseEntryField(field: string): { kind: EntryKind; value: string } {
  const kind = KIND_BY_LETTER[field[0]!];
  if (kind === undefined || field[1] !== ':') throw new Error(`not a list entry field: ${field.slice(0, 80)}`);
  return { kind, value: field.slice(2) };
}

/**
 * Stored value of an entry: `<addedAt> <JSON of label, reason, addedBy>`. The time sits apart so a
 * re-import can tell an unchanged entry (same JSON) and keep its first addedAt.
 */
export function encodeEntryInfo(info: EntryInfo, addedAt: string): { rest: string; value: string } {
  const rest = JSON.stringify({
    ...(info.label !== undefined && { label: info.label }),
    ...(info.reason !== undefined && { reason: info.reason }),
    ...(info.addedBy !== undefined && { addedBy: info.addedBy }),
  });
  return { rest, value: `${info.addedAt ?? addedAt} ${rest}` };
}

export function decodeEntryInfo(value: string): EntryInfo {
  const space = value.indexOf(' ');
  if (space < 0) return {};
  const info = JSON.parse(value.slice(space + 1)) as EntryInfo;
  const addedAt = value.slice(0, space);
  return addedAt === '' ? info : { ...info, addedAt };
}
