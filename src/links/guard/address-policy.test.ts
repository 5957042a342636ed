import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from './address-policy.js';

describe('createAddressPolicy', () => {
  it('without overrides: public passes, the rest is refused', () => {
    const policy = createAddressPolicy();
    expect(policy.overrides).toEqual([]);
    expect(policy.check('8.8.8.8', 80)).toMatchObject({ allowed: true, overridden: false });
    expect(policy.check('127.0.0.1', 80)).toMatchObject({ allowed: false, overridden: false, verdict: { range: 'loopback' } });
  });

  it('an address override allows that address on any port, and nothing else', () => {
    const policy = createAddressPolicy(['127.0.0.1']);
    expect(policy.check('127.0.0.1', 1234)).toMatchObject({ allowed: true, overridden: true });
    expect(policy.check('127.0.0.2', 1234).allowed).toBe(false);
    expect(policy.check('::1', 1234).allowed).toBe(false);
    expect(policy.check('::ffff:127.0.0.1', 1234).allowed).toBe(false);
  });

  it('a port-scoped override allows that port only', () => {
    const policy = createAddressPolicy(['127.0.0.1:8080', '[::1]:9090']);
    expect(policy.overrides).toEqual(['127.0.0.1:8080', '[::1]:9090']);
    expect(policy.check('127.0.0.1', 8080).allowed).toBe(true);
    expect(policy.check('127.0.0.1', 80).allowed).toBe(false);
    expect(policy.check('0:0:0:0:0:0:0:1', 9090).allowed).toBe(true);
  });

  it.each([['localhost'], ['127.0.0.0/8'], ['2130706433'], ['0x7f.1'], ['127.1'], ['fe80::1%eth0'], ['127.0.0.1:0'], ['127.0.0.1:70000'], ['*']])(
    'refuses %j: literal addresses only',
    (entry) => {
      expect(() => createAddressPolicy([entry])).toThrow(TypeError);
    },
  );
});
