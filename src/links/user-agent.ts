/**
 * The User-Agent of every request the fleet makes to a site (unfurls and image URLs): some hosts
 * refuse requests without one (a 403 a verdict would report as the permanent http_error), and it
 * names the fetcher honestly for the sites' logs.
 */
export const DEFAULT_USER_AGENT = 'Mozilla/5.0 (compatible; abuse-scan-unfurler/0.1)';
