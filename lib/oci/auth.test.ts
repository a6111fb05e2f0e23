import { describe, expect, it } from 'vitest';
import { basicAuthorization, parseChallenges, TokenCache } from './auth.ts';

describe('parseChallenges', () => {
  it("parses distribution's bearer challenge", () => {
    expect(
      parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:team/app:pull,push' },
      },
    ]);
  });

  it('parses several challenges, unquoted and escaped values, and odd spacing', () => {
    expect(parseChallenges('Basic realm="a \\"quoted\\" realm", Bearer realm=https://t/x , error="invalid_token"')).toEqual([
      { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', error: 'invalid_token' } },
    ]);
    expect(parseChallenges('BASIC')).toEqual([{ scheme: 'basic', params: {} }]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('TokenCache', () => {
  it('keeps a token per registry and scope until shortly before it expires', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set('reg.io', 'repository:a:pull', 'token-a', 300);
    expect(cache.get('reg.io', 'repository:a:pull')).toBe('token-a');
    expect(cache.get('reg.io', 'repository:a:pull,push')).toBeUndefined();
    expect(cache.get('other.io', 'repository:a:pull')).toBeUndefined();
    now += 269_000;
    expect(cache.get('reg.io', 'repository:a:pull')).toBe('token-a');
    now += 2_000; // within the 30 s safety margin
    expect(cache.get('reg.io', 'repository:a:pull')).toBeUndefined();
  });

  it('assumes 60 s when the token service gives no lifetime', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('reg.io', 's', 't');
    now = 44_000;
    expect(cache.get('reg.io', 's')).toBe('t');
    now = 46_000;
    expect(cache.get('reg.io', 's')).toBeUndefined();
  });
});

it('basicAuthorization encodes user:password as UTF-8 base64', () => {
  expect(basicAuthorization('ünï', 'p:w')).toBe(`Basic ${Buffer.from('ünï:p:w').toString('base64')}`);
});
