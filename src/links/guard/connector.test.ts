import { describe, expect, it } from 'vitest';
import { originKey } from './connector.js';

describe('originKey', () => {
  it('fills in the default port', () => {
    expect(originKey('http:', 'example.com', '')).toBe('http://example.com:80');
    expect(originKey('https:', 'example.com', '')).toBe('https://example.com:443');
    expect(originKey('http:', 'example.com', '8080')).toBe('http://example.com:8080');
  });

  it('spells an IPv6 host the same whether it comes from undici (`::1`) or a URL (`[::1]`)', () => {
    const fromConnector = originKey('http:', '::1', 8080);
    const url = new URL('http://[::1]:8080/');
    expect(originKey(url.protocol, url.hostname, url.port)).toBe(fromConnector);
    expect(fromConnector).toBe('http://[::1]:8080');
  });
});
