/**
 * Matches every hashed frame of an image against the hash sets through all eight dihedral variants
 * of its hashes (DIHEDRAL_VARIANTS, when the frame was hashed with `dihedral`, as the image
 * preparer does), so rotated and mirrored copies match: PDQ's from its one DCT (pdq/dihedral.ts),
 * blockhash's as moves of the hash's bits and of the transposed picture's hash
 * (images/blockhash-dihedral.ts: the turned picture's own blockhash, bit for bit). Negative sets
 * hold known-good images (false positives, logos): a known-good entry suppresses a positive set's hit on the same frame only when it is strictly closer to the
 * frame than the positive set's closest entry, and only within one algorithm (PDQ and blockhash
 * distances do not compare). An exact copy of a known-bad image therefore still matches when a
 * near-duplicate of it was marked good. The known-good match is reported as a signal suggesting
 * `allow`, naming each hit it suppressed and at what distances.
 *
 * One signal per set per item, for the closest entry over all frames and variants:
 *   { source: 'hashset', kind: 'pdq_match' | 'blockhash_match', suggests, score, evidence }
 * `score` = 1 - distance / (threshold + 1): 1 for an exact copy, falling linearly to
 * 1 / (threshold + 1) at the threshold (never 0, as a match at the threshold is still a match).
 * Evidence: set, setVersion, entryId, label, distance, threshold, frame (the frame of the file, 0
 * for a still image: an animation's frames are sampled, so not every one is hashed), matches (entries of the set within reach) and variant: the rotation or mirror of the
 * *scanned* picture (for the stored pixels, as stored: an EXIF orientation tag is not applied) that landed on the entry (a copy turned clockwise matches through `rotate90`,
 * its own quarter turn back). A frame is matched on its stored pixels and on its views
 * (ImageHashes.views, IMAGE_VIEWS: upright by its EXIF orientation, flattened onto white and onto
 * black when it has alpha, without a uniform border, contrast-stretched when its PDQ quality is
 * under 100; each with its own quality floor, blank rule and variants): a hit on a view adds
 * `view` ('upright', 'on-white', 'on-black', 'trimmed', 'on-white-trimmed', 'on-black-trimmed' or
 * 'stretched'; absent for the stored pixels) and, for a view with a box (a trimmed view, one per
 * ring of a border, and a stretched view of one), `box`: `{ left, top, width, height }` in the
 * image's upright pixels (viewBoxInImage), which tells apart the views of one name. `abuse-scan hash
 * --views` prints the hashes of each view of a file, each with its box, to reproduce it. A view
 * is its frame's picture, not another item: the flood guard counts the frame's stored hashes
 * (imageKey) whichever view matched, and a known-good entry hides only hits on the same picture
 * (the same view of the same frame). Blockhash evidence adds bitsFromBlank: how many bits the frame's
 * hash, in the variant that matched, is from the nearest blank image's (blankBlockhashes: each
 * horizontal quarter band, or each vertical quarter stripe, all 0s, all 1s, or half 0s and half 1s
 * as a smooth gradient splits it; the stripes are the bands turned a quarter, so a two-tone flag, a
 * horizon or a top-to-bottom gradient is as blank turned as a vertically split picture is as
 * stored, and a caption on a gradient is as near blank as one on black). The blank hashes are closed under the variants' bit moves, so a mirror, a
 * flip or a half turn keeps it, and the four quarter turns and diagonal flips share theirs (the
 * bits of the transposed picture's hash, thresholded on other bands: a horizontally two-tone flag
 * is 32 bits from blank as stored, 0 turned). A
 * blockhash frame matches an entry only when each is strictly closer to the other than to a blank
 * image's hash (distance below the frame's bitsFromBlank and below the entry's, passesBlankRule),
 * entry by entry and variant by variant (an entry is reached through the closest variant that
 * passes): a blank frame (blank in every variant) matches nothing (as a frame below the PDQ quality floor matches no PDQ set); an exact copy of a caption
 * on black matches it at distance 0, a black or near-black upload does not, nor does the caption
 * match a near-blank entry. Entries the rule drops are not within reach: not counted in
 * `matches`, never walked.
 * `suggests` is the set's kind (`block` or `review`), `allow` for negative sets. A quarantine by the
 * flood guard affects only the quarantined entry's own matches: the entries of a block or review set
 * within reach are walked closest first (over all frames, views and variants: by distance, then
 * frame, then view (stored pixels first), then entry number), and the signal reports the closest one not quarantined, with the set's
 * action. The walk skips every hit a known-good entry on its frame is strictly closer than (the
 * known-good rule applies to the entry the match stands on, so a quarantine is never harsher than
 * removing the entry), and takes at most MAX_WALKED_CANDIDATES (32) entries, the closest. Each entry
 * walked counts, as the guard's item, the image that matched it (the exact hashes of its frame:
 * imageKey), not the content: reposts of one image are one item however many contents carry it. The
 * quarantined entries passed by are named in `quarantinedMatches` (`{ entryId, distance, frame }`
 * each, and `view` (and `box`) when on one, closest first, at most MAX_LISTED_QUARANTINED (10); `moreQuarantinedMatches` counts the
 * rest), as evidence only: they decide nothing. Only when every entry walked is quarantined does
 * the signal report the closest with `quarantined: true` and suggest `review`; a known-good entry
 * then names, in its `suppressed`, the hit of that frame it hid. A negative set's evidence adds `knownGood: true`,
 * `suppresses: 'positive hits farther than this entry (same algorithm)'` and `suppressed`: one
 * `{ set, entryId, distance, frame, knownGoodEntryId, knownGoodDistance }` per hit it hid (and
 * `view`, and `box`, when the hit and the known-good entry were on one).
 *
 * Matching counts no match metric: a job's items are matched again on every attempt, and
 * `abuse_scan_hashset_matches_total` counts these signals once per stored verdict (the worker,
 * countHashSetMatches).
 */
