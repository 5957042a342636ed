import type { ErrorInfo } from '../errors.js';
import type { ItemKind, ScanItem } from '../jobs/job-schema.js';

export interface PreparedItem<Subject> {
  /** What the signal types of this kind read (a canonical URL and its chain, a decoded image...). */
  subject: Subject;
  /** Facts for the verdict's item result. */
  details: Record<string, unknown>;
  /**
   * Problems that did not stop the item from being matched (a link whose unfurl timed out is
   * still matched on its own URL). They go into the verdict's errors marked `partial`, and the
   * policy weighs them with its partial-error table.
   */
  errors?: ErrorInfo[];
}

/**
 * Turns one raw item of its kind into the subject every signal type of that kind reads, once.
 * Throws a ScanError when the item cannot be scanned at all (permanent: an item error; transient:
 * the job is retried).
 */
export interface ItemPreparer<Subject = unknown> {
  readonly kind: ItemKind;
  prepare(item: ScanItem, index: number, signal: AbortSignal): Promise<PreparedItem<Subject>>;
}
