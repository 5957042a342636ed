/**
 * `abuse-scan hash --views`: the hashes a hash-set match with `view` in its evidence matched (the
 * image as viewers see it: upright by its EXIF orientation, flattened onto white and onto black
 * when it has alpha, without a uniform border), so a trust engineer can reproduce the match or
 * add that view to a known-good set. An ordinary photo (opaque, upright, borderless) has none.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { alphaCarried } from '../harness/alpha-carried.js';
import { runCli } from '../harness/cli.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const OFFLINE = { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };

describe('abuse-scan hash --views', () => {
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-hash-views-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints each view's hashes, as the scan computes them, for an image carried in its alpha channel", async () => {
    // Flat black RGB, the picture in alpha: blank as stored, the picture on a white page.
    const { png } = await alphaCarried('shapes.jpg', 'white');
    const file = join(dir, 'alpha.png');
    writeFileSync(file, png);

    const { code, stdout } = await runCli(['hash', '--json', '--views', file], { env: OFFLINE });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as { views: Record<string, { pdq: string; blockhash: string; pdqQuality: number }> };
    const expected = hashImage(await decodeImage(png), { viewerViews: true }).views!;
    expect(expected.map((v) => v.view)).toContain('on-white');
    for (const viewed of expected) {
      expect(printed.views[viewed.view]).toEqual({ blockhash: hashToHex(viewed.blockhash), pdq: hashToHex(viewed.pdq), pdqQuality: viewed.pdqQuality });
    }
    expect(printed.views['on-white']!.pdqQuality).toBeGreaterThan(50);
  }, 30_000);

  it('prints the upright and trimmed views of a framed picture stored turned, with the box trimmed', async () => {
    // clouds.jpg (640x480) in a 40-pixel white frame, stored a quarter turn back and tagged 6.
    const framed = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).extend({ top: 40, bottom: 40, left: 40, right: 40, background: 'white' }).png().toBuffer();
    const bytes = await sharp(await sharp(framed).rotate(270).png().toBuffer()).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const file = join(dir, 'turned-framed.jpg');
    writeFileSync(file, bytes);

    const { code, stdout } = await runCli(['hash', '--json', '--views', file], { env: OFFLINE });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as { views: Record<string, { pdq: string; blockhash: string; pdqQuality: number; box?: { left: number; top: number; width: number; height: number } }> };
    const expected = hashImage(await decodeImage(bytes), { viewerViews: true }).views!;
    expect(expected.map((v) => v.view)).toEqual(['upright', 'trimmed']);
    expect(Object.keys(printed.views)).toEqual(['upright', 'trimmed']);
    for (const viewed of expected) {
      expect(printed.views[viewed.view], viewed.view).toMatchObject({ blockhash: hashToHex(viewed.blockhash), pdq: hashToHex(viewed.pdq), pdqQuality: viewed.pdqQuality });
    }
    // The box in the upright image's pixels (720x560), within a JPEG block of the frame.
    const box = printed.views.trimmed!.box!;
    expect(Math.abs(box.left - 40)).toBeLessThanOrEqual(4);
    expect(Math.abs(box.top - 40)).toBeLessThanOrEqual(4);
    expect(Math.abs(box.width - 640)).toBeLessThanOrEqual(8);
    expect(Math.abs(box.height - 480)).toBeLessThanOrEqual(8);
    expect(printed.views.upright).not.toHaveProperty('box');
  }, 30_000);

  it('prints no view for an opaque image', async () => {
    const { code, stdout } = await runCli(['hash', '--json', '--views', join(FIXTURE_IMAGES, 'shapes.jpg')], { env: OFFLINE });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ views: {} });
  }, 30_000);
});
