/**
 * What a hash set is: its name, the perceptual hash it holds, how close a match must be and what a
 * match asks for. Stored with the set (in Redis or next to a CSV file) and read by every worker.
 */
import { z } from 'zod';
import { blockhashBitsFromBlank } from '../images/blockhash.js';
import type { HashBytes } from '../matching/hash-bits.js';

/** The perceptual hashes a set can hold; both are 256 bits. */
export const HASH_ALGORITHMS = ['pdq', 'blockhash'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export const HASH_BITS: Record<HashAlgorithm, number> = { pdq: 256, blockhash: 256 };

/**
 * Default match thresholds (inclusive Hamming distance). PDQ 31 is the reference's recommendation;
 * blockhash 64 (a quarter of the bits) is what src/images/perceptual-match.test.ts measured to keep
 * every geometry-preserving edit of the fixtures while different pictures stay 72+ bits apart.
 */
export const DEFAULT_THRESHOLDS: Record<HashAlgorithm, number> = { pdq: 31, blockhash: 64 };

/**
 * `block` / `review`: the action a match asks for. `negative`: known-good hashes (a common logo, a
 * meme); a match there suppresses the image's matches against the other sets.
 */
export const HASH_SET_KINDS = ['block', 'review', 'negative'] as const;
export type HashSetKind = (typeof HASH_SET_KINDS)[number];

/** PDQ quality below which a hash is too flat to add or to match on (the reference's 50). */
export const DEFAULT_MIN_QUALITY = 50;

/** Set names go into Redis keys and file names: no colons, dots or spaces. */
export const HASH_SET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const floodConfigSchema = z.object({
  /** An entry matching more than this many distinct items within one window is quarantined. Default 1000. */
  maxItems: z.number().int().positive().default(1000),
  /** Window length in seconds (fixed windows aligned to the epoch). Default 3600. */
  windowSeconds: z.number().int().positive().default(3600),
});

export const hashSetConfigSchema = z.object({
  name: z.string().regex(HASH_SET_NAME, 'letters, digits, _ and -, up to 64, starting with a letter or digit'),
  algorithm: z.enum(HASH_ALGORITHMS),
  /** Largest Hamming distance that counts as a match. Default: DEFAULT_THRESHOLDS[algorithm]. */
  threshold: z.number().int().min(0).max(128).optional(),
  /** What a match asks for. Default `block`. */
  kind: z.enum(HASH_SET_KINDS).default('block'),
  /** PDQ quality floor (0-100) for adding and for matching; ignored for blockhash (see passesBlankRule). Default 50. */
  minQuality: z.number().int().min(0).max(100).default(DEFAULT_MIN_QUALITY),
  /** Flood protection: when an entry matches too much, its matches go to review. */
  flood: floodConfigSchema.default(floodConfigSchema.parse({})),
});

export type HashSetConfigInput = z.input<typeof hashSetConfigSchema>;
export type HashSetConfig = Omit<z.output<typeof hashSetConfigSchema>, 'threshold'> & {
  threshold: number;
  /**
   * On a worker's replica's config only (never stored): the incarnation of the Redis set it was
   * loaded from. The flood guard then counts a match only while the set in Redis is still that one
   * (see HashSetIncarnation).
   */
  incarnation?: HashSetIncarnation;
};

/**
 * Which incarnation of a Redis hash set: its creation time and the stamp of its creation (version
 * 0's, `createdStamp` in the meta; '' for sets created before it was recorded). A set deleted and
 * created again under the name is another incarnation whose entry numbers restart at 0: an entry
 * number of one names nothing, or another entry, in the other.
 */
export interface HashSetIncarnation {
  createdAt: string;
  createdStamp: string;
}

/** Validates a set's configuration and fills in every default. */
export function resolveHashSetConfig(input: HashSetConfigInput): HashSetConfig {
  const parsed = hashSetConfigSchema.parse(input);
  return { ...parsed, threshold: parsed.threshold ?? DEFAULT_THRESHOLDS[parsed.algorithm] };
}

/** Whether the set's quality floor lets a hash of this PDQ quality in (blockhash sets take all). */
export function passesQualityFloor(config: Pick<HashSetConfig, 'algorithm' | 'minQuality'>, quality: number | undefined): boolean {
  return config.algorithm !== 'pdq' || quality === undefined || quality >= config.minQuality;
}

/**
 * Blockhash's match rule, the counterpart of the PDQ floor: a frame matches an entry `distance` bits
 * away only when each is strictly closer to the other than to every blank image's hash:
 * distance < frameFromBlank and distance < entryFromBlank (bits from the nearest blank image's hash,
 * blockhashBitsFromBlank), besides being within the set's threshold as for every set.
 *
 * Why: blank images hash to a few fixed hashes (each horizontal quarter band, or each vertical
 * quarter stripe, all 0s, all 1s, or its halves 0s and 1s as a smooth gradient splits it:
 * blankBlockhashes; a picture flat in bands, a two-tone flag or a horizon, or a plain gradient
 * hashes to one as stored or turned a quarter), and a mostly flat image (a caption on a dark
 * background, or on a gradient) is close to one of them, so two flat images can lie
 * within the threshold of each other with nothing in common but the background: a solid black
 * frame is 35 bits from a white caption on black, within the default 64 (an upload like it was
 * blocked). A match no closer than blank says only that both are mostly flat. With the rule, an
 * exact copy of a flat but real image matches (0 < 35), a blank frame matches nothing, and a
 * near-blank frame does not match a caption it is farther from than from blank (the frame's side).
 * The entry's side is the same case turned round: a near-blank entry (a black image with a small
 * white mark in the middle, 4 bits from blank) is 31 bits from a caption-on-black upload (35 from
 * blank): nearer than blank seen from the upload, yet blank is nearer the entry than the upload
 * is, so the match would again say only that both are mostly flat. Photos are about 128 bits from
 * blank, so a photo matching a photo entry within the default 64 passes both sides. The rule is
 * checked per entry: a frame's nearer entries can match while its farther ones do not. Being
 * within the threshold of blank is no test: it puts a frame within twice the threshold of other
 * such images, not within the threshold, so it says nothing about a match, and refusing those
 * frames kept every copy of an image at most the threshold from blank (a caption on black, 35; a
 * tricolour flag with an emblem, 46) from ever matching.
 *
 * bitsFromBlank changes by at most one per bit changed, so entryFromBlank >= frameFromBlank -
 * distance: the entry's side can fail only when 2 x distance >= frameFromBlank. An entry that is a
 * blank image's hash (0) can never match and is refused when added (blockhashEntryCanMatch).
 * PDQ sets take all (their floor is quality, passesQualityFloor).
 */
export function passesBlankRule(config: Pick<HashSetConfig, 'algorithm'>, distance: number, frameFromBlank: number, entryFromBlank: number): boolean {
  return config.algorithm !== 'blockhash' || (distance < frameFromBlank && distance < entryFromBlank);
}

/**
 * The hashes of blank images, defined once in images/blockhash.ts (256 bits by default, as
 * HASH_BITS.blockhash): each horizontal quarter band all 0s, all 1s, upper half rows 1 and lower 0,
 * or upper 0 and lower 1 (gradients), and their quarter turns (the same across each vertical
 * quarter stripe's columns), 510 hashes. blockhashBitsFromBlank(hash) is the distance to the
 * nearest of them.
 */
export { blankBlockhashes } from '../images/blockhash.js';

/**
 * Whether an entry of this hash can ever match under passesBlankRule: not a blockhash that is a
 * blank image's hash itself (0 bits from blank: no distance is below 0). Add and import refuse
 * those as they refuse PDQ hashes below the quality floor (`hash_low_quality`).
 */
export function blockhashEntryCanMatch(config: Pick<HashSetConfig, 'algorithm'>, hash: HashBytes): boolean {
  return config.algorithm !== 'blockhash' || blockhashBitsFromBlank(hash) > 0;
}

/**
 * Why a set refuses this entry (`hash_low_quality` for add, a bad line for import), or undefined:
 * PDQ below the quality floor, or a blockhash that is a blank image's hash.
 */
export function entryRefusal(config: Pick<HashSetConfig, 'algorithm' | 'minQuality'>, hash: HashBytes, quality: number | undefined): string | undefined {
  if (!passesQualityFloor(config, quality)) return `PDQ quality ${quality} is below the set's floor of ${config.minQuality}`;
  if (!blockhashEntryCanMatch(config, hash)) return BLANK_BLOCKHASH_REASON;
  return undefined;
}

/** Why add and import refuse a hash that blockhashEntryCanMatch turns down. */
export const BLANK_BLOCKHASH_REASON = "blockhash is a blank image's hash (0 bits from blank): it can never match (a blockhash match must be closer to the entry than blank is)";

/**
 * A set's settings as a file carries them: the comment line `hashset export` writes first,
 * `# abuse-scan hash set: algorithm=pdq kind=block threshold=8 min_quality=50 flood_max_items=1000 flood_window_seconds=3600`.
 * Every reader of hash lists skips `#` lines (RecordSplitter), so other tools that skip comments
 * read the file as the plain CSV it is; `ABUSE_SCAN_HASHSETS_DIR` loads the set with these
 * settings (what the file does not say takes the defaults, as `hashset create` does) and `hashset
 * import` checks them against the set's. A setting missing from a line is not given; a key this
 * version does not know is refused (HashSetSettingsError), never ignored: it may change matching.
 */
export const HASH_SET_SETTINGS_MARKER = 'abuse-scan hash set:';

/** What a settings line may say; each key once. */
export interface HashSetSettings {
  algorithm?: HashAlgorithm;
  kind?: HashSetKind;
  threshold?: number;
  minQuality?: number;
  flood?: { maxItems?: number; windowSeconds?: number };
}

/** The keys of a settings line, in the order written, with each one's value in a settings object. */
export const HASH_SET_SETTINGS_KEYS = ['algorithm', 'kind', 'threshold', 'min_quality', 'flood_max_items', 'flood_window_seconds'] as const;
export type HashSetSettingsKey = (typeof HASH_SET_SETTINGS_KEYS)[number];

/** A settings line that cannot be read: the message says what is wrong (without the line number). */
export class HashSetSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashSetSettingsError';
  }
}