import { ScanError } from '../../errors.js';
import type { BorderBox, DecodedImage, ImageHashes, ImageView, ImageViewHashes, PictureHashes } from '../../images/index.js';
import { DIHEDRAL_VARIANTS } from '../../images/pdq/dihedral.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import { MAX_WALKED_CANDIDATES, type FloodGuard } from '../../hashsets/flood-guard.js';
import { passesBlankRule, passesQualityFloor } from '../../hashsets/hash-set-config.js';
import { blockhashBitsFromBlank } from '../../images/blockhash.js';
import type { VariantMatch } from '../../hashsets/entry-index.js';
import type { EntryDescription, MatchableHashSet } from '../../hashsets/hash-set.js';
import { hashToHex, type HashBytes } from '../../matching/hash-bits.js';
import type { ImageSubject } from '../../pipeline/image-preparer.js';
import type { MatchContext, PartialVersions, SignalType } from '../signal-type.js';

/** Where the sets come from: a worker's Redis replicas, or files loaded once. */
export interface HashSetSource {
  sets(): readonly MatchableHashSet[];
  /**
   * Sets that exist but that this source holds no copy of (a worker started while a big import
   * outpaced its load): an image matched without them is not known to match nothing.
   */
  unavailable?(): readonly string[];
}

export interface HashSetMatchOptions {
  source: HashSetSource;
  /** Counts matches per entry and quarantines flooding entries. Default: none (no quarantine). */
  floodGuard?: FloodGuard;
}

