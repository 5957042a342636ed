/**
 * `abuse-scan hash --views`: the hashes a hash-set match with `view` in its evidence matched (an
 * image with alpha as viewers see it, flattened onto white and onto black), so a trust engineer can
 * reproduce the match or add that view to a known-good set. An opaque image has none.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const expected = hashImage(await decodeImage(png), { alphaViews: true }).views!;
    expect(expected.map((v) => v.view)).toContain('on-white');
    for (const viewed of expected) {
      expect(printed.views[viewed.view]).toEqual({ blockhash: hashToHex(viewed.blockhash), pdq: hashToHex(viewed.pdq), pdqQuality: viewed.pdqQuality });
    }
    expect(printed.views['on-white']!.pdqQuality).toBeGreaterThan(50);
  }, 30_000);

  it('prints no view for an opaque image', async () => {
    const { code, stdout } = await runCli(['hash', '--json', '--views', join(FIXTURE_IMAGES, 'shapes.jpg')], { env: OFFLINE });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ views: {} });
  }, 30_000);
});
