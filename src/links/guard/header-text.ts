import { isUtf8 } from 'node:buffer';
import { byteStringToBuffer } from '../percent-escapes.js';

/**
 * A response header value as browsers read it. undici hands every header over as Latin-1 (one
 * character per byte), but a `Location` or `Refresh` written in raw UTF-8 (`http://bücher.example/`)
 * is read by browsers as UTF-8 (so is it by undici's own fetch since nodejs/undici#2971). Bytes that
 * form valid UTF-8 are decoded as UTF-8; anything else keeps its Latin-1 reading. Pure logic.
 */
export function headerText(value: string): string {
  // ASCII reads the same either way; a character above U+00FF means the value is already text.
  if (!/[^\x00-\x7f]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  const bytes = byteStringToBuffer(value);
  return isUtf8(bytes) ? bytes.toString('utf8') : value;
}
