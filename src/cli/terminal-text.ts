/**
 * Text from outside (a link, a contentId, a list entry's label, a redirect's Location, an error
 * message quoting any of them) printed for a person on a terminal. Raw, a control character in it
 * is a command to the terminal: ESC [2J clears the screen, ESC ]0; retitles the window, ESC [1;31m
 * colours what follows, CR and a newline overwrite or add lines, so a link could erase the real
 * decision line and print a fake one. Bidi controls reorder what is displayed (Trojan Source), and
 * U+2028/2029 break lines in some terminals and viewers.
 *
 * Every human-readable output of the CLI sends such text through terminalSafe. `--json` output is
 * left as it is: it is read by programs, and JSON.stringify already escapes C0 controls.
 */

/**
 * C0 controls (tab and newline included: they would fake columns and lines), DEL, C1 controls,
 * the line and paragraph separators, and the bidirectional formatting characters (LRM, RLM, ALM,
 * the embeddings, overrides and isolates).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** The character as visible text: `\x1b` for C0, DEL and C1, `\u202e` for the others. */
function visible(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control, separator and bidi formatting character shown as an escape (`\x1b`, `\u202e`); anything else unchanged. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, visible);
}