/** Each setting's value as written, undefined when not given. */
export function hashSetSettingValue(settings: HashSetSettings, key: HashSetSettingsKey): string | undefined {
  const value = {
    algorithm: settings.algorithm,
    kind: settings.kind,
    threshold: settings.threshold,
    min_quality: settings.minQuality,
    flood_max_items: settings.flood?.maxItems,
    flood_window_seconds: settings.flood?.windowSeconds,
  }[key];
  return value === undefined ? undefined : String(value);
}

/** The settings line of a set (without its line break): every setting, so that none takes a reader's default. */
export function formatHashSetSettingsLine(config: HashSetConfig): string {
  return `# ${HASH_SET_SETTINGS_MARKER} ${HASH_SET_SETTINGS_KEYS.map((key) => `${key}=${hashSetSettingValue(config, key)}`).join(' ')}`;
}

/** A comment line meant as a settings line: `# abuse-scan hash set:` (any case, any spaces around `#`). */
const SETTINGS_LINE = /^\s*#\s*abuse-scan hash set:(.*)$/i;

/** Integer settings: their bounds, those of hashSetConfigSchema. */
const INTEGER_SETTINGS = {
  threshold: [0, 128],
  min_quality: [0, 100],
  flood_max_items: [1, Number.MAX_SAFE_INTEGER],
  flood_window_seconds: [1, Number.MAX_SAFE_INTEGER],
} as const;

