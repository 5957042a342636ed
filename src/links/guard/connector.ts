import type { LookupFunction, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { ScanError } from '../../errors.js';
import { deadlineSignal } from '../../runtime/deadline-signal.js';
import { parseIpLiteral } from '../ip-literal.js';
import type { AddressPolicy } from './address-policy.js';
import { hostKey, type HostLimiter, type HostSlot } from './host-limiter.js';
import { INTERIM_RESPONSES_OVERFLOW, STATUS_LINE_JUNK } from './network-errors.js';
import { createResolverLookup } from './resolver-lookup.js';

/**
 * The connection-level address guard. Every socket the unfurler opens goes through it, for every
 * hop, so a hostname that resolves to a private address (or re-resolves to one: DNS rebinding)
 * is refused whatever URL led there. Three checks, all against the same policy:
 * 1. a literal-IP hostname is refused before any connection is attempted;
 * 2. DNS answers are filtered inside the `lookup` the socket itself uses, so the socket can only
 *    connect to an allowed address and no packet (not even a TLS ClientHello) reaches a refused one;
 * 3. after connecting, `socket.remoteAddress` (the peer actually reached) is checked before undici
 *    gets the socket, so no HTTP byte is written to a refused peer even if 1-2 were bypassed.
 */

export interface GuardedConnectorOptions {
  policy: AddressPolicy;
  /** DNS lookup used by sockets; default c-ares (see resolver-lookup.ts). Tests inject a fake resolver here. */
  lookup?: LookupFunction;
  /** Servers the default lookup asks (`'127.0.0.1:5353'`); default the system's. Ignored with `lookup`. */
  dnsServers?: readonly string[];
  /** Connect timeout in ms (undici's connector default is 10 s); a function is read per connection. */
  connectTimeoutMs?: number | (() => number);
  /**
   * Aborting it ends every connection being set up (and its name lookups) at once; the agent of
   * createGuardedAgent is destroyed with the reason, failing its requests.
   */
  signal?: AbortSignal;
  /** Called with the peer address of every accepted connection, keyed by `protocol//hostname:port`. */
  onConnected?: (originKey: string, address: string) => void;
  /** Check 2 above. Default true; false exists only to test check 3 on its own. */
  checkResolvedAddresses?: boolean;
  /**
   * Caps connections open at once to one address (an IPv4 address, an IPv6 /64: hostKey), whatever
   * names led there: a thousand domains pointed at one victim must not buy a thousand times the
   * per-host budget. A connection takes its slots before any packet is sent (after the guard
   * filtered the name's addresses: one slot per address unit it may try) and frees them when it
   * closes; waiting spends the connect timeout. A literal-address URL takes its slot before its
   * socket is made (it is never looked up). Unset: no cap.
   */
  addressLimiter?: HostLimiter;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };
/** undici's connector's own default, for a connection given no timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Response header bytes accepted, as Chromium accepts (256 KiB). undici's default is Node's 16 KiB:
 * a redirect padded with one 20 KB header failed as `fetch_failed`, which the default policy
 * allows, while browsers followed it.
 */
export const MAX_RESPONSE_HEADER_BYTES = 256 * 1024;

/** The port a URL connects to: its own, or its scheme's default (80, 443). */
export function effectivePort(url: Pick<URL, 'protocol' | 'port'>): number {
  return url.port === '' ? DEFAULT_PORTS[url.protocol]! : Number(url.port);
}

/** `http://example.com:80`, `https://[::1]:8443`: how connections and hops are matched. */
export function originKey(protocol: string, hostname: string, port: string | number): string {
  const portNumber = port === '' || port === undefined ? DEFAULT_PORTS[protocol] : Number(port);
  // undici hands the connector `::1`, a URL's hostname is `[::1]`: one spelling for both.
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const host = bare.includes(':') ? `[${bare}]` : bare;
  return `${protocol}//${host}:${portNumber}`;
}

function blocked(host: string, address: string, range: string): ScanError {
  return new ScanError('blocked_address', `refused to connect to ${address} (${range})`, { host, address, range });
}

type LookupResult = { address: string; family: number };
type LookupCallback = Parameters<LookupFunction>[2];

/** A lookup's answers as a list, whether it gave one address or all of them. */
function answersOf(address: string | LookupResult[], family: number | undefined): LookupResult[] {
  return Array.isArray(address) ? address : [{ address, family: family ?? 0 }];
}

/** Answers `callback` in the shape it asked for: the list (`all`), or its first address. */
function answer(callback: LookupCallback, all: boolean, answers: readonly LookupResult[]): void {
  if (all) return (callback as (error: null, addresses: readonly LookupResult[]) => void)(null, answers);
  callback(null, answers[0]!.address, answers[0]!.family);
}

/** Wraps a lookup so that only addresses the policy allows reach the socket. */
export function guardLookup(base: LookupFunction, policy: AddressPolicy, port: number): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const answers = answersOf(address, family);
      const allowed = answers.filter((a) => policy.check(a.address, port).allowed);
      if (allowed.length === 0) {
        const first = answers[0];
        const range = first ? policy.check(first.address, port).verdict.range : 'invalid';
        return callback(blocked(hostname, answers.map((a) => a.address).join(','), range), '', 0);
      }
      answer(callback, Array.isArray(address), allowed);
    });
  };
}

