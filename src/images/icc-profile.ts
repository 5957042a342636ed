/**
 * Whether an embedded ICC profile may go to lcms. An image with no stored RGB (CMYK, Lab) is
 * converted to sRGB through its profile, and lcms builds that transform by running the profile's
 * pipeline at every point of a grid (17^4 points for CMYK) in one native call that sharp's timeout
 * cannot stop. A lut-based pipeline (A2Bx: lut8, lut16, lutAtoB) has a fixed number of stages:
 * its cost follows its bytes (67 ms for a 2.3 MB CLUT, 170 ms for the largest profile libvips
 * reads from a JPEG). A D2Bx tag
 * (multiProcessElements, which lcms prefers to A2Bx whenever present) has as many stages as it
 * lists, each a few bytes: a 64x64 CMYK JPEG of 81 KB with a 10,000-stage D2B0 kept a decode
 * thread busy for 21 to 52 s, long after its 10 s image_timeout. Real CMYK profiles (SWOP, FOGRA,
 * GRACoL, ghostscript's, libvips's own) are lut-based, so a profile with such a tag is not used:
 * the image is decoded as if it had none (libvips's own CMYK profile). Ignoring every CMYK profile
 * would not do: decoding through libvips's profile instead of ghostscript's moved pixels by 4 to
 * 20 levels on average and PDQ by up to 14 bits.
 *
 * Pure and bounded: one walk of the tag table, at most one entry per 12 bytes; never throws. A
 * profile too short to have a table is left to lcms, which refuses it at once.
 */

const TAG_TABLE = 128;
const ENTRY_BYTES = 12;
/** Tag signatures lcms reads as multiProcessElements pipelines: D2B0-3 (device to PCS), B2D0-3. */
const PIPELINE_TAGS = /^(D2B|B2D)[0-3]$/;
/** The multiProcessElements tag type. */
const MPET = 'mpet';

/**
 * The tag that keeps the profile from lcms (its signature), or undefined when there is none: a
 * D2Bx or B2Dx tag, or any tag of type multiProcessElements.
 */
export function unboundedIccTag(profile: Uint8Array): string | undefined {
  if (profile.length < TAG_TABLE + 4) return undefined;
  const bytes = Buffer.from(profile.buffer, profile.byteOffset, profile.byteLength);
  const count = Math.min(bytes.readUInt32BE(TAG_TABLE), Math.floor((bytes.length - TAG_TABLE - 4) / ENTRY_BYTES));
  for (let i = 0, at = TAG_TABLE + 4; i < count; i++, at += ENTRY_BYTES) {
    const signature = bytes.toString('latin1', at, at + 4);
    if (PIPELINE_TAGS.test(signature)) return signature;
    const offset = bytes.readUInt32BE(at + 4);
    if (offset + 4 <= bytes.length && bytes.toString('latin1', offset, offset + 4) === MPET) return signature;
  }
  return undefined;
}
