/**
 * What a hash set is: its name, the perceptual hash it holds, how close a match must be and what a
 * match asks for. Stored with the set (in Redis or next to a CSV file) and read by every worker.
 */
import { z } from 'zod';

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
  /** PDQ quality floor (0-100) for adding and for matching; ignored for blockhash (see passesFlatnessGuard). Default 50. */
  minQuality: z.number().int().min(0).max(100).default(DEFAULT_MIN_QUALITY),
  /** Flood protection: when an entry matches too much, its matches go to review. */
  flood: floodConfigSchema.default(floodConfigSchema.parse({})),
});

export type HashSetConfigInput = z.input<typeof hashSetConfigSchema>;
export type HashSetConfig = Omit<z.output<typeof hashSetConfigSchema>, 'threshold'> & { threshold: number };

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
 * Blockhash's counterpart of the PDQ floor, for matching: whether a frame whose blockhash is
 * `bitsFromBlank` bits from the nearest blank image's hash (blockhashBitsFromBlank) may match the
 * set. Not when it is within the set's threshold of it: such a frame (blank, or mostly flat: a
 * dark background with a small caption) lies within the threshold of every blank image and of
 * every entry that is mostly flat too, so a match says nothing about what it shows. A photo is
 * about 128 bits from blank; the default threshold is 64. PDQ sets take all.
 */
export function passesFlatnessGuard(config: Pick<HashSetConfig, 'algorithm' | 'threshold'>, bitsFromBlank: number): boolean {
  return config.algorithm !== 'blockhash' || bitsFromBlank > config.threshold;
}