interface Hit {
  set: MatchableHashSet;
  /** The set's version when matched: a replica applies changes in place, also while a signal is described. */
  version: string;
  /** Position of the frame in the subject's hashed frames. */
  frame: number;
  /** Which frame of the file that is (what evidence names: an animation's frames are sampled). */
  fileFrame: number;
  entryNo: number;
  distance: number;
  variant: string;
  /** The view of the frame that matched (ImageHashes.views): absent for its stored pixels. */
  view?: ImageView;
  /**
   * The box of that view (a trimmed view, or a stretched view of one), in the image's upright
   * pixels as `abuse-scan hash --views` prints it (viewBoxInImage): a frame can have several views
   * of one name (a border's rings). Absent for a view without a box and for the stored pixels.
   */
  box?: BorderBox;
  /** Entries of the set within reach of that frame (the threshold; for blockhash, passesBlankRule too). */
  matches: number;
  /** Blockhash: how many bits the frame's hash in `variant` is from a blank image's (blockhashBitsFromBlank). */
  bitsFromBlank?: number;
}

/** A hit with the id and label of its entry. */
interface DescribedHit {
  hit: Hit;
  entry: EntryDescription;
}

/** A positive hit that a known-good hit on the same frame was strictly closer than. */
interface Suppression {
  hit: Hit;
  by: Hit;
  /**
   * The frame's closer hits of the set (entry numbers), when it had any: the suppression decided
   * the frame only if the walk found every one of them quarantined (or removed).
   */
  unless?: number[];
}

/** The most quarantined entries a signal names in `quarantinedMatches`; `moreQuarantinedMatches` counts the rest. */
export const MAX_LISTED_QUARANTINED = 10;

const SUPPRESSION_RULE = 'positive hits farther than this entry (same algorithm)';

export class HashSetMatchSignalType implements SignalType<ImageSubject> {
  readonly name = 'hashset-match';
  readonly accepts = 'image' as const;

  /** Per job: each set's version when the job's first item was matched against it. */
  private readonly jobVersions = new WeakMap<MatchContext, Record<string, string>>();

  constructor(private readonly options: HashSetMatchOptions) {}

  /**
   * The signals of the sets loaded. While a set that exists is not (see HashSetSource.unavailable),
   * an image none of them blocks is not known to match nothing: ScanError `hashset_unavailable`,
   * transient, so the job is retried while attempts remain (the copy is usually loaded by then) and
   * a last attempt gets the partial error (review by default). A block stands: no set could make
   * the image more than known-bad (only a known-good set could hide the match, the rarer mistake).
   */
  async match(subject: ImageSubject, itemIndex: number, context?: MatchContext): Promise<Signal[]> {
    const signals = await this.matchLoaded(subject, itemIndex, context);
    const unavailable = this.options.source.unavailable?.() ?? [];
    if (unavailable.length > 0 && !signals.some((signal) => signal.suggests === 'block')) {
      throw new ScanError('hashset_unavailable', `no copy of hash set ${unavailable.join(', ')} is loaded yet: the image was not matched against it`, { sets: unavailable });
    }
    return signals;
  }

