import { ScanError } from '../errors.js';
import type { ScanItem } from '../jobs/job-schema.js';
import { IMAGE_VIEWS, decodeImage, hashFrames, type DecodedImage, type DecodeOptions, type ImageHashes } from '../images/index.js';
import { hashToHex } from '../matching/hash-bits.js';
import { recordedUrl } from '../links/recorded-url.js';
import { loadImageBytes, type ImageSourceOptions } from './image-source.js';
import type { ItemPreparer, PreparedItem } from './item-preparer.js';

/** What image signal types read: the one decode and the hashes of every sampled frame. */
export interface ImageSubject {
  decoded: DecodedImage;
  /**
   * Hashes per decoded frame, frames[0] (the first frame) first; PDQ dihedral variants included,
   * and each frame's views as viewers show it, those it has (ImageHashes.views, IMAGE_VIEWS).
   */
  frames: ImageHashes[];
}

export interface ImagePreparerOptions {
  source: ImageSourceOptions;
  decode?: DecodeOptions;
}

/**
 * Prepares image items once for every image signal type: loads the bytes from wherever the item
 * names, decodes them once (safely: limits, refused formats, frame sampling) and hashes each
 * sampled frame with blockhash and PDQ (with its dihedral variants, so rotated copies match). Each
 * frame is also hashed as viewers show it (images/index.ts IMAGE_VIEWS): upright by its EXIF
 * orientation, on white and on black when it has alpha, without a uniform border, and
 * contrast-stretched when low contrast holds its PDQ quality down, so a known picture stored
 * turned, carried in its alpha channel, framed or faded matches as it is shown.
 */
export class ImagePreparer implements ItemPreparer<ImageSubject> {
  readonly kind = 'image' as const;

  constructor(private readonly options: ImagePreparerOptions) {}

  async prepare(item: ScanItem, _index: number, signal: AbortSignal): Promise<PreparedItem<ImageSubject>> {
    if (typeof item === 'string') throw new ScanError('unsupported_item', 'image preparer got a link item');
    const { bytes, fetched } = await loadImageBytes(item, this.options.source, signal);
    const decoded = await decodeImage(bytes, this.options.decode);
    const frames = hashFrames(decoded, { dihedral: true, viewerViews: true });
    const views = IMAGE_VIEWS.filter((view) => frames.some((frame) => frame.views?.some((hashed) => hashed.view === view)));
    const first = frames[0]!;
    return {
      subject: { decoded, frames },
      details: {
        format: decoded.format,
        width: decoded.width,
        height: decoded.height,
        bytes: bytes.byteLength,
        // Where a URL's bytes came from: a shortener or redirect hides the host that served them.
        ...(fetched && { fetchedFrom: recordedUrl(fetched.finalUrl), redirects: fetched.redirects }),
        frameCount: decoded.frameCount,
        framesHashed: frames.length,
        // Which frames of the file those are: an animation's are sampled across it.
        ...(decoded.frameCount > 1 && { sampledFrames: decoded.frames.map((frame) => frame.index) }),
        // An APNG's default image, hashed after its frames under the number one past the last.
        ...(decoded.frames.some((frame) => frame.apngDefaultImage) && { apngDefaultImageFrame: decoded.frameCount }),
        pdq: hashToHex(first.pdq),
        pdqQuality: first.pdqQuality,
        blockhash: hashToHex(first.blockhash),
        // Views of the frames hashed besides their stored pixels (a hash-set match names its own).
        ...(views.length > 0 && { views }),
        // Too large to decode twice: transparent areas hashed black, whatever colour they store.
        ...(decoded.transparentColoursLost && { transparentColoursLost: true }),
      },
    };
  }
}
