/**
 * Size limits a scan job must respect. Producers and workers share these defaults so that a job
 * refused by a worker would already have been refused at enqueue time.
 *
 * The metadata and whole-job limits are optional so that limits written before they existed keep
 * compiling: unset, they take the DEFAULT_JOB_LIMITS value.
 */
export interface JobLimits {
  /** Items per job. Default 100. */
  maxItems: number;
  /** Characters in one URL item. Default 8192 (browsers and proxies cut near there). */
  maxUrlLength: number;
  /**
   * Decoded bytes of one `{ bytesBase64 }` image. Default 5 MiB. The base64 string itself may be
   * at most maxBase64Length(maxInlineBytes) characters, whitespace included.
   */
  maxInlineBytes: number;
  /** Characters in contentId / surface / tenant. Default 256. */
  maxIdLength: number;
  /** Keys in a job's `metadata`. Default 64. */
  maxMetadataKeys?: number;
  /** Characters in one `metadata` key. Default 128. (A value is at most 1024 characters.) */
  maxMetadataKeyLength?: number;
  /** UTF-8 bytes of a job's `metadata`, keys and values together. Default 16384 (16 KiB). */
  maxMetadataBytes?: number;
  /** UTF-8 bytes of the whole job serialized as JSON (what is stored in Redis). Default 33554432 (32 MiB). */
  maxJobBytes?: number;
}

export const DEFAULT_JOB_LIMITS: Required<JobLimits> = {
  maxItems: 100,
  maxUrlLength: 8192,
  maxInlineBytes: 5 * 1024 * 1024,
  maxIdLength: 256,
  maxMetadataKeys: 64,
  maxMetadataKeyLength: 128,
  maxMetadataBytes: 16 * 1024,
  maxJobBytes: 32 * 1024 * 1024,
};

/** `limits` with every unset optional limit at its default. */
export function resolveJobLimits(limits: JobLimits): Required<JobLimits> {
  if (limits === DEFAULT_JOB_LIMITS) return DEFAULT_JOB_LIMITS;
  const resolved = { ...DEFAULT_JOB_LIMITS };
  for (const key of Object.keys(DEFAULT_JOB_LIMITS) as Array<keyof JobLimits>) {
    const value = limits[key];
    if (value !== undefined) resolved[key] = value;
  }
  return resolved;
}

/** Characters (whitespace included) of the longest `bytesBase64` string that can hold `maxInlineBytes`. */
export function maxBase64Length(maxInlineBytes: number): number {
  // The padded encoding of maxInlineBytes bytes, plus room for line breaks of wrapped base64: two
  // characters (CRLF) per 64, as PEM wraps; MIME's 76 columns need less.
  const encoded = 4 * Math.ceil(maxInlineBytes / 3);
  return encoded + 2 * Math.ceil(encoded / 64);
}
