import { describe, expect, it } from 'vitest';
import { DEFAULT_USER_AGENT, MAX_USER_AGENT_LENGTH, navigationHeaders, userAgentProblem } from './user-agent.js';

describe('userAgentProblem', () => {
  it('accepts printable ASCII up to the limit, the default included', () => {
    expect(userAgentProblem(DEFAULT_USER_AGENT)).toBeUndefined();
    expect(userAgentProblem('a'.repeat(MAX_USER_AGENT_LENGTH))).toBeUndefined();
    expect(userAgentProblem('Mozilla/5.0 (X11; Linux x86_64) ~!')).toBeUndefined();
  });

  it('refuses empty, too long, control or non-ASCII characters, and spaces at the ends', () => {
    expect(userAgentProblem('')).toMatch(/empty/);
    expect(userAgentProblem('a'.repeat(MAX_USER_AGENT_LENGTH + 1))).toMatch(/longer than 512/);
    for (const bad of ['a\r\nb', 'a\tb', 'a\u0000', 'a\u007f', 'Bot/é']) expect(userAgentProblem(bad), JSON.stringify(bad)).toMatch(/printable ASCII/);
    expect(userAgentProblem(' Bot')).toMatch(/space/);
    expect(userAgentProblem('Bot ')).toMatch(/space/);
  });
});

describe('navigationHeaders', () => {
  const clicked = { site: 'cross-site', userActivated: true } as const;

  it('leaves out the secure-only headers and brotli over http', () => {
    const headers = navigationHeaders(new URL('http://a.example/'), clicked);
    expect(Object.keys(headers).filter((name) => name.startsWith('sec-'))).toEqual([]);
    expect(headers['accept-encoding']).toBe('gzip, deflate');
    expect(headers['upgrade-insecure-requests']).toBe('1');
    expect(headers['accept-language']).toBe('en-US,en;q=0.9');
  });

  it('sends Sec-Fetch-* and the client hints over https, Sec-Fetch-User only for the user', () => {
    const headers = navigationHeaders(new URL('https://a.example/'), clicked);
    expect(headers).toMatchObject({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-user': '?1', 'sec-fetch-dest': 'document', 'sec-ch-ua-mobile': '?0', 'accept-encoding': 'gzip, deflate, br' });
    expect(headers['sec-ch-ua']).toMatch(/"Google Chrome";v="\d+"/);
    expect(navigationHeaders(new URL('https://a.example/'), { site: 'same-origin', userActivated: false })['sec-fetch-user']).toBeUndefined();
  });

  it('leaves out the client hints with a custom User-Agent', () => {
    const headers = navigationHeaders(new URL('https://a.example/'), clicked, 'Scanner/1');
    expect(headers['user-agent']).toBe('Scanner/1');
    expect(Object.keys(headers).filter((name) => name.startsWith('sec-ch-'))).toEqual([]);
  });
});
