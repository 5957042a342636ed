/**
 * Every error code the fleet can put in a verdict, in one place.
 *
 * `permanent` errors come from the input itself: retrying cannot help, so the job gets an error
 * verdict at once. Transient errors (network, Redis) are retried with backoff by the queue, and
 * only become an error verdict when the retries run out.
 */
export const ERROR_CODES = {
  // Jobs and items
  invalid_job: { permanent: true, message: 'the scan job does not match the job schema' },
  unsupported_schema_version: { permanent: true, message: 'the job was written for an unknown schemaVersion' },
  payload_too_large: { permanent: true, message: 'inline bytes exceed the configured cap' },
  path_outside_root: { permanent: true, message: 'image path is not under the configured image root' },
  path_not_found: { permanent: true, message: 'image path does not exist or is not a regular file' },
  unsupported_item: { permanent: true, message: 'no signal type accepts this item' },
  // Permanent: a retry would meet the same slow servers and run past the deadline again.
  scan_deadline: { permanent: true, message: "the job's scan deadline (ABUSE_SCAN_JOB_TIMEOUT_MS) passed before this item was scanned" },

  // URLs and unfurling
  invalid_url: { permanent: true, message: 'the URL cannot be parsed' },
  url_too_long: { permanent: true, message: 'the URL is longer than the configured limit' },
  unsupported_scheme: { permanent: true, message: 'only http and https URLs are fetched' },
  invalid_host: { permanent: true, message: 'the URL host is not a valid hostname or IP address' },
  blocked_address: { permanent: true, message: 'the address is loopback, private, link-local, otherwise not public, or the worker\'s own' },
  too_many_redirects: { permanent: true, message: 'the redirect chain is longer than the hop limit' },
  redirect_loop: { permanent: true, message: 'the redirect chain visits the same URL twice' },
  fetch_timeout: { permanent: false, message: 'the remote server did not answer in time' },
  fetch_failed: { permanent: false, message: 'the remote server could not be reached' },
  dns_failed: { permanent: false, message: 'the hostname could not be resolved' },
  tls_failed: { permanent: true, message: "the server's TLS certificate was refused (self-signed, expired, not valid for the host, or from an unknown issuer)" },
  body_too_large: { permanent: true, message: 'the response body exceeds the byte cap' },
  headers_too_large: { permanent: true, message: 'the response headers exceed 256 KiB, more than browsers accept' },
  page_too_complex: { permanent: true, message: 'the page is too complex to read for refreshes within the parsing budget (deep nesting, many attributes): where it leads is unknown' },
  bad_response: { permanent: true, message: 'the server answered with bytes that are not an HTTP/1.1 response this fetcher reads (a browser may still read them)' },
  body_undecodable: { permanent: true, message: "a page's body could not be decoded (a Content-Encoding other than gzip, deflate or br, or corrupt data): where it leads is unknown" },
  bad_redirect: { permanent: true, message: 'a redirect response has no usable Location' },
  http_error: { permanent: true, message: 'the server answered with an HTTP client error status' },

  // Images
  image_empty: { permanent: true, message: 'the image has zero bytes' },
  image_too_many_pixels: { permanent: true, message: 'the image dimensions exceed the pixel limit' },
  image_format_refused: { permanent: true, message: 'the image format is refused (vector or scriptable)' },
  image_unsupported_format: { permanent: true, message: 'the bytes are not an image format sharp can decode' },
  image_corrupt: { permanent: true, message: 'the image is truncated or corrupt' },
  image_timeout: { permanent: true, message: 'decoding the image took longer than the limit' },
  // Refused from the header, before any decode: a timeout could not stop such work (jpeg-markers.ts).
  image_too_complex: { permanent: true, message: 'the image is too complex to scan: more passes over it than any encoder writes (a JPEG of more than 100 scans, an animated WebP of more than 10,000 frames), or more pages than are hashed (a TIFF of more than 32 pages)' },

  // Hash sets, lists, models
  invalid_hash: { permanent: true, message: 'the hash is not valid hex of the expected length' },
  hashset_not_found: { permanent: true, message: 'no hash set of that name exists' },
  hashset_unavailable: { permanent: false, message: 'a hash set exists in Redis but this worker holds no copy of it yet (loading, or its load keeps failing)' },
  list_unavailable: { permanent: false, message: 'a list exists in Redis but this worker holds no copy of it yet (loading, or its load keeps failing)' },
  invalid_name: { permanent: true, message: 'the list or hash set name has characters a key cannot hold' },
  hash_low_quality: { permanent: true, message: "the hash is too flat to match: PDQ quality below the hash set floor, or a blank image's blockhash" },
  model_integrity: { permanent: true, message: 'the model file does not match its manifest sha256' },
  model_failed: { permanent: false, message: 'model inference failed' },
  // The same input gives the same output: retrying cannot help.
  model_output_invalid: { permanent: true, message: "the model's output is not a probability per label (NaN or Infinity, out of range, the wrong number of values, or not float32)" },

  // Fleet
  redis_unavailable: { permanent: false, message: 'Redis did not answer' },
  retries_exhausted: { permanent: true, message: 'a transient failure persisted through every retry' },
  job_stalled: { permanent: true, message: 'the job stalled more often than allowed (worker crashes)' },
  verdict_timeout: { permanent: false, message: 'no verdict arrived within the timeout' },
  invalid_verdict: { permanent: true, message: 'the stored verdict is not one this version can read' },
  internal_error: { permanent: false, message: 'an unexpected error occurred' },
} as const satisfies Record<string, { permanent: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The serialisable form that lands in verdicts and in `--json` output. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  /** Which item (index in the job) or stage the error belongs to, when it has one. */
  item?: number;
  /** True when the item was still scanned and this only limited what was seen (an unfurl that failed). */
  partial?: boolean;
  detail?: Record<string, unknown>;
}

export class ScanError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, detail?: Record<string, unknown>, options?: ErrorOptions) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'ScanError';
    this.code = code;
    this.detail = detail;
  }

  get permanent(): boolean {
    return ERROR_CODES[this.code].permanent;
  }

  toInfo(item?: number): ErrorInfo {
    const info: ErrorInfo = { code: this.code, message: this.message };
    if (item !== undefined) info.item = item;
    if (this.detail !== undefined) info.detail = this.detail;
    return info;
  }
}

export function isScanError(error: unknown): error is ScanError {
  return error instanceof ScanError;
}

/** Any thrown value as a ScanError; unknown errors become `internal_error` (transient: retried). */
export function toScanError(error: unknown): ScanError {
  if (isScanError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ScanError('internal_error', message, undefined, { cause: error });
}
