import { describe, expect, it } from 'vitest';
import { sampleVerdict } from '../../test/harness/verdicts.js';
import { consumedVerdictSchema, verdictSchema } from '../jobs/verdict-schema.js';
import { jobIdForContent } from '../queues/scan-queue.js';
import { verdictJobId, verdictKeys } from './verdict-keys.js';

describe('verdictJobId', () => {
  it("qualifies BullMQ's own numbers by their queue: each queue counts from 1 on its own", () => {
    expect(verdictJobId('links', '1')).toBe('links:1');
    expect(verdictJobId('images', '1')).toBe('images:1');
    expect(verdictJobId('links', '1234567')).toBe('links:1234567');
    // All digits but not BullMQ's counter (a raw custom id BullMQ accepts): still one per queue.
    expect(verdictJobId('images', '007')).toBe('images:007');
    expect(verdictKeys('{p}').verdict(verdictJobId('links', '1'))).toBe('{p}:verdict:links:1');
  });

  it('leaves every other jobId as it is: client ids, default content ids, raw custom ids', () => {
    for (const jobId of [jobIdForContent('post-1'), jobIdForContent('post-1', 'acme'), 'raw-0', 'order-12', '1a', '-', 'unknown']) {
      expect(verdictJobId('links', jobId)).toBe(jobId);
      expect(verdictJobId('images', jobId)).toBe(jobId);
    }
  });

  it('is accepted as a verdict jobId by the schemas workers write and consumers read', () => {
    const verdict = sampleVerdict(verdictJobId('links', '1'));
    expect(verdictSchema.parse(verdict).jobId).toBe('links:1');
    expect(consumedVerdictSchema.parse(verdict).jobId).toBe('links:1');
  });
});
