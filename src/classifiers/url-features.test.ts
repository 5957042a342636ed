import { describe, expect, it } from 'vitest';
import { canonicalize } from '../links/canonicalize.js';
import { DENSE_FEATURES, URL_FEATURE_DIMENSION, urlFeatures } from './url-features.js';

const dense = (url: string) => {
  const features = urlFeatures(url);
  const offset = URL_FEATURE_DIMENSION - DENSE_FEATURES.length;
  return Object.fromEntries(DENSE_FEATURES.map((name, i) => [name, features[offset + i]!]));
};

describe('URL features', () => {
  it('has a fixed dimension and is deterministic', () => {
    const a = urlFeatures('https://example.com/a/b?c=d');
    expect(a.length).toBe(URL_FEATURE_DIMENSION);
    expect(Array.from(urlFeatures('https://example.com/a/b?c=d'))).toEqual(Array.from(a));
  });

  it('reads a bare host as https://host/', () => {
    expect(Array.from(urlFeatures('example.com'))).toEqual(Array.from(urlFeatures('https://example.com/')));
  });

  it('marks IP-literal hosts, punycode and subdomain depth', () => {
    expect(dense('http://45.12.3.99/x.exe')).toMatchObject({ ip_literal_host: 1, path_file_extension: 1 });
    expect(dense('http://xn--metamsk-en4c.com/')).toMatchObject({ punycode_host: 1, ip_literal_host: 0 });
    expect(dense('https://a.b.c.example.co.uk/').subdomain_depth).toBeCloseTo(3 / 4);
  });

  it('tells a brand outside its registrable domain from the brand at home', () => {
    expect(dense('https://paypal.com.secure-check.xyz/')).toMatchObject({ brand_outside_registrable: 1 });
    expect(dense('https://paypal-secure.com/')).toMatchObject({ brand_in_registrable_not_own: 1 });
    expect(dense('https://www.paypal.com/')).toMatchObject({ brand_outside_registrable: 0, brand_in_registrable_not_own: 0 });
  });

  it('reads path and query lowercased, as the training script fed them (it lowercases every URL)', () => {
    expect(Array.from(urlFeatures('https://bit.ly/3xYzAbC'))).toEqual(Array.from(urlFeatures('https://bit.ly/3xyzabc')));
    // A URL and its lower-case form (all that training saw of it) get the same features, escapes and all.
    for (const url of ['https://Example.COM/Login/Verify.PHP?Next=%2FHome&ID=AbC', 'http://x.example.com/A%20B/%7EUser?Q=%41b', 'https://t.co/AbCdEf#Frag']) {
      expect(Array.from(urlFeatures(url)), url).toEqual(Array.from(urlFeatures(url.toLowerCase())));
    }
    expect(Array.from(urlFeatures(canonicalize('https://bit.ly/3xYzAbC')))).toEqual(Array.from(urlFeatures('https://bit.ly/3xyzabc')));
  });

  it('keeps every value finite and within [0, 1]', () => {
    for (const url of ['https://x.y/', 'http://[2001:db8::1]/%41%42?q=' + 'z'.repeat(5000), 'https://user:pw@host.example/']) {
      for (const value of urlFeatures(url)) {
        expect(Number.isFinite(value)).toBe(true);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
      }
    }
  });
});
