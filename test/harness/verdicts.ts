import { VERDICT_SCHEMA_VERSION, type Decision, type Verdict } from '../../src/jobs/verdict-schema.js';

/** A minimal valid verdict for tests of the store, the stream and the client's lookups. */
export function sampleVerdict(jobId: string, decision: Decision = 'allow'): Verdict {
  return {
    schemaVersion: VERDICT_SCHEMA_VERSION,
    jobId,
    contentId: `content-${jobId}`,
    surface: 'test',
    decision,
    reasons: [],
    signals: [],
    items: [],
    errors: [],
    timings: { total: 1 },
    versions: { scanner: 'test', lists: {}, hashSets: {}, models: {} },
    attempt: 1,
    createdAt: new Date(0).toISOString(),
  };
}
