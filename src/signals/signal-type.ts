import type { ItemKind } from '../jobs/job-schema.js';
import type { Signal, VerdictVersions } from '../jobs/verdict-schema.js';

/** Versions a signal type reports for the verdict: which lists, hash sets or models it consulted. */
export type PartialVersions = Partial<Omit<VerdictVersions, 'scanner'>>;

/** The job an item belongs to, for signal types that count per content (flood protection). */
export interface MatchContext {
  jobId: string;
  contentId: string;
  surface: string;
  tenant?: string;
}

/**
 * A signal type turns one prepared item into signals. Items are prepared once per kind (a link is
 * canonicalized and unfurled once, an image decoded and hashed once) and every signal type of that
 * kind reads the same prepared subject. A new list, hash or model is a new signal type, registered
 * in the registry, not edits across the pipeline.
 */
export interface SignalType<Subject = unknown> {
  /** Stable name, used in logs and metrics: `link-blocklist`, `pdq-hashset`, `image-model`, ... */
  readonly name: string;
  /** The kind of prepared item it reads. */
  readonly accepts: ItemKind;
  /**
   * Signals for one prepared item (empty when nothing fired). A thrown ScanError becomes an
   * error of that item; a transient one retries the job.
   */
  match(subject: Subject, itemIndex: number, context?: MatchContext): Promise<Signal[]> | Signal[];
  /** Versions of the data it matched against, as of now. */
  versions(): PartialVersions;
}
