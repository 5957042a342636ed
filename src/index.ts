/**
 * abuse-scan's public API for producers and consumers: the typed client that enqueues scan jobs
 * and waits for verdicts, the consumer of the results stream, and the schemas both sides share.
 */
export { createScanClient, type ScanClient, type ScanClientOptions, type EnqueueOptions, type EnqueuedJob } from './client/scan-client.js';
export { createVerdictConsumer, deadLetterStreamKey, VerdictConsumer, VerdictGroupLostError, VerdictsLostError, type VerdictConsumerOptions, type VerdictDelivery } from './verdicts/verdict-consumer.js';
export {
  scanJobSchema,
  createJobSchema,
  JOB_SCHEMA_VERSION,
  type ScanJob,
  type ScanJobInput,
  type ScanItem,
  type ImageItem,
} from './jobs/job-schema.js';
export { validateJob, type JobValidationOptions } from './jobs/validate-job.js';
export { DEFAULT_JOB_LIMITS, type JobLimits } from './jobs/limits.js';
export {
  verdictSchema,
  consumedVerdictSchema,
  signalSchema,
  VERDICT_SCHEMA_VERSION,
  DECISIONS,
  type Verdict,
  type ConsumedVerdict,
  type ConsumedItemResult,
  type ConsumedErrorInfo,
  type KnownOrNewer,
  type Signal,
  type ItemResult,
  type Decision,
} from './jobs/verdict-schema.js';
export { ScanError, ERROR_CODES, isScanError, type ErrorCode, type ErrorInfo } from './errors.js';
export { DEFAULT_PREFIX, SCAN_QUEUE_KINDS, type ScanQueueKind } from './queues/names.js';
export { CLUSTER_OPTIONS, type ConnectionInput, type RedisClientLike } from './runtime/redis.js';
