/**
 * `abuse-scan hash --views`: the hashes a hash-set match with `view` in its evidence matched (the
 * image as viewers see it: upright by its EXIF orientation, flattened onto white and onto black
 * when it has alpha, without a uniform border), so a trust engineer can reproduce the match or
 * add that view to a known-good set. An ordinary photo (opaque, upright, borderless) has none.
 * With --json the views are an array, in the scan's order, each { view, box?, blockhash, pdq,
 * pdqQuality }: a frame can have several views of one name (a border's rings, each trimmed view
 * stretched), which an object keyed by name dropped but for the last.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DIHEDRAL_VARIANTS, decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { alphaCarried } from '../harness/alpha-carried.js';
import { runCli } from '../harness/cli.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

const OFFLINE = { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}
interface PrintedView {
  view: string;
  box?: Box;
  blockhash: string;
  pdq: string;
  pdqQuality: number;
  dihedral?: Record<string, string>;
  blockhashDihedral?: Record<string, string>;
}

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
    const printed = JSON.parse(stdout) as { views: PrintedView[] };
    const expected = hashImage(await decodeImage(png), { viewerViews: true }).views!;
    expect(expected.map((v) => v.view)).toContain('on-white');
    // No box: none of these views is trimmed (the picture fills the frame).
    expect(printed.views).toEqual(expected.map((viewed) => ({ view: viewed.view, blockhash: hashToHex(viewed.blockhash), pdq: hashToHex(viewed.pdq), pdqQuality: viewed.pdqQuality })));
    expect(printed.views.find((viewed) => viewed.view === 'on-white')!.pdqQuality).toBeGreaterThan(50);
  }, 30_000);

  it('prints the upright and trimmed views of a framed picture stored turned, with the box trimmed', async () => {
    // clouds.jpg (640x480) in a 40-pixel white frame, stored a quarter turn back and tagged 6.
    const framed = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).extend({ top: 40, bottom: 40, left: 40, right: 40, background: 'white' }).png().toBuffer();
    const bytes = await sharp(await sharp(framed).rotate(270).png().toBuffer()).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const file = join(dir, 'turned-framed.jpg');
    writeFileSync(file, bytes);

    const { code, stdout } = await runCli(['hash', '--json', '--views', file], { env: OFFLINE });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as { views: PrintedView[] };
    const expected = hashImage(await decodeImage(bytes), { viewerViews: true }).views!;
    expect(expected.map((v) => v.view)).toEqual(['upright', 'trimmed']);
    expect(printed.views.map((viewed) => viewed.view)).toEqual(['upright', 'trimmed']);
    expected.forEach((viewed, i) => {
      expect(printed.views[i], viewed.view).toMatchObject({ view: viewed.view, blockhash: hashToHex(viewed.blockhash), pdq: hashToHex(viewed.pdq), pdqQuality: viewed.pdqQuality });
    });
    // The box in the upright image's pixels (720x560), within a JPEG block of the frame.
    const box = printed.views[1]!.box!;
    expect(Math.abs(box.left - 40)).toBeLessThanOrEqual(4);
    expect(Math.abs(box.top - 40)).toBeLessThanOrEqual(4);
    expect(Math.abs(box.width - 640)).toBeLessThanOrEqual(8);
    expect(Math.abs(box.height - 480)).toBeLessThanOrEqual(8);
    expect(printed.views[0]).not.toHaveProperty('box');
  }, 30_000);

  it('prints every ring of a border: two trimmed views, each with its box', async () => {
    // clouds.jpg (640x480) on a 20-pixel white mat inside a 20-pixel black outline (720x560).
    const matted = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).extend({ top: 20, bottom: 20, left: 20, right: 20, background: 'white' }).png().toBuffer();
    const bytes = await sharp(matted).extend({ top: 20, bottom: 20, left: 20, right: 20, background: 'black' }).jpeg({ quality: 95 }).toBuffer();
    const file = join(dir, 'rings.jpg');
    writeFileSync(file, bytes);

    const { code, stdout } = await runCli(['hash', '--json', '--views', file], { env: OFFLINE });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as { views: PrintedView[] };
    const expected = hashImage(await decodeImage(bytes), { viewerViews: true }).views!;
    expect(expected.map((v) => v.view)).toEqual(['trimmed', 'trimmed']);
    expect(printed.views.map((viewed) => ({ view: viewed.view, pdq: viewed.pdq }))).toEqual(expected.map((viewed) => ({ view: viewed.view, pdq: hashToHex(viewed.pdq) })));
    // Inside the outline (40 pixels in all), then inside the mat (the picture, 640x480 at 40,40).
    const [outline, mat] = printed.views.map((viewed) => viewed.box!);
    expect(Math.abs(outline!.left - 20)).toBeLessThanOrEqual(4);
    expect(Math.abs(outline!.width - 680)).toBeLessThanOrEqual(8);
    expect(Math.abs(mat!.left - 40)).toBeLessThanOrEqual(4);
    expect(Math.abs(mat!.width - 640)).toBeLessThanOrEqual(8);
  }, 30_000);

  it('--dihedral prints the eight variants of blockhash too, keyed as PDQ\'s, on the stored pixels and each view', async () => {
    // clouds.jpg in a 30-pixel white frame: the stored pixels and one trimmed view.
    const bytes = await sharp(join(FIXTURE_IMAGES, 'clouds.jpg')).extend({ top: 30, bottom: 30, left: 30, right: 30, background: 'white' }).jpeg({ quality: 95 }).toBuffer();
    const file = join(dir, 'framed.jpg');
    writeFileSync(file, bytes);
    const { code, stdout } = await runCli(['hash', '--json', '--dihedral', '--views', file], { env: OFFLINE });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as PrintedView & { views: PrintedView[] };
    const expected = hashImage(await decodeImage(bytes), { viewerViews: true, dihedral: true });
    expect(expected.views!.map((viewed) => viewed.view)).toEqual(['trimmed']);
    const keyed = (hashes: Uint8Array[]) => Object.fromEntries(hashes.map((hash, i) => [DIHEDRAL_VARIANTS[i]!, hashToHex(hash)]));
    expect(printed.dihedral).toEqual(keyed(expected.dihedral!));
    expect(printed.blockhashDihedral).toEqual(keyed(expected.blockhashDihedral!));
    expect(printed.blockhashDihedral!.original).toBe(printed.blockhash);
    expected.views!.forEach((viewed, i) => {
      expect(printed.views[i]!.blockhashDihedral, viewed.view).toEqual(keyed(viewed.blockhashDihedral!));
      expect(printed.views[i]!.dihedral, viewed.view).toEqual(keyed(viewed.dihedral!));
    });

    // In text, each picture's variants under a heading per algorithm.
    const text = await runCli(['hash', '--dihedral', file], { env: OFFLINE });
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines.slice(3, 12)).toEqual(['  pdq variants', ...DIHEDRAL_VARIANTS.map((variant) => `    ${variant.padEnd(11)} ${printed.dihedral![variant]}`)]);
    expect(lines.slice(12, 21)).toEqual(['  blockhash variants', ...DIHEDRAL_VARIANTS.map((variant) => `    ${variant.padEnd(11)} ${printed.blockhashDihedral![variant]}`)]);
  }, 30_000);

  it('prints no view for an opaque image', async () => {
    const { code, stdout } = await runCli(['hash', '--json', '--views', join(FIXTURE_IMAGES, 'shapes.jpg')], { env: OFFLINE });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ views: [] });
  }, 30_000);
});
