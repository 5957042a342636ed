import type { ItemKind } from '../jobs/job-schema.js';
import type { Signal, VerdictVersions } from '../jobs/verdict-schema.js';

/**
 * Every `source` a signal type of this fleet emits; the policy's per-source ceilings accept only
 * these (a misspelt source would cap nothing).
 */
export const SIGNAL_SOURCES = ['blocklist', 'hashset', 'model'] as const;
export type SignalSource = (typeof SIGNAL_SOURCES)[number];

export function isSignalSource(source: string): source is SignalSource {
  return (SIGNAL_SOURCES as readonly string[]).includes(source);
}

/**
 * The kind of the signal an allowlist entry gives a link target (source `blocklist`, suggests
 * `allow`). The policy reads it: every other signal about the same target (same item, same
 * `evidence.hop`) is overridden by it. Signals about one URL of a link carry that URL's `hop`.
 */
export const ALLOWLIST_MATCH_KIND = 'allowlist_match';

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
   * Signals for one prepared item (empty when nothing fired). A thrown ScanError becomes a
   * partial error of that item naming the type (the item's other signal types still count); a
   * transient one retries the job while attempts remain.
   */
  match(subject: Subject, itemIndex: number, context?: MatchContext): Promise<Signal[]> | Signal[];
  /**
   * Versions of what this type consults, as of now; given the context a job was matched with, what
   * that job met (a reload mid-job must not make its verdict name a version it was not matched against).
   */
  versions(context?: MatchContext): PartialVersions;
}