/**
 * Takes `limiter` slots for the address units of `answers` (in a fixed order, so two connections
 * never wait on each other's slots) into `held`. Rejects with `signal.reason` when the attempt ends first.
 */
async function holdAddressSlots(limiter: HostLimiter, answers: readonly LookupResult[], held: HostSlot[], signal: AbortSignal): Promise<void> {
  const units = [...new Set(answers.map((answer) => hostKey(answer.address)))].sort();
  for (const unit of units) held.push(await limiter.acquire(unit, signal));
}

/** A lookup that hands on its answers only once `holdAddressSlots` holds their slots. */
function limitedLookup(base: LookupFunction, limiter: HostLimiter, held: HostSlot[], signal: AbortSignal): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const answers = answersOf(address, family);
      holdAddressSlots(limiter, answers, held, signal).then(
        () => answer(callback, Array.isArray(address), answers),
        (reason: unknown) => callback(reason instanceof Error ? reason : new Error(String(reason)), '', 0),
      );
    });
  };
}

/** `HTTP/1.x 1xx` and the byte after it (a space or a line end): an interim response's status line. */
const INTERIM_STATUS_LINE = /^HTTP\/1\.[01] 1\d\d[ \t\r\n]/i;
const INTERIM_STATUS_LINE_BYTES = 13;
/**
 * Interim responses skipped on one connection. Chromium skips any number (only its timeouts end
 * them), but a server has use for a `100 Continue` and a few `103 Early Hints` at most (RFC 8297
 * allows several 103s); each costs a parse here, and a flood of them is an attack, not a page.
 * 16 is ample for a real server and strict for a flood, whose bytes are capped as well.
 */
export const MAX_INTERIM_RESPONSES = 16;
/**
 * Line ends (CR or LF bytes) skipped in a row before a status line, at the connection's start and
 * after each interim response: Chromium looks for the status line within its first 4 bytes
 * (HttpUtil::LocateStartOfStatusLine's junk allowance) and reads no HTTP/1.x response after more
 * (ERR_INVALID_HTTP_RESPONSE, or on a default port the bytes shown as an HTTP/0.9 body: no
 * redirect followed). undici's parser skips any number of them, then skips 103s itself.
 */
export const MAX_STATUS_LINE_JUNK = 4;

/**
 * Where the header block of `bytes` ends (just past its blank line), as Chromium's
 * HttpUtil::LocateEndOfHeaders finds it (`\n\n` or `\n\r\n`); -1 when not there yet.
 */
