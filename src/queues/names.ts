/**
 * Queue topology. Every job goes to exactly one scan queue, chosen from its items: jobs with any
 * image go to `images` (CPU-bound: decode, hash, classify), jobs of links only go to `links`
 * (I/O-bound: unfurling). Both run the same pipeline, so ops scale each kind of load on its own
 * (few image workers per core, many link workers per process). Every verdict goes to the results
 * stream (see verdicts/verdict-keys.ts), not to a queue: consumer groups each see every verdict.
 */
export const SCAN_QUEUE_KINDS = ['links', 'images'] as const;
export type ScanQueueKind = (typeof SCAN_QUEUE_KINDS)[number];

/** Default prefix; the braces are a Redis Cluster hash tag (all keys in one slot). */
export const DEFAULT_PREFIX = '{abuse-scan}';
