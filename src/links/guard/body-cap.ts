import { Transform, type Readable } from 'node:stream';
import zlib from 'node:zlib';

/**
 * Reads at most a fixed number of DECODED bytes of a response body, decompressing it ourselves.
 * undici's size limits count bytes on the wire, so a 50 KB gzip or brotli "bomb" could still
 * expand to gigabytes in a decoder that nobody bounds. Here the decoder is pulled chunk by chunk
 * (stream backpressure) and abandoned as soon as the cap is reached; the raw stream is capped as
 * well, so a body that decodes to nothing cannot be streamed forever either. The body is always
 * destroyed at the end: the caller never reads the rest.
 */

export interface BodyPrefix {
  /** The decoded bytes read, at most `maxDecodedBytes`. */
  bytes: Buffer;
  /** Bytes read from the wire (compressed when the body is encoded). */
  rawBytes: number;
  /** True when reading stopped at a cap rather than at the end of the body. */
  truncated: boolean;
  /** Set when the body could not be decoded (corrupt data, unknown Content-Encoding). */
  decodeError?: string;
  /**
   * What the connection threw while the body was read (reset, timeout), as it was thrown: the
   * body is incomplete, but nothing is wrong with its data. Type it with toNetworkError.
   */
  networkError?: unknown;
}

export interface BodyCapOptions {
  /** Value of the Content-Encoding header, if any. */
  contentEncoding?: string | undefined;
  /** Decoded bytes to keep. */
  maxDecodedBytes: number;
  /** Raw bytes to read at most; default 4 x maxDecodedBytes. */
  maxRawBytes?: number;
}

/** A decoder for the encoding, `null` for identity, `undefined` when unsupported. */
export function createDecoder(contentEncoding: string | undefined): Transform | null | undefined {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  // Flush partial data so a truncated stream still yields what it has.
  const zlibOptions = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (encoding) {
    case '':
    case 'identity':
      return null;
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip(zlibOptions);
    case 'deflate':
      return zlib.createInflate(zlibOptions);
    case 'br':
      return zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
    default:
      return undefined;
  }
}

/**
 * Destroys a body without reading it. undici reports the destruction of an unfinished body as an
 * 'error' (RequestAbortedError); a listener keeps that expected event from becoming unhandled.
 */
export function discardBody(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

export async function readBodyPrefix(body: Readable, options: BodyCapOptions): Promise<BodyPrefix> {
  const maxDecoded = options.maxDecodedBytes;
  const maxRaw = options.maxRawBytes ?? maxDecoded * 4;
  const decoder = createDecoder(options.contentEncoding);
  if (decoder === undefined) {
    discardBody(body);
    return { bytes: Buffer.alloc(0), rawBytes: 0, truncated: true, decodeError: `unsupported Content-Encoding ${options.contentEncoding}` };
  }

  const chunks: Buffer[] = [];
  let decoded = 0;
  let rawBytes = 0;
  let truncated = false;
  let decodeError: string | undefined;
  // Set before the error reaches the decoder, so the catch below can tell the two apart.
  let networkError: unknown;
  body.on('error', (error) => (networkError ??= error));
  let source: Readable = body;
  let counter: Transform | undefined;
  if (decoder) {
    // Counts wire bytes on their way into the decoder; at the raw cap it ends the decoder's
    // input after passing the current chunk on, so the loop below drains what was decoded.
    const rawCounter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        rawBytes += chunk.length;
        callback(null, chunk);
        if (rawBytes >= maxRaw && !truncated) {
          truncated = true;
          body.unpipe(rawCounter);
          rawCounter.end();
        }
      },
    });
    // A connection that fails mid-body ends the decoder's input instead of destroying it: the
    // decoder works off the event loop, and destroying it would drop what it has not emitted yet
    // (a meta refresh followed by a reset would then be missed or seen by luck of timing).
    body.on('error', () => {
      truncated = true;
      body.unpipe(rawCounter);
      if (!rawCounter.writableEnded) rawCounter.end();
    });
    rawCounter.on('error', (error) => decoder.destroy(error));
    body.pipe(rawCounter).pipe(decoder);
    counter = rawCounter;
    source = decoder;
  }

  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (!decoder) rawBytes += chunk.length;
      const room = maxDecoded - decoded;
      if (chunk.length >= room) {
        chunks.push(chunk.subarray(0, room));
        decoded += room;
        truncated = true;
        break;
      }
      chunks.push(chunk);
      decoded += chunk.length;
      if (!decoder && rawBytes >= maxRaw) {
        truncated = true;
        break;
      }
    }
  } catch (error) {
    // Keep what was decoded and report why it stopped: a network failure (the body stream failed,
    // and only a decoder can fail otherwise), or data the decoder refused.
    if (networkError !== undefined || !decoder) networkError ??= error;
    else decodeError = error instanceof Error ? error.message : String(error);
    truncated = true;
  } finally {
    discardBody(body);
    counter?.destroy();
    decoder?.destroy();
  }
  const result: BodyPrefix = { bytes: Buffer.concat(chunks), rawBytes, truncated };
  if (decodeError !== undefined) result.decodeError = decodeError;
  else if (networkError !== undefined) result.networkError = networkError;
  return result;
}
