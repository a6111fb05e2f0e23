// The dashboard at /ui, mounted on the API's own app (so it runs wherever the API runs). Pages are
// rendered on the server; the only script-free forms POST to /ui/…, each checked for its origin and
// its session's CSRF token. Sign-in: a pasted token, or OIDC code + PKCE (functions/auth/oidc-client.ts).
import { Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { decodeJwt } from 'jose';
import { authenticateToken } from '../auth/middleware.ts';
import { AuthError } from '../auth/tokens.ts';
import type { Services } from '../context.ts';
import { ApiError, forbidden, notFound, toApiError, unauthorized } from '../errors.ts';
import { takeAction } from './actions.ts';
import type { UiContext, UiEnv } from './context.ts';
import { appPage } from './pages/app.tsx';
import { clusterPage, clustersPage } from './pages/clusters.tsx';
import { eventsPage } from './pages/events.tsx';
import { fleetPage } from './pages/fleet.tsx';
import { rolloutPage } from './pages/rollout.tsx';
import { ErrorPage, ResultPage, SignInPage } from './pages/signin.tsx';
import { csrfMatches, csrfToken, endSession, isSessionToken, keepPending, preSession, readPreSession, readSession, takePending, writeSession } from './session.ts';
import { STYLE } from './style.ts';
import type { PendingSignIn } from '../auth/oidc-client.ts';

/** Same-origin everything, no script at all, no framing. */
export const UI_CSP = {
  defaultSrc: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

const keys = new WeakMap<Services, Buffer>();
/** The dashboard's HMAC key, derived once per process. */
function uiKey(c: UiContext): Buffer {
  const services = c.get('services');
  let key = keys.get(services);
  if (!key) keys.set(services, (key = services.tokens.deriveKey('flotilla dashboard')));
  return key;
}

const HERE = 'http://dashboard.invalid';
/** A place in the dashboard to return to after sign-in, as the browser will resolve it; anything else (another origin, `//x`, `/ui/../v1`) is /ui. */
function safeNext(next: string | undefined): string {
  if (!next || next.length > 2048 || !next.startsWith('/ui') || /[\\\s]/.test(next)) return '/ui';
  let url: URL;
  try {
    url = new URL(next, HERE);
  } catch {
    return '/ui';
  }
  const path = `${url.pathname}${url.search}`;
  return url.origin === HERE && (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) && !path.includes('//') ? path : '/ui';
}

const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/** Every POST: from this origin (Origin or Sec-Fetch-Site), a form, carrying the CSRF token of its session (or, to sign in, its pre-session). */
const sameOrigin = csrf();
async function protectForm(c: UiContext, next: () => Promise<void>) {
  await sameOrigin(c, async () => {});
  if (!FORM_TYPE.test(c.req.header('content-type') ?? '')) throw new ApiError('unsupported_media_type', 'dashboard actions are HTML form posts');
  const parsed = await c.req.parseBody().catch(() => {
    throw new ApiError('bad_request', 'the form could not be read');
  });
  const form: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string' && !key.startsWith('__')) form[key] = value;
  const bound = c.req.path === '/ui/signin' ? readPreSession(c) : readSession(c);
  if (!bound || !csrfMatches(uiKey(c), bound, form.csrf)) {
    throw forbidden('this form has expired or did not come from this dashboard: reload the page and try again');
  }
  forms.set(c.req.raw, form);
  await next();
}
const forms = new WeakMap<Request, Record<string, string>>();
const formOf = (c: UiContext) => forms.get(c.req.raw) ?? {};

/** Pages need a session: none, or one whose token no longer verifies, goes to sign-in. */
async function requireSession(c: UiContext, next: () => Promise<void>) {
  const token = readSession(c);
  const back = `/ui/signin?next=${encodeURIComponent(safeNext(c.req.path + new URL(c.req.url).search))}`;
  if (!token) return c.redirect(back, 303);
  try {
    c.set('viewer', { principal: await authenticateToken(c.get('services'), token), csrf: csrfToken(uiKey(c), token) });
  } catch (err) {
    const error = toApiError(err);
    if (error.code === 'unauthorized') {
      endSession(c);
      return c.redirect(`${back}&expired=1`, 303);
    }
    throw error;
  }
  await next();
}

function signInPage(c: UiContext, status: ContentfulStatusCode = 200, error?: string) {
  const next = safeNext(c.req.query('next') ?? formOf(c).next);
  const message = c.req.query('expired') ? 'Your session has ended: sign in again.' : undefined;
  return c.html(<SignInPage csrf={csrfToken(uiKey(c), preSession(c))} next={next} oidc={!!c.get('services').signIn} message={message} error={error} />, status);
}

async function signInWithToken(c: UiContext) {
  const token = (formOf(c).token ?? '').trim();
  if (!isSessionToken(token)) return signInPage(c, 400, 'That is not a token: paste the whole JWT.');
  try {
    await authenticateToken(c.get('services'), token);
  } catch (err) {
    const error = toApiError(err);
    if (error.code === 'unauthorized' || error.code === 'forbidden') return signInPage(c, error.status, `Sign-in refused: ${error.message}.`);
    throw error;
  }
  return startSession(c, token, safeNext(formOf(c).next));
}

function startSession(c: UiContext, token: string, next: string) {
  const { exp } = decodeJwt(token);
  writeSession(c, token, typeof exp === 'number' ? exp * 1000 : undefined, Date.now());
  return c.redirect(next, 303);
}

async function startOidc(c: UiContext) {
  const signIn = c.get('services').signIn;
  if (!signIn) throw notFound('OIDC sign-in (FLOTILLA_UI_OIDC is not set)');
  const redirectUri = signIn.config.redirectUri ?? `${new URL(c.req.url).origin}/ui/callback`;
  const { url, pending } = await signIn.start(redirectUri, safeNext(c.req.query('next'))).catch(issuerFailure);
  keepPending(c, uiKey(c), pending);
  return c.redirect(url, 302);
}

function issuerFailure(err: unknown): never {
  if (err instanceof AuthError) throw unauthorized(err.message);
  throw new ApiError('unavailable', 'the sign-in issuer cannot be reached; try again, or sign in with a token', 5);
}

async function finishOidc(c: UiContext) {
  const signIn = c.get('services').signIn;
  if (!signIn) throw notFound('OIDC sign-in (FLOTILLA_UI_OIDC is not set)');
  const pending = takePending<PendingSignIn>(c, uiKey(c));
  const { code, state, error, error_description: description } = c.req.query();
  if (!pending || !state || state !== pending.state) throw new ApiError('bad_request', 'this sign-in expired or was not started here: sign in again');
  if (error) throw unauthorized(`the identity provider refused: ${(description ?? error).slice(0, 200)}`);
  if (!code || code.length > 2048) throw new ApiError('bad_request', 'the identity provider sent no code');
  const idToken = await signIn.finish(code, pending).catch(issuerFailure);
  // A longer id token would be set but never read back (browsers drop cookies over 4 KB): sign-in would loop silently
  if (!isSessionToken(idToken)) throw unauthorized('the identity provider sent an id token too large for a session cookie: ask for fewer claims (FLOTILLA_UI_OIDC scopes)');
  await authenticateToken(c.get('services'), idToken);
  return startSession(c, idToken, safeNext(pending.next));
}

function signOut(c: UiContext) {
  endSession(c);
  return c.redirect('/ui/signin', 303);
}

/** Runs the action through the API (actions.ts) and shows the record, or the API's error. */
function actionHandler(api: Hono<any>) {
  return async function action(c: UiContext) {
    const result = await takeAction(api, c, c.req.param('action') ?? '', formOf(c), readSession(c)!);
    const viewer = c.get('viewer');
    if (result.status >= 200 && result.status < 300) {
      return c.html(<ResultPage title={result.call.title} record={result.body} viewer={viewer} back={result.call.back} />, result.status as ContentfulStatusCode);
    }
    const message = (result.body as { error?: { message?: string } })?.error?.message ?? (typeof result.body === 'string' ? result.body.slice(0, 500) : `the API answered ${result.status}`);
    return c.html(<ErrorPage status={result.status as ContentfulStatusCode} message={message} viewer={viewer} back={result.call.back} />, result.status as ContentfulStatusCode);
  };
}

function errorPage(err: Error, c: UiContext) {
  // Hono's csrf() refuses a cross-origin form with a 403 HTTPException
  const error = err instanceof HTTPException && err.status === 403 ? forbidden('cross-site form posts are refused') : toApiError(err);
  if (error.code === 'internal') console.error(JSON.stringify({ level: 'error', requestId: c.get('requestId'), error: String(err), stack: err.stack }));
  if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds));
  return c.html(<ErrorPage status={error.status} message={error.message} viewer={c.get('viewer')} />, error.status);
}

