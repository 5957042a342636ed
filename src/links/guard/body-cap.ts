import { finished, Transform, type Readable } from 'node:stream';
import zlib from 'node:zlib';

/**
 * Reads at most a fixed number of DECODED bytes of a response body, decompressing it ourselves.
 * undici's size limits count bytes on the wire, so a 50 KB gzip or brotli "bomb" could still
 * expand to gigabytes in a decoder that nobody bounds. Here the decoders (one per coding, as
 * stacked codings hide a page as well as one does) are pulled chunk by chunk (stream
 * backpressure) and abandoned as soon as the cap is reached; each decoder's input is capped as
 * well, so a body that decodes to nothing cannot be streamed forever either. The body is always
 * destroyed at the end: the caller never reads the rest.
 *
 * The body itself is never paused, its wire bytes bounded by the raw cap instead: pausing an
 * undici body pauses its HTTP parser, and undici 7 then dies on the server's FIN (an uncatchable
 * assert in Parser.finish, nodejs/undici#5360). So the first decoder may buffer maxRawBytes.
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
  /** The Content-Encoding header: every value counts (a second header is not ignored). */
  contentEncoding?: string | readonly string[] | undefined;
  /** Decoded bytes to keep. */
  maxDecodedBytes: number;
  /** Bytes to read at most into each decoder (the first counts the wire); default 4 x maxDecodedBytes. */
  maxRawBytes?: number;
}

/** Codings undone at most: no real server stacks more, and each one more is another decoder to bound. */
export const MAX_CONTENT_CODINGS = 3;

export type Coding = 'gzip' | 'deflate' | 'br';
const CODINGS: Record<string, Coding> = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate', br: 'br' };

/**
 * The codings of a Content-Encoding header in the order they were applied (`gzip, br`: gzip
 * first), identity dropped; `undefined` when one is not supported or there are too many.
 */
export function contentCodings(contentEncoding: string | readonly string[] | undefined): Coding[] | undefined {
  const names = (typeof contentEncoding === 'string' ? [contentEncoding] : (contentEncoding ?? []))
    .flatMap((value) => value.split(','))
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'identity');
  if (names.length > MAX_CONTENT_CODINGS) return undefined;
  const codings = names.map((name) => CODINGS[name]);
  return codings.every((coding) => coding !== undefined) ? (codings as Coding[]) : undefined;
}

// Flush partial data so a truncated stream still yields what it has.
const ZLIB_OPTIONS = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** A decoder undoing one coding. */
export function createDecoder(coding: Coding): Transform {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip(ZLIB_OPTIONS);
    case 'deflate':
      return new DeflateDecoder();
    case 'br':
      return zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
  }
}

/**
 * `deflate` as browsers take it: zlib-wrapped (RFC 9110), or raw deflate when the first two bytes
 * fail the zlib header check (servers send both, and a page a browser shows must not hide its
 * meta refresh from us). Delegates to the inflater chosen, with its backpressure.
 */
