// Session crypto apart from the routes: CSRF tokens bound to their session, sealed sign-in state.
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_CHARS, csrfMatches, csrfToken, isSessionToken, keepPending, takePending } from './session.ts';

const key = randomBytes(32);

describe('CSRF tokens', () => {
  it('match only the session they were made for, under the key they were made with', () => {
    const token = csrfToken(key, 'session-a');
    expect(csrfMatches(key, 'session-a', token)).toBe(true);
    expect(csrfMatches(key, 'session-b', token)).toBe(false);
    expect(csrfMatches(randomBytes(32), 'session-a', token)).toBe(false);
    for (const given of [undefined, '', token.slice(1), `${token}x`, 42, [token]]) expect(csrfMatches(key, 'session-a', given)).toBe(false);
  });
});

describe('session tokens', () => {
  it('are JWTs that fit in a cookie', () => {
    const part = (n: number) => 'a'.repeat(n);
    expect(isSessionToken(`${part(10)}.${part(10)}.${part(10)}`)).toBe(true);
    expect(isSessionToken(`${part(10)}.${part(MAX_TOKEN_CHARS - 22)}.${part(10)}`)).toBe(true);
    expect(isSessionToken(`${part(10)}.${part(MAX_TOKEN_CHARS - 21)}.${part(10)}`)).toBe(false);
    for (const bad of ['', 'a.b', 'a.b.c.d', 'a.b.c;', 'a.b.c\n', 'a..c']) expect(isSessionToken(bad)).toBe(false);
  });
});

describe('pending sign-ins', () => {
  const app = new Hono();
  app.get('/keep', (c) => {
    keepPending(c, key, { state: 's1', next: '/ui' });
    return c.text('kept');
  });
  app.get('/take', (c) => c.json(takePending(c, key)));
  const kept = async () => (await app.request('http://localhost/keep')).headers.get('set-cookie')!.split(';')[0]!;
  const take = async (cookie: string) => (await app.request('http://localhost/take', { headers: { cookie } })).json();

  it('come back as they were kept, in an HttpOnly cookie of ten minutes', async () => {
    const response = await app.request('http://localhost/keep');
    expect(response.headers.get('set-cookie')).toMatch(/^flotilla-signin=.*Max-Age=600; Path=\/; HttpOnly; SameSite=Lax/);
    expect(await take(await kept())).toMatchObject({ state: 's1', next: '/ui' });
  });

  it('are refused when tampered with, or sealed under another key', async () => {
    const cookie = await kept();
    const [name, value] = cookie.split('=') as [string, string];
    const [body, seal] = value.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ state: 's1', next: '//evil.example', exp: Date.now() + 60_000 })).toString('base64url');
    for (const bad of [`${forged}.${seal}`, `${body}.${seal.slice(0, -2)}AA`, body, '', 'a.b.c']) expect(await take(`${name}=${bad}`)).toBeNull();
    const other = new Hono();
    other.get('/take', (c) => c.json(takePending(c, randomBytes(32))));
    expect(await (await other.request('http://localhost/take', { headers: { cookie } })).json()).toBeNull();
  });
});
