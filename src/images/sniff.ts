/**
 * A cheap look at the first bytes, before any decoder sees them. Its only job is to keep
 * scriptable or vector documents (SVG and other markup, PDF, PostScript) and compressed
 * wrappers away from libvips, whose loaders for those would parse (and, for SVG, render)
 * untrusted documents. Raster formats are identified by sharp itself from its own magic bytes;
 * decode.ts still refuses any vector format sharp reports, should one get past this.
 */

export type SniffedDocument = 'svg' | 'markup' | 'pdf' | 'postscript' | 'gzip';

const SNIFF_WINDOW = 4096;

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

const ascii = (text: string): number[] => Array.from(text, (c) => c.charCodeAt(0));
const PDF = ascii('%PDF-');
const POSTSCRIPT = ascii('%!PS');
const EPS_BINARY = [0xc5, 0xd0, 0xd3, 0xc6];
const GZIP = [0x1f, 0x8b];
const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** Returns the refused document kind the bytes start as, or undefined for anything else. */
export function sniffRefusedDocument(bytes: Uint8Array): SniffedDocument | undefined {
  if (startsWith(bytes, PDF)) return 'pdf';
  if (startsWith(bytes, POSTSCRIPT) || startsWith(bytes, EPS_BINARY)) return 'postscript';
  // Compressed SVG (svgz) is gzip; no raster format we accept starts like that.
  if (startsWith(bytes, GZIP)) return 'gzip';
  return sniffMarkup(bytes);
}

/** All ASCII whitespace: libvips still hands SVG behind a form feed or vertical tab to its SVG loader. */
const ASCII_WHITESPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]);

/**
 * Markup: after an optional BOM and whitespace, a '<'. No raster format starts that way, so all
 * of it is refused before a decoder parses it: 'svg' when an <svg element shows early on, else
 * 'markup' (SVG hidden behind a long prologue or comment, HTML, other XML).
 */
function sniffMarkup(bytes: Uint8Array): SniffedDocument | undefined {
  let start = startsWith(bytes, UTF8_BOM) ? 3 : 0;
  while (start < bytes.length && ASCII_WHITESPACE.has(bytes[start]!)) start++;
  if (bytes[start] !== 0x3c /* < */) return undefined;
  const head = Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(SNIFF_WINDOW, bytes.length - start));
  return /<svg[\s>/]/i.test(head.toString('latin1')) ? 'svg' : 'markup';
}
