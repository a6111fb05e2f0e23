// Dashboard sessions, apart from the routes that use them. The session cookie holds the caller's
// bearer token (pasted, or the id token of an OIDC sign-in): HttpOnly, SameSite=Lax, Secure outside
// localhost, verified on every request exactly as the API verifies a bearer token. Forms carry a
// CSRF token, an HMAC of the session (or, before sign-in, of a random pre-session cookie) under a
// key derived from the signing key; sign-in state is sealed (HMAC) into a short-lived cookie.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

/** The longest a session lasts, whatever the token's own expiry. */
export const SESSION_MAX_SECONDS = 8 * 3600;
const PRE_SESSION_SECONDS = 3600;
const PENDING_SECONDS = 600;
/** Tokens are JWTs: a cookie that is not one is not read further. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Longer tokens would not fit in a cookie (4096 bytes with its name and attributes). */
export const MAX_TOKEN_CHARS = 3500;

/** Whether `value` can be a session: a JWT short enough for the cookie. */
export const isSessionToken = (value: string) => value.length <= MAX_TOKEN_CHARS && TOKEN_SHAPE.test(value);

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Secure cookies except on plain-HTTP localhost (`npm start`); secure ones use the __Host- prefix. */
function cookieNames(c: Context) {
  const url = new URL(c.req.url);
  const secure = !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname));
  const prefix = secure ? '__Host-' : '';
  return { secure, session: `${prefix}flotilla-session`, pre: `${prefix}flotilla-pre`, pending: `${prefix}flotilla-signin` };
}

function cookieOptions(c: Context, maxAge: number) {
  // __Host- cookies need Path=/ (and no Domain): the session is sent to the whole origin, the API
  // ignores it (it reads only Authorization headers).
  return { path: '/', httpOnly: true, secure: cookieNames(c).secure, sameSite: 'Lax' as const, maxAge };
}

export function readSession(c: Context): string | null {
  const value = getCookie(c, cookieNames(c).session);
  return value && isSessionToken(value) ? value : null;
}

/** Starts a session on the token; it ends with the token or after SESSION_MAX_SECONDS. */
export function writeSession(c: Context, token: string, expiresAt: number | undefined, now: number) {
  const left = expiresAt === undefined ? SESSION_MAX_SECONDS : Math.floor((expiresAt - now) / 1000);
  setCookie(c, cookieNames(c).session, token, cookieOptions(c, Math.max(1, Math.min(SESSION_MAX_SECONDS, left))));
}

export function endSession(c: Context) {
  const { session, secure } = cookieNames(c);
  deleteCookie(c, session, { path: '/', secure });
}

/** The random pre-session value the sign-in form's CSRF token is bound to; set when absent. */
export function preSession(c: Context): string {
  const name = cookieNames(c).pre;
  const held = getCookie(c, name);
  if (held && /^[A-Za-z0-9_-]{43}$/.test(held)) return held;
  const value = randomBytes(32).toString('base64url');
  setCookie(c, name, value, cookieOptions(c, PRE_SESSION_SECONDS));
  return value;
}

export const readPreSession = (c: Context): string | null => getCookie(c, cookieNames(c).pre) ?? null;

const mac = (key: Buffer, purpose: string, value: string) => createHmac('sha256', key).update(`${purpose}\n${value}`).digest('base64url');

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The CSRF token of a session (or pre-session) value. */
export const csrfToken = (key: Buffer, bound: string) => mac(key, 'csrf', bound);

export const csrfMatches = (key: Buffer, bound: string, given: unknown) => typeof given === 'string' && equal(csrfToken(key, bound), given);

/** Keeps `value` in a cookie for the sign-in round trip, sealed so it cannot be forged. */
export function keepPending(c: Context, key: Buffer, value: object) {
  const body = Buffer.from(JSON.stringify({ ...value, exp: Date.now() + PENDING_SECONDS * 1000 })).toString('base64url');
  setCookie(c, cookieNames(c).pending, `${body}.${mac(key, 'pending', body)}`, cookieOptions(c, PENDING_SECONDS));
}

/** The pending sign-in, if its cookie is present, intact and not expired; the cookie is removed. */
export function takePending<T>(c: Context, key: Buffer): T | null {
  const { pending, secure } = cookieNames(c);
  const value = getCookie(c, pending);
  deleteCookie(c, pending, { path: '/', secure });
  const [body, seal] = (value ?? '').split('.');
  if (!body || !seal || !equal(mac(key, 'pending', body), seal)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T & { exp: number };
    return typeof parsed.exp === 'number' && parsed.exp > Date.now() ? parsed : null;
  } catch {
    return null;
  }
}