function endOfHeaders(bytes: Buffer): number {
  for (let i = bytes.indexOf(0x0a); i !== -1 && i + 1 < bytes.length; i = bytes.indexOf(0x0a, i + 1)) {
    if (bytes[i + 1] === 0x0a) return i + 2;
    if (bytes[i + 1] === 0x0d && i + 2 < bytes.length && bytes[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/**
 * Removes the interim (1xx) responses a server sends before its response, as Chromium skips any
 * (HttpNetworkTransaction::DoReadHeadersComplete) but a WebSocket handshake's 101. undici destroys
 * the connection on a 100 it did not ask for (`bad response`) and on a 101 to a request that asked
 * for no upgrade (`bad upgrade`): a redirect sent after a `100 Continue` was never followed.
 * It reads the HTTP/1.1 socket's first bytes only (requests are sent with `reset`: one response
 * a connection), which undici reads with `socket.read()`. An interim block alone over
 * MAX_RESPONSE_HEADER_BYTES goes to undici as it came, for its header cap (`headers_too_large`).
 * The blocks dropped are capped per connection, not per block (each costs a copy and a scan, and
 * undici skips a 103 itself and refreshes its headers timeout on each, so a stream of them read
 * gigabytes in a hop timeout): over MAX_RESPONSE_HEADER_BYTES in all, or over
 * MAX_INTERIM_RESPONSES of them, the socket is destroyed with INTERIM_RESPONSES_OVERFLOW, which is
 * `headers_too_large` too (network-errors.ts). Bytes dropped do not refresh undici's headers timeout.
 * Line ends before a status line (at the start, between blocks) are dropped too, and counted with
 * the blocks' bytes, as undici's parser would skip them and then read the 103s after them itself:
 * up to MAX_STATUS_LINE_JUNK in a row, as Chromium; more, and the socket is destroyed with
 * STATUS_LINE_JUNK (`bad_response`, network-errors.ts), whatever follows: Chromium reads no
 * HTTP/1.x response there, and handing them to undici would let interim responses after them past
 * the caps.
 */
export function skipInterimResponses(socket: Socket): void {
  const read = socket.read.bind(socket);
  let held = Buffer.alloc(0);
  let done = false;
  // The interim responses dropped on this connection, and their bytes.
  let dropped = 0;
  let droppedBytes = 0;
  // Line ends dropped in a row before the status line looked for now.
  let junk = 0;
  const release = (): Buffer | null => {
    done = true;
    const rest = held;
    held = Buffer.alloc(0);
    return rest.length > 0 ? rest : null;
  };
  const refuse = (message: string, code: string): null => {
    release();
    socket.destroy(Object.assign(new Error(message), { code }));
    return null;
  };
  const overflow = (why: string): null => refuse(`interim (1xx) responses over the cap: ${why}`, INTERIM_RESPONSES_OVERFLOW);
  socket.read = ((size?: number): unknown => {
    if (done || size === 0) return read(size);
    if (size !== undefined) {
      // Not how undici reads: give back what is held, in order, and stop looking.
      const rest = release();
      if (rest) socket.unshift(rest);
      return read(size);
    }
    for (;;) {
      const chunk = read() as Buffer | string | null;
      if (chunk === null) return null;
      held = Buffer.concat([held, typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk]);
      for (;;) {
        // Line ends before the status line: dropped, a few at most (MAX_STATUS_LINE_JUNK).
        let lineEnds = 0;
        while (lineEnds < held.length && (held[lineEnds] === 0x0d || held[lineEnds] === 0x0a)) lineEnds += 1;
        if (lineEnds > 0) {
          junk += lineEnds;
          if (junk > MAX_STATUS_LINE_JUNK) return refuse(`more than ${MAX_STATUS_LINE_JUNK} line ends before a status line`, STATUS_LINE_JUNK);
          droppedBytes += lineEnds;
          held = held.subarray(lineEnds);
        }
        if (held.length === 0) break;
        if (held.length < INTERIM_STATUS_LINE_BYTES) {
          // Too short to tell: wait while it may still begin an interim status line.
          // (Each byte of the status line is checked on its own: the rest of a valid one completes it.)
          const start = held.toString('latin1');
          if (INTERIM_STATUS_LINE.test(start + 'HTTP/1.1 100 '.slice(start.length))) break;
          return release();
        }
        if (!INTERIM_STATUS_LINE.test(held.subarray(0, INTERIM_STATUS_LINE_BYTES).toString('latin1'))) return release();
        if (dropped >= MAX_INTERIM_RESPONSES) return overflow(`more than ${MAX_INTERIM_RESPONSES} responses`);
        const end = endOfHeaders(held);
        const size = end === -1 ? held.length : end;
        // One block over the cap, whether its end came yet or not: undici reads it, and refuses it.
        if (size > MAX_RESPONSE_HEADER_BYTES) return release();
        // The blocks together over the cap (this one counted as far as it came).
        if (droppedBytes + size > MAX_RESPONSE_HEADER_BYTES) return overflow(`more than ${MAX_RESPONSE_HEADER_BYTES} bytes`);
        if (end === -1) break;
        dropped += 1;
        droppedBytes += end;
        junk = 0;
        held = held.subarray(end);
      }
    }
  }) as typeof socket.read;
}

export function createGuardedConnector(options: GuardedConnectorOptions): buildConnector.connector {
  const { policy, signal } = options;
  const resolver = options.lookup ? undefined : createResolverLookup(options.dnsServers ? { servers: options.dnsServers } : {});
  const baseLookup = options.lookup ?? resolver!.lookup;
  // Connections being set up: undici would wait out their connect timeout, an abort should not.
  const connecting = new Set<Socket>();
  signal?.addEventListener(
    'abort',
    () => {
      resolver?.cancel();
      for (const socket of connecting) socket.destroy(signal.reason as Error);
    },
    { once: true },
  );
  return (connectOptions, callback) => {
    if (signal?.aborted) return callback(signal.reason as Error, null);
    const port = Number(connectOptions.port) || DEFAULT_PORTS[connectOptions.protocol] || 0;
    const hostname = connectOptions.hostname;
    const literal = parseIpLiteral(hostname);
    if (literal) {
      const decision = policy.check(literal.address, port);
      if (!decision.allowed) return callback(blocked(hostname, literal.address, decision.verdict.range), null);
    }
    const timeout = typeof options.connectTimeoutMs === 'function' ? options.connectTimeoutMs() : options.connectTimeoutMs;
    const { addressLimiter } = options;
    // This connection's address slots, freed when its socket closes; the wait for them ends with it.
    const held: HostSlot[] = [];
    const attemptOver = new AbortController();
    let lookup = options.checkResolvedAddresses === false ? baseLookup : guardLookup(baseLookup, policy, port);
    if (addressLimiter) lookup = limitedLookup(lookup, addressLimiter, held, attemptOver.signal);
    // Built per connection so that the lookup knows the port (overrides may be port-scoped).
    const connector = buildConnector({ ...(timeout === undefined ? {} : { timeout }), lookup });
    const release = () => {
      for (const slot of held.splice(0)) slot.release();
    };
    // A literal address is never looked up: its slot is taken before the socket is made, the wait
    // bounded as a lookup's is, by the connect timeout (and ended by the agent's abort).
    if (addressLimiter && literal) {
      const waiting = deadlineSignal(signal, timeout ?? DEFAULT_CONNECT_TIMEOUT_MS);
      holdAddressSlots(addressLimiter, [{ address: literal.address, family: literal.version }], held, waiting.signal).then(
        () => {
          waiting.dispose();
          if (signal?.aborted) {
            release();
            return callback(signal.reason as Error, null);
          }
          connect();
        },
        (reason: unknown) => {
          waiting.dispose();
          release();
          callback(reason instanceof Error ? reason : new Error(String(reason)), null);
        },
      );
      return;
    }
    connect();

    function connect(): void {
      // undici's connector returns the socket it opens (its type says void).
      const opening = (connector as unknown as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket)(connectOptions, (error, socket) => {
        connecting.delete(opening);
        if (error) return callback(error, null);
        const peer = (socket as Socket).remoteAddress;
        const decision = peer === undefined ? null : policy.check(peer, port);
        if (peer === undefined || !decision?.allowed) {
          socket!.destroy();
          return callback(blocked(hostname, peer ?? 'unknown', decision?.verdict.range ?? 'invalid'), null);
        }
        options.onConnected?.(originKey(connectOptions.protocol, hostname, connectOptions.port), decision.verdict.address);
        // HTTP/1.1 only: an h2 socket (were allowH2 on) carries frames, not text.
        if ((socket as Partial<TLSSocket>).alpnProtocol !== 'h2') skipInterimResponses(socket as Socket);
        callback(null, socket!);
      });
      // Set up or in use, the connection holds its address slots until its socket closes.
      opening.once('close', () => {
        attemptOver.abort(new Error('the connection closed'));
        release();
      });
      connecting.add(opening);
    }
  };
}

/**
 * An undici Agent whose every connection passes the guard. It speaks HTTP/1.1 only (ALPN offers
 * http/1.1 alone): undici's HTTP/2 client (`allowH2`) takes none of the limits set here (Node's
 * http2 defaults apply: over 128 header fields reset the stream, a 200 KB header stalls it to the
 * headers timeout, where Chromium takes 256 KiB), and `reset` does not close its sessions, which
 * would hold their per-address slots between hops. A server speaking only h2 refuses the
 * handshake (`no_application_protocol`): `bad_response`, see network-errors.ts.
 */
export function createGuardedAgent(options: GuardedConnectorOptions & { hopTimeoutMs?: number }): Agent {
  const agent = new Agent({
    connect: createGuardedConnector(options),
    headersTimeout: options.hopTimeoutMs ?? 10_000,
    bodyTimeout: options.hopTimeoutMs ?? 10_000,
    keepAliveTimeout: 1_000,
    connections: 4,
    maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
  });
  // A request aborted while its connection is set up would otherwise settle only at the connect timeout.
  const { signal } = options;
  signal?.addEventListener('abort', () => void agent.destroy(signal.reason as Error).catch(() => undefined), { once: true });
  return agent;
}