class DeflateDecoder extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined;
  private head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner === undefined) {
      this.head = Buffer.concat([this.head, chunk]);
      if (this.head.length < 2) return callback();
      chunk = this.head;
      this.start(chunk);
    }
    if (this.inner!.write(chunk)) callback();
    else this.inner!.once('drain', () => callback());
  }

  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }

  override _flush(callback: (error?: Error | null) => void): void {
    if (this.inner === undefined) this.start(this.head);
    this.inner!.once('end', () => callback());
    this.inner!.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy();
    callback(error);
  }

  private start(head: Buffer): void {
    const zlibWrapped = head.length >= 2 && (head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0;
    const inner = zlibWrapped ? zlib.createInflate(ZLIB_OPTIONS) : zlib.createInflateRaw(ZLIB_OPTIONS);
    inner.on('data', (data: Buffer) => {
      if (!this.push(data)) inner.pause();
    });
    inner.on('error', (error) => this.destroy(error));
    this.inner = inner;
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
  const codings = contentCodings(options.contentEncoding);
  if (codings === undefined) {
    discardBody(body);
    const value = typeof options.contentEncoding === 'string' ? options.contentEncoding : options.contentEncoding?.join(', ');
    return { bytes: Buffer.alloc(0), rawBytes: 0, truncated: true, decodeError: `unsupported Content-Encoding ${value}` };
  }

  const chunks: Buffer[] = [];
  let decoded = 0;
  let rawBytes = 0;
  let truncated = false;
  let decodeError: string | undefined;
  // Set before the error reaches the decoder, so the catch below can tell the two apart.
  let networkError: unknown;
  /** Keeps decoded bytes up to the cap; false once it is reached. */
  const keep = (chunk: Buffer): boolean => {
    const room = maxDecoded - decoded;
    if (chunk.length >= room) {
      chunks.push(chunk.subarray(0, room));
      decoded += room;
      truncated = true;
      return false;
    }
    chunks.push(chunk);
    decoded += chunk.length;
    return true;
  };

  // The decoders, the last coding applied first; the body feeds the first one (`input`).
  let input: Transform | undefined;
  let source: Readable | undefined;
  // Every stream after the body, in order: decoder, counter, decoder...
  const stages: Transform[] = [];
  for (const coding of [...codings].reverse()) {
    const decoder = createDecoder(coding);
    const from = source;
    if (from === undefined) {
      input = decoder;
    } else {
      let read = 0;
      // Counts bytes on their way into the decoder; at the cap it ends the decoder's input after
      // passing the current chunk on, so the loop below drains what was decoded. Capping every
      // decoder's input bounds the work of stacked codings too.
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          read += chunk.length;
          callback(null, chunk);
          if (read >= maxRaw && !counter.writableEnded) {
            truncated = true;
            from.unpipe(counter);
            counter.end();
          }
        },
      });
      // A decoder's failure ends the decoders after it, so the loop below sees it.
      from.on('error', (error) => counter.destroy(error));
      counter.on('error', (error) => decoder.destroy(error));
      from.pipe(counter).pipe(decoder);
      stages.push(counter);
    }
    stages.push(decoder);
    source = decoder;
  }

  // Ends the decoders' input (or the identity read); `discard` destroys the body too. A connection
  // that fails mid-body ends the input instead of destroying the decoders: they work off the event
  // loop, and destroying them would drop what they have not emitted yet (a meta refresh followed
  // by a reset would then be missed or seen by luck of timing).
  let reading = true;
  let inputEnded!: () => void;
  const inputDone = new Promise<void>((resolve) => (inputEnded = resolve));
  const endInput = (discard: boolean): void => {
    if (!reading) return;
    reading = false;
    // At a cap, before anything waits: no more of the body reaches undici's parser.
    if (discard) discardBody(body);
    if (input !== undefined && !input.destroyed && !input.writableEnded) input.end();
    inputEnded();
  };
  // Flowing, never paused (see above). The raw cap ends the input after the chunk that reaches it.
  const onData = (chunk: Buffer): void => {
    if (!reading) return;
    rawBytes += chunk.length;
    if (input === undefined) {
      if (!keep(chunk)) return endInput(true);
    } else if (input.destroyed) {
      return endInput(true); // the decoder failed: the loop below reports it
    } else {
      input.write(chunk);
    }
    if (rawBytes >= maxRaw) {
      truncated = true;
      endInput(true);
    }
  };
  // finished() also settles for a body already ended or destroyed; errors after endInput are ours.
  finished(body, (error) => {
    if (!reading) return;
    if (error !== undefined && error !== null) {
      networkError ??= error;
      truncated = true;
    }
    endInput(false);
  });
  body.on('data', onData);

  try {
    if (source === undefined) {
      await inputDone;
    } else {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (!keep(chunk)) {
          endInput(true);
          break;
        }
      }
    }
  } catch (error) {
    // Keep what was decoded and report why it stopped: a network failure (the body failed), or
    // data a decoder refused (only a decoder throws here).
    if (networkError === undefined) decodeError = error instanceof Error ? error.message : String(error);
    truncated = true;
  } finally {
    endInput(true);
    discardBody(body);
    for (const stage of stages) stage.destroy();
  }
  const result: BodyPrefix = { bytes: Buffer.concat(chunks), rawBytes, truncated };
  if (decodeError !== undefined) result.decodeError = decodeError;
  else if (networkError !== undefined) result.networkError = networkError;
  return result;
}