/**
 * The settings a line gives, or undefined when it is not a settings line (another comment, a
 * record). Throws HashSetSettingsError for a settings line that cannot be read whole: a word that
 * is not key=value, an unknown key, a key given twice, a value out of its range.
 */
export function parseHashSetSettingsLine(text: string): HashSetSettings | undefined {
  const body = SETTINGS_LINE.exec(text.replace(/\r$/, ''))?.[1];
  if (body === undefined) return undefined;
  const settings: HashSetSettings = {};
  const seen = new Set<string>();
  const shown = (word: string): string => JSON.stringify(word.length > 80 ? `${word.slice(0, 80)}…` : word);
  for (const word of body.trim().split(/\s+/).filter((w) => w !== '')) {
    const equals = word.indexOf('=');
    if (equals <= 0) throw new HashSetSettingsError(`settings line: ${shown(word)} is not key=value`);
    const key = word.slice(0, equals).toLowerCase();
    const value = word.slice(equals + 1);
    if (!(HASH_SET_SETTINGS_KEYS as readonly string[]).includes(key)) {
      throw new HashSetSettingsError(`settings line: unknown setting ${shown(key)} (known: ${HASH_SET_SETTINGS_KEYS.join(', ')}; a setting this version does not know could change what matches, so the file is not read without it)`);
    }
    if (seen.has(key)) throw new HashSetSettingsError(`settings line: ${key} given twice`);
    seen.add(key);
    if (key === 'algorithm' || key === 'kind') {
      const choices: readonly string[] = key === 'algorithm' ? HASH_ALGORITHMS : HASH_SET_KINDS;
      const choice = value.toLowerCase();
      if (!choices.includes(choice)) throw new HashSetSettingsError(`settings line: ${key} must be one of ${choices.join(', ')}, got ${shown(value)}`);
      if (key === 'algorithm') settings.algorithm = choice as HashAlgorithm;
      else settings.kind = choice as HashSetKind;
      continue;
    }
    const [min, max] = INTEGER_SETTINGS[key as keyof typeof INTEGER_SETTINGS];
    const number = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
    if (!(number >= min && number <= max)) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min}-${max}`;
      throw new HashSetSettingsError(`settings line: ${key} must be an integer ${range} in decimal digits, got ${shown(value)}`);
    }
    if (key === 'threshold') settings.threshold = number;
    else if (key === 'min_quality') settings.minQuality = number;
    else if (key === 'flood_max_items') settings.flood = { ...settings.flood, maxItems: number };
    else settings.flood = { ...settings.flood, windowSeconds: number };
  }
  return settings;
}

/** The configuration input a settings line gives (what it does not say is left to the defaults). */
export function hashSetSettingsInput(settings: HashSetSettings): Omit<HashSetConfigInput, 'name' | 'algorithm'> {
  return {
    ...(settings.kind !== undefined && { kind: settings.kind }),
    ...(settings.threshold !== undefined && { threshold: settings.threshold }),
    ...(settings.minQuality !== undefined && { minQuality: settings.minQuality }),
    ...(settings.flood !== undefined && { flood: { ...settings.flood } }),
  };
}

/** The settings a line gives that `config` does not have, as `key=<line's> (set: <config's>)`. */
export function hashSetSettingsDifferences(settings: HashSetSettings, config: HashSetConfig, keys: readonly HashSetSettingsKey[] = HASH_SET_SETTINGS_KEYS): string[] {
  return keys.flatMap((key) => {
    const given = hashSetSettingValue(settings, key);
    const actual = hashSetSettingValue(config, key);
    return given === undefined || given === actual ? [] : [`${key}=${given} (set: ${actual})`];
  });
}