  private async matchLoaded(subject: ImageSubject, itemIndex: number, context?: MatchContext): Promise<Signal[]> {
    const sets = this.options.source.sets();
    if (context !== undefined) {
      const consulted = this.jobVersions.get(context) ?? {};
      for (const set of sets) consulted[set.config.name] ??= set.version;
      this.jobVersions.set(context, consulted);
    }
    if (sets.length === 0) return [];
    const negative = sets.filter((set) => set.config.kind === 'negative');
    const positive = sets.filter((set) => set.config.kind !== 'negative');
    // Per set: a negative set's closest hit; a positive set's hits on each frame that no known-good
    // entry of the frame is strictly closer than (the walk's candidates: a quarantined entry passes
    // the match on to the next closest, see signalFor, and never to a hit the known-good rule hid).
    const best = new Map<MatchableHashSet, Hit[]>();
    const keepClosest = (hit: Hit): void => {
      const known = best.get(hit.set)?.[0];
      if (!known || hit.distance < known.distance) best.set(hit.set, [hit]);
    };
    const keepAll = (hits: Hit[]): void => {
      const known = best.get(hits[0]!.set);
      if (known) known.push(...hits);
      else best.set(hits[0]!.set, hits);
    };
    const suppressions = new Map<MatchableHashSet, Suppression[]>();

    const matchPicture = (picture: PictureHashes, at: Pick<Hit, 'frame' | 'fileFrame' | 'view' | 'box'>): void => {
      const knownGood = negative.map((set) => hitsOf(set, picture, at)[0]).filter((hit) => hit !== undefined);
      for (const hits of positive.map((set) => hitsOf(set, picture, at))) {
        if (hits.length === 0) continue;
        // The closest known-good hit strictly closer than the farthest hit: it hides every hit
        // farther than itself. The closest hit not hidden is the frame's match, unless quarantined.
        const by = closestStrictlyCloser(knownGood, hits[hits.length - 1]!);
        const candidates = by ? hits.filter((hit) => hit.distance <= by.distance) : hits;
        if (candidates.length > 0) keepAll(candidates);
        if (!by) continue;
        // The hit the rule hid: the frame's closest beyond the known-good entry. It decided the
        // frame only if every candidate before it is quarantined (resolved after the walk).
        const hidden = hits[candidates.length]!;
        const suppression: Suppression = { hit: hidden, by, ...(candidates.length > 0 && { unless: candidates.map((hit) => hit.entryNo) }) };
        suppressions.set(by.set, [...(suppressions.get(by.set) ?? []), suppression]);
      }
      knownGood.forEach(keepClosest);
    };
    // Each picture of each frame on its own: the stored pixels, then the frame's views. A
    // known-good entry hides only hits on the picture it is closer to: the stored pixels of a
    // known-good logo must not hide the image their alpha shows on a white page.
    subject.frames.forEach((frame, frameIndex) => {
      const fileFrame = subject.decoded.frames[frameIndex]?.index ?? frameIndex;
      for (const picture of picturesOf(frame)) {
        const box = 'box' in picture && picture.box ? viewBoxInImage(picture.box, subject.decoded, frameIndex) : undefined;
        const at = { frame: frameIndex, fileFrame, ...('view' in picture && { view: picture.view }), ...(box && { box }) };
        matchPicture(picture, at);
      }
    });
    // Per negative set, the positive sets whose match on this item it hid: one per set, like
    // matches, and none when another frame's hit of that set stood. Counted only when something
    // was hidden, so the common scan makes no Redis call for it.
    for (const [negativeSet, hidden] of suppressions) {
      const hiddenMatches = new Set(hidden.map(({ hit }) => hit.set).filter((set) => !best.has(set))).size;
      if (hiddenMatches > 0) this.options.floodGuard?.recordSuppressions(negativeSet.config, hiddenMatches);
    }

    // Positive sets first: their walks tell which entries are quarantined, so which of the hidden
    // hits decided a frame (what the known-good signals name).
    const passed = new Map<MatchableHashSet, Set<number>>();
    const positiveSignals = new Map(
      await Promise.all(
        [...best]
          .filter(([set]) => set.config.kind !== 'negative')
          .map(async ([set, hits]) => {
            const walk = await this.signalFor(set, walkOrder(hits), subject, itemIndex, []);
            passed.set(set, walk.passed);
            return [set, walk.signal] as const;
          }),
      ),
    );
    const decided = (suppression: Suppression): boolean =>
      suppression.unless === undefined || suppression.unless.every((entryNo) => passed.get(suppression.hit.set)?.has(entryNo) === true);
    const signals = await Promise.all(
      [...best].map(async ([set, hits]) => {
        if (set.config.kind !== 'negative') return positiveSignals.get(set);
        return (await this.signalFor(set, hits, subject, itemIndex, (suppressions.get(set) ?? []).filter(decided))).signal;
      }),
    );
    return signals.filter((signal) => signal !== undefined);
  }

