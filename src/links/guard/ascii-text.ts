/** String helpers the WHATWG algorithms here share (MIME types, encodings, meta refresh): pure, no regex backtracking. */

/** ASCII-only lowercasing: keeps every index (String#toLowerCase turns 'İ' into two units). */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** `text` without the leading (unless `leading` is false) and trailing characters `strip` takes; a loop, so a long run cannot backtrack. */
export function trim(text: string, strip: (c: string | undefined) => boolean, leading = true): string {
  let start = 0;
  let end = text.length;
  while (leading && start < end && strip(text[start])) start++;
  while (end > start && strip(text[end - 1])) end--;
  return text.slice(start, end);
}
