import { isScanError, ScanError } from '../../errors.js';

/**
 * Maps what undici, node:net and node:dns throw to our typed errors. The original error code is
 * kept in `detail.cause` so an operator can tell ECONNREFUSED from ECONNRESET.
 */

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_ABORTED', // we abort only when a deadline passes
  'ETIMEDOUT',
  'ABORT_ERR',
]);
/**
 * Certificate verification failures (OpenSSL's verify codes, Node's host check): the server was
 * reached and will present the same certificate on a retry.
 */
const CERTIFICATE_CODE = /^(?:ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(?:GET_ISSUER_CERT(?:_LOCALLY)?|VERIFY_LEAF_SIGNATURE|DECRYPT_CERT_SIGNATURE|DECODE_ISSUER_PUBLIC_KEY)|CERT_\w+|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|HOSTNAME_MISMATCH)$/;
/**
 * TLS alerts from a server that answered, refusing what this client offers where browsers offer
 * more: `no_application_protocol`, from a server that speaks only HTTP/2 (the guarded agent offers
 * http/1.1 alone in ALPN, every browser h2 too; see createGuardedAgent). Not an unreachable server.
 */
const UNSPOKEN_PROTOCOL_CODES = new Set(['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL']);
/**
 * The code of the error skipInterimResponses (connector.ts) destroys a connection with when its
 * interim (1xx) responses together pass the header cap or their count cap: like a header block
 * over the cap, more header bytes than any browser takes (`headers_too_large`).
 */
export const INTERIM_RESPONSES_OVERFLOW = 'ABUSE_SCAN_INTERIM_RESPONSES_OVERFLOW';
/**
 * The code of the error skipInterimResponses destroys a connection with when more line ends than
 * Chromium skips (4) come before a status line: no HTTP/1.x response to Chromium, which undici's
 * parser would read (`bad_response`, as a response undici refuses where browsers read one).
 */
export const STATUS_LINE_JUNK = 'ABUSE_SCAN_STATUS_LINE_JUNK';
const HEADERS_OVERFLOW_CODES = new Set(['UND_ERR_HEADERS_OVERFLOW', INTERIM_RESPONSES_OVERFLOW]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL']);

/** A c-ares query's failure (resolver-lookup.ts), whatever its code: ECONNREFUSED there is the DNS server's. */
function isQueryError(error: unknown): boolean {
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  return typeof syscall === 'string' && syscall.startsWith('query');
}

/**
 * undici's HTTP/1.1 parser refused the response (its `code`, HPE_*, is often unset). Not when the
 * connection ended mid-response (`Invalid EOF state`): that is a network failure, as a reset is.
 */
function isParserError(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'HTTPParserError') return false;
  return (error as NodeJS.ErrnoException).code !== 'HPE_INVALID_EOF_STATE' && !error.message.includes('Invalid EOF state');
}

/**
 * undici's HTTP/1.1 client ended the connection on a response it would not take: an interim 100
 * it did not ask for (`bad response`; skipInterimResponses drops those a connection starts with)
 * or a 101 switching to a protocol no request asked for (`bad upgrade`), where Chromium reads on
 * to the response after them.
 */
const REFUSED_RESPONSE_MESSAGES = new Set(['bad response', 'bad upgrade']);
function isRefusedResponse(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'UND_ERR_SOCKET' && REFUSED_RESPONSE_MESSAGES.has(error.message);
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (typeof code === 'string') return code;
  if (name === 'TimeoutError' || name === 'AbortError') return 'ABORT_ERR';
  return undefined;
}

/** The error itself, its causes and (for AggregateError from happy-eyeballs) its members. */
function* errorChain(error: unknown, depth = 0): Generator<unknown> {
  if (depth > 5 || error === undefined || error === null) return;
  yield error;
  if (error instanceof AggregateError) for (const inner of error.errors) yield* errorChain(inner, depth + 1);
  if (error instanceof Error && error.cause !== undefined) yield* errorChain(error.cause, depth + 1);
}

export function toNetworkError(error: unknown, detail: Record<string, unknown> = {}): ScanError {
  const chain = [...errorChain(error)];
  const scanError = chain.find(isScanError);
  if (scanError) return scanError;
  const codes = chain.map(codeOf).filter((c): c is string => c !== undefined);
  const message = error instanceof Error ? error.message : String(error);
  const withCause = { ...detail, cause: codes[0] ?? message };
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return new ScanError('fetch_timeout', undefined, withCause, { cause: error });
  // The server answered, with more header bytes than any browser takes (MAX_RESPONSE_HEADER_BYTES),
  // in one response or in the interim responses before it.
  if (codes.some((c) => HEADERS_OVERFLOW_CODES.has(c))) return new ScanError('headers_too_large', undefined, withCause, { cause: error });
  // The server answered, in bytes undici's strict parser refuses where browsers are lenient (a bare
  // LF, Content-Length beside chunked, a folded header): where it leads is unknown, so not an
  // unreachable server's harmless `fetch_failed`, which a redirector could use to pass as one.
  // Likewise an interim response undici refuses (isRefusedResponse), and a TLS server that speaks
  // only a protocol this client does not offer (UNSPOKEN_PROTOCOL_CODES).
  const refused = chain.find(isRefusedResponse) as Error | undefined;
  if (refused) return new ScanError('bad_response', undefined, { ...detail, cause: `UND_ERR_SOCKET: ${refused.message}` }, { cause: error });
  // And line ends before a status line that Chromium does not skip (STATUS_LINE_JUNK).
  if (chain.some(isParserError) || codes.some((c) => UNSPOKEN_PROTOCOL_CODES.has(c) || c === STATUS_LINE_JUNK)) return new ScanError('bad_response', undefined, withCause, { cause: error });
  if (codes.some((c) => DNS_CODES.has(c)) || chain.some(isQueryError)) return new ScanError('dns_failed', undefined, withCause, { cause: error });
  if (codes.some((c) => CERTIFICATE_CODE.test(c))) return new ScanError('tls_failed', undefined, withCause, { cause: error });
  return new ScanError('fetch_failed', undefined, withCause, { cause: error });
}
