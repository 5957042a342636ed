/**
 * Blockhash's blank rule end to end, on images made with sharp and decoded as workers decode them:
 * a frame matches an entry only when it is closer to it than to a blank image's hash. A white
 * caption on black, added with `abuse-scan hashset add` to a blockhash set in Redis, is blocked
 * by a running worker when uploaded again (it was let through: the old guard dropped every frame
 * within the threshold of blank), while a solid black upload and a near-black one (a small white
 * mark in a corner), both within the threshold of the caption, are not; nor does the caption
 * match a near-blank entry (a small white mark in the middle) that a blank image is closer to.
 * A blank entry can never match: add and import refuse it like a PDQ hash below the quality floor.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { DEFAULT_THRESHOLDS } from '../../src/hashsets/hash-set-config.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { blockhashBitsFromBlank, decodeImage, hashImage } from '../../src/images/index.js';
import type { ConsumedVerdict } from '../../src/jobs/verdict-schema.js';
import { hammingDistance, hashToHex } from '../../src/matching/hash-bits.js';
import { runCli } from '../harness/cli.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

/** 5x7 glyphs, one string per row, '#' lit. */
const GLYPHS: Record<string, string[]> = {
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  I: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '#####'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
};

const WIDTH = 800;
const HEIGHT = 450;

/** Black RGB pixels of WIDTH x HEIGHT. */
const black = () => Buffer.alloc(WIDTH * HEIGHT * 3);

/** White `text` in 8-pixel dots, centred on `pixels`. */
function caption(pixels: Buffer, text: string): Buffer {
  const dot = 8;
  const left = Math.floor((WIDTH - text.length * 6 * dot) / 2);
  const top = Math.floor((HEIGHT - 7 * dot) / 2);
  [...text].forEach((char, i) =>
    GLYPHS[char]!.forEach((row, y) =>
      [...row].forEach((cell, x) => {
        if (cell !== '#') return;
        for (let py = top + y * dot; py < top + (y + 1) * dot; py++) {
          const from = (py * WIDTH + left + (i * 6 + x) * dot) * 3;
          pixels.fill(255, from, from + dot * 3);
        }
      }),
    ),
  );
  return pixels;
}

/** A white mark of 40x30 pixels in the top-left corner, or of 60x40 in the middle. */
function mark(pixels: Buffer, middle = false): Buffer {
  const [left, top, width, height] = middle ? [370, 205, 60, 40] : [20, 20, 40, 30];
  for (let y = top; y < top + height; y++) pixels.fill(255, (y * WIDTH + left) * 3, (y * WIDTH + left + width) * 3);
  return pixels;
}

const png = (pixels: Buffer) => sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).png().toBuffer();
const hashesOf = async (bytes: Buffer) => hashImage(await decodeImage(bytes));