  /**
   * Versions of the sets the job of `context` was matched against, as they were then (a later item
   * of the job may meet a newer one: its signals' evidence names it); without one, of the sets now.
   */
  versions(context?: MatchContext): PartialVersions {
    const consulted = context && this.jobVersions.get(context);
    if (consulted) return { hashSets: { ...consulted } };
    return { hashSets: Object.fromEntries(this.options.source.sets().map((set) => [set.config.name, set.version])) };
  }

  /**
   * The signal of one set: `hits` are its candidates, closest first (a negative set's closest
   * only). The closest is described and, for a block or review set, recorded with the flood guard
   * as ever (ids, labels, one script call); only when it is quarantined (or was removed since the
   * match) are the next ones described and walked, in one more such round, at most
   * MAX_WALKED_CANDIDATES in all: when those are all quarantined, the match asks for review as
   * though every entry within reach were. Also resolves the entries the walk passed by
   * (quarantined or removed).
   */
  private async signalFor(
    set: MatchableHashSet,
    hits: readonly Hit[],
    subject: ImageSubject,
    itemIndex: number,
    suppressions: readonly Suppression[],
  ): Promise<{ signal: Signal | undefined; passed: Set<number> }> {
    const { config } = set;
    const guard = config.kind === 'negative' ? undefined : this.options.floodGuard;
    let stands: DescribedHit | undefined;
    const quarantined: DescribedHit[] = [];
    const passed = new Set<number>();
    let countSetMatch = true;
    for (const batch of [hits.slice(0, 1), hits.slice(1, MAX_WALKED_CANDIDATES)]) {
      if (stands || batch.length === 0) break;
      const entries = await set.describe(batch.map((hit) => hit.entryNo));
      batch.forEach((hit, i) => entries[i] === undefined && passed.add(hit.entryNo)); // removed since the match
      const described = batch.flatMap((hit, i) => (entries[i] ? [{ hit, entry: entries[i] }] : []));
      if (described.length === 0) continue;
      if (!guard) {
        stands = described[0];
        break;
      }
      const candidates = described.map(({ hit, entry }) => ({ entryNo: hit.entryNo, id: entry.id, itemKey: imageKey(subject.frames[hit.frame]!) }));
      const at = await guard.recordMatchAmong(config, candidates, candidates[0]!.itemKey, countSetMatch);
      countSetMatch = false;
      const passedBy = at < 0 ? described : described.slice(0, at);
      quarantined.push(...passedBy);
      for (const { hit } of passedBy) passed.add(hit.entryNo);
      if (at >= 0) stands = described[at];
    }
    // Every entry walked quarantined: the closest is reported, and the match asks for review.
    const reported = stands ?? quarantined[0];
    if (!reported) return { signal: undefined, passed };
    const { hit, entry } = reported;
    const passedBy = quarantined.filter((described) => described !== reported);
    const listed = passedBy.slice(0, MAX_LISTED_QUARANTINED);
    const suggests: Signal['suggests'] = config.kind === 'negative' ? 'allow' : stands ? config.kind : 'review';
    const signal: Signal = {
      source: 'hashset',
      kind: `${config.algorithm}_match`,
      item: itemIndex,
      score: 1 - hit.distance / (config.threshold + 1),
      suggests,
      evidence: {
        set: config.name,
        setVersion: hit.version,
        entryId: entry.id,
        ...(entry.label !== undefined && { label: entry.label }),
        distance: hit.distance,
        threshold: config.threshold,
        // How far the frame (in the variant that matched) is from a blank image's hash: a match needs `distance` below it.
        ...(hit.bitsFromBlank !== undefined && { bitsFromBlank: hit.bitsFromBlank }),
        variant: hit.variant,
        ...(hit.view && { view: hit.view }),
        ...(hit.box && { box: hit.box }),
        frame: hit.fileFrame,
        matches: hit.matches,
        ...(!stands && { quarantined: true }),
        ...(listed.length > 0 && {
          quarantinedMatches: listed.map((q) => ({ entryId: q.entry.id, distance: q.hit.distance, frame: q.hit.fileFrame, ...(q.hit.view && { view: q.hit.view }), ...(q.hit.box && { box: q.hit.box }) })),
        }),
        ...(passedBy.length > listed.length && { moreQuarantinedMatches: passedBy.length - listed.length }),
        ...(config.kind === 'negative' && { knownGood: true, suppresses: SUPPRESSION_RULE, suppressed: await describeSuppressions(suppressions) }),
      },
    };
    return { signal, passed };
  }
}

