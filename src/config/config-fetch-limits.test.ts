import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTIONS_PER_ADDRESS, DEFAULT_FETCHES_PER_HOST } from '../links/guard/host-limiter.js';
import { loadConfig } from './config.js';

describe('ABUSE_SCAN_FETCHES_PER_HOST', () => {
  it('defaults to 8 when unset, empty or 0', () => {
    expect(DEFAULT_FETCHES_PER_HOST).toBe(8);
    expect(loadConfig({}).fetchesPerHost).toBe(8);
    expect(loadConfig({ ABUSE_SCAN_FETCHES_PER_HOST: '' }).fetchesPerHost).toBe(8);
    expect(loadConfig({ ABUSE_SCAN_FETCHES_PER_HOST: '0' }).fetchesPerHost).toBe(8);
  });

  it('reads a positive limit and refuses anything else', () => {
    expect(loadConfig({ ABUSE_SCAN_FETCHES_PER_HOST: '3' }).fetchesPerHost).toBe(3);
    expect(() => loadConfig({ ABUSE_SCAN_FETCHES_PER_HOST: '-1' })).toThrow(/\n  ABUSE_SCAN_FETCHES_PER_HOST: /);
    expect(() => loadConfig({ ABUSE_SCAN_FETCHES_PER_HOST: '2.5' })).toThrow(/\n  ABUSE_SCAN_FETCHES_PER_HOST: /);
    expect(() => loadConfig({ ABUSE_SCAN_FETCHES_PER_HOST: 'many' })).toThrow(/\n  ABUSE_SCAN_FETCHES_PER_HOST: /);
  });
});

describe('ABUSE_SCAN_CONNECTIONS_PER_ADDRESS', () => {
  it('defaults to 32 when unset, empty or 0, and reads a positive limit', () => {
    expect(DEFAULT_CONNECTIONS_PER_ADDRESS).toBe(32);
    expect(loadConfig({}).connectionsPerAddress).toBe(32);
    expect(loadConfig({ ABUSE_SCAN_CONNECTIONS_PER_ADDRESS: '0' }).connectionsPerAddress).toBe(32);
    expect(loadConfig({ ABUSE_SCAN_CONNECTIONS_PER_ADDRESS: '64' }).connectionsPerAddress).toBe(64);
    expect(() => loadConfig({ ABUSE_SCAN_CONNECTIONS_PER_ADDRESS: '-1' })).toThrow(/\n  ABUSE_SCAN_CONNECTIONS_PER_ADDRESS: /);
  });
});
