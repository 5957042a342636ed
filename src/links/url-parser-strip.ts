/**
 * `text` with what the WHATWG URL parser strips before it reads a URL: tab and newlines anywhere,
 * C0 controls and spaces at either end (not trim()'s Unicode spaces, which it keeps; and a leading
 * \x01 must not hide the scheme). Pure.
 */
export function stripAsUrlParser(text: string): string {
  return text.replace(/[\t\r\n]/g, '').replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
}