/**
 * The flood guard's item: the image, by the exact hashes of the frame that matched, never the
 * content carrying it. Keyed by content (contentId), every repost of one known-bad image counted
 * as another item, and enough reposts quarantined its entry, their copies then asking for review
 * instead of block: the guard is for an entry matching many different images. A view of the frame
 * (ImageHashes.views) is the same image: a hit on it counts the frame's stored hashes too, so an
 * image is one item whichever of its views matched.
 */
function imageKey(frame: ImageHashes): string {
  return `h:${hashToHex(frame.pdq)}${hashToHex(frame.blockhash)}`;
}

/** The pictures of a frame matched: its stored pixels first, then its views (IMAGE_VIEWS order), each hashed like them. */
function picturesOf(frame: ImageHashes): Array<PictureHashes | ImageViewHashes> {
  return frame.views ? [frame, ...frame.views] : [frame];
}

/**
 * A view's box (ImageViewHashes.box: the upright working frame's pixels, at most workingSize a
 * side) in the image's upright pixels, as `abuse-scan hash --views` prints it (the same scaling
 * and rounding), so a match's box names the view that command lists.
 */
export function viewBoxInImage(box: BorderBox, decoded: DecodedImage, frameIndex: number): BorderBox {
  const frame = decoded.frames[frameIndex] ?? decoded.frames[0];
  // A subject without dimensions (one made of hashes only): the box as the view gives it.
  const sized = frame !== undefined && frame.width > 0 && frame.height > 0 && decoded.width > 0 && decoded.height > 0;
  const scale = sized ? { x: decoded.width / frame.width, y: decoded.height / frame.height } : { x: 1, y: 1 };
  return {
    left: Math.round(box.left * scale.x),
    top: Math.round(box.top * scale.y),
    width: Math.round(box.width * scale.x),
    height: Math.round(box.height * scale.y),
  };
}

/** The closest known-good hit of the frame that is strictly closer to it than `hit` (same algorithm only). */
function closestStrictlyCloser(knownGood: readonly Hit[], hit: Hit): Hit | undefined {
  let closestGood: Hit | undefined;
  for (const good of knownGood) {
    if (good.set.config.algorithm !== hit.set.config.algorithm || good.distance >= hit.distance) continue;
    if (!closestGood || good.distance < closestGood.distance) closestGood = good;
  }
  return closestGood;
}

/** Which entry of which set each suppression hid, and which known-good entry hid it, at what distances. */
async function describeSuppressions(suppressions: readonly Suppression[]): Promise<Array<Record<string, unknown>>> {
  return Promise.all(
    suppressions.map(async ({ hit, by }) => {
      const [[entry], [good]] = await Promise.all([hit.set.describe([hit.entryNo]), by.set.describe([by.entryNo])]);
      return {
        set: hit.set.config.name,
        entryId: entry?.id ?? null,
        distance: hit.distance,
        frame: hit.fileFrame,
        ...(hit.view && { view: hit.view }),
        ...(hit.box && { box: hit.box }),
        knownGoodEntryId: good?.id ?? null,
        knownGoodDistance: by.distance,
      };
    }),
  );
}

/**
 * The set's entries within reach of this frame, closest first (distance, then entry number), each
 * through the variant (DIHEDRAL_VARIANTS: turns and mirrors of the picture) that came closest, the
 * earliest on a tie: none when the frame is below the PDQ floor; for blockhash, only the entries
 * the frame's variant and the entry are each strictly closer to than to a blank image's hash
 * (passesBlankRule, variant by variant: a quarter turn's hash has its own bits from blank), so
 * `matches` counts those only.
 */
