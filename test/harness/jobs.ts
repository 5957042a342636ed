import { join } from 'node:path';
import sharp from 'sharp';
import type { ScanJobInput } from '../../src/jobs/job-schema.js';
import { seededRandom } from './seeded-random.js';

/** A tiny real PNG (8x8, two colours), so image jobs exercise the decode path. */
export const SMALL_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAYAAADED76LAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAFElEQVQYlWP4jwaM086gYIaRoQAAop7MAZ/Ik/MAAAAASUVORK5CYII=';

/**
 * Job number i of a mixed workload: two in three are links only, one in three carries an image.
 * Links point at `linkOrigin` (a local test server) or, by default, at reserved `.example` names.
 */
export function mixedJob(i: number, linkOrigin?: string): ScanJobInput {
  const links = linkOrigin
    ? [`${linkOrigin}/r/${i}?ref=mail`, `${linkOrigin}/page/${i % 50}`]
    : [`https://site-${i % 50}.example/page/${i}?ref=mail`, `http://short.example/${i.toString(36)}`];
  return {
    contentId: `content-${i}`,
    surface: i % 2 ? 'send' : 'upload',
    ...(i % 5 === 0 && { tenant: `tenant-${i % 3}` }),
    items: i % 3 === 0 ? [...links, { bytesBase64: SMALL_PNG_BASE64 }] : links,
  };
}

/** A 2400x2400 PNG of noise written to `dir`: a decode of a few hundred ms, so a scan of it is under way for a while. */
export async function writeSlowImage(dir: string, seed = 75): Promise<string> {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(2400 * 2400 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
  const path = join(dir, 'noise.png');
  await sharp(pixels, { raw: { width: 2400, height: 2400, channels: 3 } }).png({ compressionLevel: 1 }).toFile(path);
  return path;
}
