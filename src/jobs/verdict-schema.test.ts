import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ErrorCode } from '../errors.js';
import type { VerdictConsumerOptions } from '../verdicts/verdict-consumer.js';
import { consumedVerdictSchema, verdictSchema, VERDICT_SCHEMA_VERSION, type ConsumedErrorInfo, type ConsumedItemResult, type ConsumedVerdict, type ItemResult, type Verdict } from './verdict-schema.js';

/** A block verdict as a newer worker writes it: an error code and an item kind this version does not know. */
const fromNewerWorker = {
  schemaVersion: VERDICT_SCHEMA_VERSION,
  jobId: 'j1',
  contentId: 'c1',
  surface: 'upload',
  decision: 'block',
  reasons: ['image_decompression_bomb: the image expands past the decoder limit'],
  signals: [],
  items: [{ index: 0, kind: 'video', input: 'uploads/a.mp4', status: 'error', error: { code: 'image_decompression_bomb', message: 'bomb', item: 0 }, details: {} }],
  errors: [{ code: 'image_decompression_bomb', message: 'bomb', item: 0 }],
  timings: { total: 3 },
  versions: { scanner: '9.0.0', lists: {}, hashSets: {}, models: {} },
  attempt: 1,
  createdAt: new Date(0).toISOString(),
};

describe('verdict schemas', () => {
  it('workers may only emit known error codes and item kinds; consumers accept newer ones as strings', () => {
    expect(verdictSchema.safeParse(fromNewerWorker).success).toBe(false);
    const consumed = consumedVerdictSchema.parse(fromNewerWorker);
    expect(consumed.errors[0]!.code).toBe('image_decompression_bomb');
    expect(consumed.items[0]!.kind).toBe('video');
    expect(consumed.items[0]!.error?.code).toBe('image_decompression_bomb');
  });

  it('consumers still refuse what carries no decision to act on', () => {
    const { decision: _, ...noDecision } = fromNewerWorker;
    expect(consumedVerdictSchema.safeParse(noDecision).success).toBe(false);
    expect(consumedVerdictSchema.safeParse({ ...fromNewerWorker, decision: 'quarantine' }).success).toBe(false);
    expect(consumedVerdictSchema.safeParse({ ...fromNewerWorker, schemaVersion: 2 }).success).toBe(false);
  });

  it('types: a worker verdict is a consumed verdict; consumer handlers see codes that may be newer', () => {
    expectTypeOf<Verdict>().toExtend<ConsumedVerdict>();
    expectTypeOf<Verdict['errors'][number]['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<Parameters<VerdictConsumerOptions['handler']>[0]>().toEqualTypeOf<ConsumedVerdict>();
    expectTypeOf<'image_decompression_bomb'>().toExtend<ConsumedVerdict['errors'][number]['code']>();
  });

  it("types: a consumed verdict's items and errors have exported names, which a worker's fit", () => {
    expectTypeOf<ConsumedVerdict['items'][number]>().toEqualTypeOf<ConsumedItemResult>();
    expectTypeOf<ConsumedVerdict['errors'][number]>().toEqualTypeOf<ConsumedErrorInfo>();
    expectTypeOf<ItemResult>().toExtend<ConsumedItemResult>();
    expectTypeOf<'a-newer-kind'>().toExtend<ConsumedItemResult['kind']>();
  });
});