function hitsOf(set: MatchableHashSet, frame: PictureHashes, at: Pick<Hit, 'frame' | 'fileFrame' | 'view' | 'box'>): Hit[] {
  let matches: Array<VariantMatch & { bitsFromBlank?: number }>;
  if (set.config.algorithm === 'pdq') {
    if (!passesQualityFloor(set.config, frame.pdqQuality)) return [];
    matches = set.match(frame.dihedral ?? [frame.pdq]);
  } else {
    const closest = new Map<number, VariantMatch & { bitsFromBlank: number }>();
    (frame.blockhashDihedral ?? [frame.blockhash]).forEach((hash, variant) => {
      for (const match of blockhashMatches(set, hash)) {
        const known = closest.get(match.entryNo);
        if (!known || match.distance < known.distance) closest.set(match.entryNo, { ...match, variant });
      }
    });
    matches = [...closest.values()].sort((a, b) => a.distance - b.distance || a.entryNo - b.entryNo);
  }
  const { version } = set;
  return matches.map((match) => ({
    set,
    version,
    ...at,
    entryNo: match.entryNo,
    distance: match.distance,
    variant: DIHEDRAL_VARIANTS[match.variant] ?? 'original',
    matches: matches.length,
    ...(match.bitsFromBlank !== undefined && { bitsFromBlank: match.bitsFromBlank }),
  }));
}

/**
 * A blockhash set's entries within reach of one hash of the frame (the hash as computed, or one
 * of its turns and mirrors), under the blank rule for that hash: none when it is a blank image's
 * (no distance is below 0), else those the hash and the entry are each strictly closer to than to
 * a blank image's hash.
 */
function blockhashMatches(set: MatchableHashSet, hash: HashBytes): Array<VariantMatch & { bitsFromBlank: number }> {
  const frameFromBlank = blockhashBitsFromBlank(hash);
  if (frameFromBlank === 0) return [];
  return set
    .match([hash])
    .filter((match) => {
      if (match.distance >= frameFromBlank) return false;
      const entry = entryFromBlank(set, match, frameFromBlank);
      return entry !== undefined && passesBlankRule(set.config, match.distance, frameFromBlank, entry);
    })
    .map((match) => ({ ...match, bitsFromBlank: frameFromBlank }));
}

/**
 * How many bits from blank a hit's entry is, as far as the blank rule needs to know, read from the
 * entry's own hash (MatchableHashSet.bitsFromBlank): undefined (not matched) for an entry no
 * longer held or disabled. An entry is at least frameFromBlank - distance from blank (bitsFromBlank
 * changes by at most one per bit), so a hit under half the frame's bitsFromBlank passes the
 * entry's side without asking (Infinity: farther than the hit); for a photo, about 100-128 bits
 * from blank, only hits near the default threshold of 64 ask.
 */
function entryFromBlank(set: MatchableHashSet, match: VariantMatch, frameFromBlank: number): number | undefined {
  if (2 * match.distance < frameFromBlank) return Infinity;
  return set.bitsFromBlank(match.entryNo);
}

/**
 * One set's hits over all frames in the order they are walked: by distance, then frame, then view
 * (the stored pixels first, then IMAGE_VIEWS order), then entry number (each picture's hits come in
 * that order, pictures in frame and view order, and the sort is stable), each entry once, where it
 * came closest (the earliest frame, then view, on a tie). The first is what the set's closest hit always was.
 */
function walkOrder(hits: readonly Hit[]): Hit[] {
  const seen = new Set<number>();
  const ordered: Hit[] = [];
  for (const hit of [...hits].sort((a, b) => a.distance - b.distance)) {
    if (seen.has(hit.entryNo)) continue;
    seen.add(hit.entryNo);
    ordered.push(hit);
  }
  return ordered;
}
