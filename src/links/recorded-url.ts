/**
 * Most characters of a URL that a server chose (a redirect target, a refresh, where a fetch
 * ended) kept where the fleet records it: verdict details, warnings, error details and messages.
 * Such URLs may be up to maxHrefLength (73,792 characters by default) and a hop chain holds a
 * dozen: copied whole, one short link made a server's Location headers into 0.8 MB of verdict,
 * stored twice and read by every consumer. Matching always uses the whole URL (or its cut
 * canonical form); only the record is shortened.
 */
export const MAX_RECORDED_URL_LENGTH = 2048;

/** `url` as recorded: whole when it fits, else its first MAX_RECORDED_URL_LENGTH characters and `…`. */
export function recordedUrl(url: string): string {
  return url.length <= MAX_RECORDED_URL_LENGTH ? url : `${url.slice(0, MAX_RECORDED_URL_LENGTH)}…`;
}