/** Mounts the dashboard on `app`; its actions go through `app`'s own API routes. */
export function registerDashboard(app: Hono<any>) {
  const ui = new Hono<UiEnv>();
  ui.use(secureHeaders({ contentSecurityPolicy: UI_CSP, referrerPolicy: 'same-origin' }));
  ui.use(async function noStore(c, next) {
    await next();
    if (!c.req.path.startsWith('/ui/assets/')) c.header('Cache-Control', 'no-store');
  });
  ui.get('/assets/style.css', (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(STYLE, 200, { 'content-type': 'text/css; charset=utf-8' });
  });
  ui.post('*', protectForm);
  ui.get('/signin', (c) => signInPage(c));
  ui.post('/signin', signInWithToken);
  ui.get('/signin/oidc', startOidc);
  ui.get('/callback', finishOidc);
  ui.post('/signout', signOut);
  ui.use('*', requireSession);
  ui.get('/', fleetPage);
  ui.get('/clusters', clustersPage);
  ui.get('/clusters/:cluster', clusterPage);
  ui.get('/apps/:app', appPage);
  ui.get('/apps/:app/rollouts/:rollout', rolloutPage);
  ui.get('/events', eventsPage);
  ui.post('/actions/:action', actionHandler(app));
  ui.all('*', (c) => {
    throw notFound(`no dashboard page ${c.req.path}`);
  });
  ui.onError(errorPage);
  app.get('/ui/', (c) => c.redirect('/ui', 301));
  app.route('/ui', ui);
}