describe('blockhash sets: a frame matches an entry only when closer to it than to blank', () => {
  const prefix = uniquePrefix('hashset-blank-rule');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });
  const dir = mkdtempSync(join(tmpdir(), 'hashset-blank-rule-'));
  const files = { caption: join(dir, 'caption.png'), reencoded: join(dir, 'caption-reencoded.jpg'), black: join(dir, 'black.png'), nearBlack: join(dir, 'near-black.png'), marked: join(dir, 'marked.png') };
  const images: Record<keyof typeof files, Buffer> = {} as Record<keyof typeof files, Buffer>;
  const cli = (...args: string[]) => runCli(args, { env: { ABUSE_SCAN_PREFIX: prefix }, timeoutMs: 60_000 });
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>> | undefined;
  let scans = 0;

  const scan = async (bytes: Buffer): Promise<ConsumedVerdict> => {
    const { jobId } = await client.enqueue({ contentId: `upload-${scans}`, surface: 'upload', items: [{ bytesBase64: bytes.toString('base64') }] }, { jobId: `blank-rule-${scans++}` });
    return client.waitForVerdict(jobId, { timeoutMs: 20_000 });
  };
  const hashSetSignals = (verdict: ConsumedVerdict) => verdict.signals.filter((signal) => signal.source === 'hashset');

  beforeAll(async () => {
    images.caption = await png(caption(black(), 'KILL THEM ALL'));
    images.reencoded = await sharp(images.caption).jpeg({ quality: 85 }).toBuffer(); // the same picture, re-encoded
    images.black = await png(black());
    images.nearBlack = await png(mark(black()));
    images.marked = await png(mark(black(), true));
    for (const [name, bytes] of Object.entries(images)) writeFileSync(files[name as keyof typeof files], bytes);
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('the images: a mostly flat caption (PDQ quality 100), and two uploads within the threshold of it but nearer blank', async () => {
    const [caption, reencoded, blackHashes, nearBlack] = await Promise.all([images.caption, images.reencoded, images.black, images.nearBlack].map(hashesOf));
    const fromBlank = blockhashBitsFromBlank(caption!.blockhash);
    expect(fromBlank).toBeGreaterThan(0);
    expect(fromBlank).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.blockhash); // the old guard dropped it: never matched
    expect(caption!.pdqQuality).toBe(100);
    // JPEG's ringing lifts dark blocks next to the letters above the band's median (black): the
    // re-encode moves some bits, and as many away from blank, so it is still nearer the caption.
    const reencodedToCaption = hammingDistance(reencoded!.blockhash, caption!.blockhash);
    expect(reencodedToCaption).toBeGreaterThan(0);
    expect(reencodedToCaption).toBeLessThan(blockhashBitsFromBlank(reencoded!.blockhash));
    expect(blockhashBitsFromBlank(blackHashes!.blockhash)).toBe(0);
    const blackToCaption = hammingDistance(blackHashes!.blockhash, caption!.blockhash);
    expect(blackToCaption).toBe(fromBlank);
    expect(blackToCaption).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.blockhash); // within reach: the rule is what keeps it out
    const nearFromBlank = blockhashBitsFromBlank(nearBlack!.blockhash);
    const nearToCaption = hammingDistance(nearBlack!.blockhash, caption!.blockhash);
    expect(nearFromBlank).toBeGreaterThan(0);
    expect(nearToCaption).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.blockhash);
    expect(nearToCaption).toBeGreaterThanOrEqual(nearFromBlank);
    // The other way round: the caption is closer to the near-blank mark than to blank, but a blank
    // image is closer to the mark than the caption is: only the entry's side of the rule keeps the
    // caption from matching the mark. Its re-encode (nearer blank than the caption since the
    // gradients' patterns are blank hashes) is farther from the mark than a blank image is from
    // either of them: both sides keep it out.
    const marked = await hashesOf(images.marked);
    const markFromBlank = blockhashBitsFromBlank(marked.blockhash);
    const captionToMark = hammingDistance(caption!.blockhash, marked.blockhash);
    expect(captionToMark).toBeLessThan(fromBlank); // the caption's (the upload's) side passes
    expect(captionToMark).toBeGreaterThanOrEqual(markFromBlank); // the mark's (the entry's) side does not
    const reencodedToMark = hammingDistance(reencoded!.blockhash, marked.blockhash);
    expect(reencodedToMark).toBeGreaterThanOrEqual(markFromBlank); // the entry's side
    expect(reencodedToMark).toBeGreaterThanOrEqual(blockhashBitsFromBlank(reencoded!.blockhash)); // and the upload's own
  });

  it('add refuses a blank image and a blank hex hash (hash_low_quality), nothing added; the caption is added', async () => {
    expect((await cli('hashset', 'create', 'captions', '--algorithm', 'blockhash')).code).toBe(0);
    const blackImage = await cli('hashset', 'add', 'captions', files.black);
    expect(blackImage).toMatchObject({ code: 1, stderr: expect.stringMatching(/^abuse-scan: hash_low_quality: .*black\.png: blockhash is a blank image's hash \(0 bits from blank\): it can never match .*; nothing added\n$/) });
    // One blank input among good ones: the whole add is refused.
    const mixed = await cli('hashset', 'add', 'captions', files.caption, 'f'.repeat(64));
    expect(mixed).toMatchObject({ code: 1, stderr: expect.stringMatching(/hash_low_quality: f{64}: blockhash is a blank image's hash/) });
    expect((await store.summary('captions')).size).toBe(0);

    const added = await cli('hashset', 'add', 'captions', files.caption, '--id', 'caption-1', '--label', 'known-bad caption');
    expect(added).toMatchObject({ code: 0, stdout: expect.stringContaining('added 1, unchanged 0, conflicts 0; captions at version 1') });
    expect((await cli('hashset', 'create', 'marks', '--algorithm', 'blockhash')).code).toBe(0);
    expect((await cli('hashset', 'add', 'marks', files.marked, '--id', 'mark-1')).code).toBe(0);
  }, 120_000);

  it('import reports each blank line and skips it (exit 2), or writes nothing past --max-bad', async () => {
    expect((await cli('hashset', 'create', 'imported', '--algorithm', 'blockhash')).code).toBe(0);
    const caption = hashToHex((await hashesOf(images.caption)).blockhash);
    const csv = join(dir, 'captions.csv');
    writeFileSync(csv, ['hash,label,id', `${'0'.repeat(64)},solid black,k0`, `${caption},known-bad caption,k1`, `${'ffffffffffffffff'.repeat(2)}${'0'.repeat(32)},bright top half,k2`, ''].join('\n'));

    const strict = await cli('hashset', 'import', 'imported', csv, '--max-bad', '1');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain(`${csv}:2: blockhash is a blank image's hash (0 bits from blank)`);
    expect(strict.stderr).toContain(`${csv}:4: blockhash is a blank image's hash (0 bits from blank)`);
    expect(strict.stderr).toContain('nothing imported: 2 bad lines (more than --max-bad 1)\n');
    expect((await store.summary('imported')).size).toBe(0);

    const lenient = await cli('hashset', 'import', 'imported', csv);
    expect(lenient.code).toBe(2);
    expect(lenient.stdout).toContain('added 1, unchanged 0, conflicts 0, skipped 2 bad and 0 repeated lines; version 1');
    const exported = await cli('hashset', 'export', 'imported');
    expect(exported.stdout).toContain(`${caption},known-bad caption,k1`);
    expect(exported.stdout).not.toContain('k0');
  }, 120_000);

  it('a running worker blocks a copy of the caption at distance 0 and its re-encode, not a black or near-black upload; the caption does not match a near-blank entry', async () => {
    worker = await startInProcessWorker(prefix);
    const copy = await scan(images.caption);
    expect(copy.decision).toBe('block');
    const [signal] = hashSetSignals(copy).filter((s) => s.evidence.set === 'captions');
    expect(signal).toMatchObject({
      kind: 'blockhash_match',
      suggests: 'block',
      score: 1,
      evidence: { set: 'captions', entryId: 'caption-1', label: 'known-bad caption', distance: 0, threshold: 64, bitsFromBlank: blockhashBitsFromBlank((await hashesOf(images.caption)).blockhash), matches: 1 },
    });
    const reencoded = await scan(images.reencoded);
    expect(reencoded.decision).toBe('block');
    const [again] = hashSetSignals(reencoded).filter((s) => s.evidence.set === 'captions');
    expect(again).toMatchObject({ suggests: 'block', evidence: { entryId: 'caption-1', distance: expect.any(Number) } });
    expect(again!.evidence.distance).toBeLessThan(again!.evidence.bitsFromBlank as number);
    expect(hashSetSignals(copy).map((s) => s.evidence.set)).not.toContain('marks');
    expect(hashSetSignals(reencoded).map((s) => s.evidence.set)).not.toContain('marks');
    for (const upload of [images.black, images.nearBlack]) {
      const verdict = await scan(upload);
      expect(hashSetSignals(verdict)).toEqual([]);
      expect(verdict.decision).not.toBe('block');
    }
    // The near-blank entry still matches its own copy.
    const marked = await scan(images.marked);
    expect(hashSetSignals(marked)).toEqual([expect.objectContaining({ suggests: 'block', evidence: expect.objectContaining({ set: 'marks', entryId: 'mark-1', distance: 0 }) })]);
  }, 120_000);
});
