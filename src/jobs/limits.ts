/**
 * Size limits a scan job must respect. Producers and workers share these defaults so that a job
 * refused by a worker would already have been refused at enqueue time.
 */
export interface JobLimits {
  /** Items per job. Default 100. */
  maxItems: number;
  /** Characters in one URL item. Default 8192 (browsers and proxies cut near there). */
  maxUrlLength: number;
  /** Decoded bytes of one `{ bytesBase64 }` image. Default 5 MiB. */
  maxInlineBytes: number;
  /** Characters in contentId / surface / tenant. Default 256. */
  maxIdLength: number;
}

export const DEFAULT_JOB_LIMITS: JobLimits = {
  maxItems: 100,
  maxUrlLength: 8192,
  maxInlineBytes: 5 * 1024 * 1024,
  maxIdLength: 256,
};
