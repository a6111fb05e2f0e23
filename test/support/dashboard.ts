// Dashboard test helpers: a small world with a drifted cluster, and a signed-in browser stand-in
// for in-process tests (cookies and CSRF tokens as a browser would carry them).
import { generateAgentKey, signAgentRequest } from '../../lib/agent-auth.ts';
import { digestOf, seedWorld, type Fixture } from './control-plane.ts';

/** dev → prod, app web with releases 1.0.0 and 1.1.0 (1.0.0 promoted to prod, where prod-1 never reported), cluster dev-1 registered and reporting drift (one Secret's value sent unmasked). */
export async function seedDashboardWorld(f: Fixture) {
  await seedWorld(f);
  for (const [n, version] of ['1.0.0', '1.1.0'].entries()) await f.admin('POST', '/v1/apps/web/releases', { version, digest: digestOf(n + 1) });
  await f.admin('PUT', '/v1/clusters/prod-1', { environment: 'prod', region: 'us', labels: { tier: 'web' } });
  await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'first prod release' });
  await f.admin('PUT', '/v1/clusters/dev-1', { environment: 'dev', region: 'eu', labels: { tier: 'web' } });
  const { token } = (await f.admin('POST', '/v1/clusters/dev-1/registration-tokens')).body;
  const key = await generateAgentKey();
  const registered = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } });
  if (registered.status !== 200) throw new Error(`register: ${registered.status}`);
  const body = JSON.stringify({
    apps: [
      {
        name: 'web',
        version: '1.1.0',
        digest: digestOf(2),
        phase: 'Ready',
        conditions: [],
        counts: {},
        drift: [
          { object: 'Deployment/web/web', fields: [{ path: '/spec/replicas', before: 5, after: 3 }], corrected: false },
          { object: 'Secret/web/creds', fields: [{ path: '/data/password', before: 'aHVudGVyMg==', after: 'c2VjcmV0' }], corrected: false },
        ],
      },
    ],
  });
  const jwt = await signAgentRequest(key, 'dev-1', 'flotilla', { method: 'POST', path: '/v1/agent/reports', body, seq: 1 }, Date.now());
  const report = await f.call('POST', '/v1/agent/reports', { token: jwt, body });
  if (report.status >= 300) throw new Error(`report: ${report.status} ${JSON.stringify(report.body)}`);
}

export const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** Signs in with `token` through the sign-in form, as a browser at `origin` would; returns a page client. */
export async function signedIn(f: Fixture, token: string, origin = 'http://localhost') {
  const form = await f.app.request(`${origin}/ui/signin`);
  const pre = form.headers.get('set-cookie')!.split(';')[0]!;
  const signin = await post(f, `${origin}/ui/signin`, { csrf: csrfOf(await form.text()), token, next: '/ui' }, { cookie: pre, origin });
  const session = signin.headers.get('set-cookie')?.split(';')[0];
  if (signin.status !== 303 || !session) throw new Error(`sign-in: ${signin.status}`);
  const get = (path: string) => f.app.request(`${origin}${path}`, { headers: { cookie: session } });
  return {
    session,
    setCookie: signin.headers.get('set-cookie')!,
    get,
    async page(path: string) {
      const response = await get(path);
      return { status: response.status, html: await response.text(), headers: response.headers };
    },
    /** Posts a form with the session's CSRF token (read from `from`), unless the fields say otherwise. */
    async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}, from = '/ui') {
      const csrf = csrfOf(await (await get(from)).text());
      const response = await post(f, `${origin}${path}`, { csrf, ...fields }, { cookie: session, origin, ...headers });
      return { status: response.status, html: await response.text(), headers: response.headers };
    },
  };
}

function post(f: Fixture, url: string, fields: Record<string, string>, headers: Record<string, string>) {
  return f.app.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
}
