// The dashboard in-process: pages, sign-in and sessions, CSRF, role-aware actions, bad input and escaping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf, seedDashboardWorld, signedIn } from '../../test/support/dashboard.ts';
import { startFixture, type Fixture } from '../../test/support/control-plane.ts';
import { parseSettings } from '../../lib/settings.ts';
import { LocalSettings } from '../settings.ts';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
  await seedDashboardWorld(f);
});
afterAll(() => f?.stop());

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

describe('pages', () => {
  it('shows the fleet matrix with words, not colour alone, and links a drifted cell to its clusters', async () => {
    const admin = await signedIn(f, f.adminToken);
    const { status, html } = await admin.page('/ui');
    expect(status).toBe(200);
    expect(text(html)).toContain('Drifted');
    expect(text(html)).toMatch(/Not reported yet desired 1\.0\.0 1 cluster\s?: Pending 1/);
    expect(text(html)).toMatch(/running 1\.1\.0 \(1\) 1 cluster\s?: Ready 1 1 drifted/);
    expect(html).toContain('href="/ui/clusters?environment=dev&amp;region=eu&amp;drifted=web"');
    const clusters = await admin.page('/ui/clusters?environment=dev&region=eu&drifted=web');
    expect(clusters.html).toContain('href="/ui/clusters/dev-1"');
  });

  it("shows a cluster's drift live beside desired, Secret values masked even when an agent sent them", async () => {
    const { status, html } = await (await signedIn(f, f.adminToken)).page('/ui/clusters/dev-1');
    expect(status).toBe(200);
    expect(text(html)).toMatch(/Deployment\/web\/web \/spec\/replicas 5 3/);
    expect(text(html)).toContain('Secret/web/creds /data/password *** ***');
    expect(html).not.toContain('aHVudGVyMg==');
    expect(html).not.toContain('c2VjcmV0');
  });

  it('escapes what users wrote: a reason with markup is text on the events page', async () => {
    const admin = await signedIn(f, f.adminToken);
    const result = await admin.post('/ui/actions/suspend', { cluster: 'dev-1', reason: '<script>alert(1)</script>' }, {}, '/ui/clusters/dev-1');
    expect(result.status).toBe(200);
    const events = await admin.page('/ui/events?cluster=dev-1');
    expect(events.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(events.html).not.toContain('<script>alert');
    await admin.post('/ui/actions/resume', { cluster: 'dev-1', reason: 'done' }, {}, '/ui/clusters/dev-1');
  });

  it('shows the current rollout with its waves on the app page, and its clusters on its own page', async () => {
    await f.admin('PUT', '/v1/environments/stage', { upstream: 'dev', waves: [{ name: 'first', regions: ['eu'] }] });
    await f.admin('PUT', '/v1/apps/web/environments/stage', { track: null });
    await f.admin('PUT', '/v1/clusters/stage-1', { environment: 'stage', region: 'eu' });
    expect((await f.admin('POST', '/v1/apps/web/promotions', { environment: 'stage', version: '1.1.0', reason: 'waves' })).status).toBe(202);
    const admin = await signedIn(f, f.adminToken);
    const app = await admin.page('/ui/apps/web');
    expect(text(app.html)).toMatch(/stage-1 to stage: none → 1\.1\.0 .*(running|completed)/);
    expect(app.html).toContain('href="/ui/apps/web/rollouts/stage-1"');
    const rollout = await admin.page('/ui/apps/web/rollouts/stage-1');
    expect(rollout.status).toBe(200);
    expect(text(rollout.html)).toMatch(/first ⚠ moving .*stage-1 first - ⚠ Pending/);
    expect(rollout.html).toContain('action="/ui/actions/pause"');
    const paused = await admin.post('/ui/actions/pause', { app: 'web', rollout: 'stage-1', reason: 'looking into it' }, {}, '/ui/apps/web/rollouts/stage-1');
    expect(paused.status).toBe(200);
    expect(text(paused.html)).toMatch(/status paused .*statusReason .*looking into it/);
    expect((await admin.page('/ui/apps/web/rollouts/stage-1')).html).toContain('action="/ui/actions/resume"');
    expect((await admin.page('/ui/apps/web/rollouts/nope')).status).toBe(400);
    expect((await admin.page('/ui/apps/web/rollouts/stage-99')).status).toBe(404);
    expect((await admin.page('/ui/apps/web/rollouts/stage-1?cursor=!!')).status).toBe(400);
    expect((await admin.page('/ui/apps/web/rollouts/stage-1?cursor=eyJ4IjoxfQ')).status).toBe(400);
  });

  it('serves every page under a CSP that allows no script and no other origin', async () => {
    const admin = await signedIn(f, f.adminToken);
    for (const path of ['/ui', '/ui/apps/web', '/ui/clusters/dev-1', '/ui/events', '/ui/signin']) {
      const { headers, html } = await admin.page(path);
      expect(headers.get('content-security-policy'), path).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
      expect(headers.get('cache-control'), path).toBe('no-store');
      expect(html, path).not.toMatch(/<script|https?:\/\//);
    }
    const docs = await f.app.request('/docs');
    expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await docs.text()).not.toMatch(/https?:\/\//);
    const bundle = await f.app.request('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(500_000);
  });
});

describe('sign-in and sessions', () => {
  it('sets an HttpOnly SameSite cookie, Secure with the __Host- prefix outside localhost', async () => {
    const local = await signedIn(f, f.adminToken);
    expect(local.setCookie).toMatch(/^flotilla-session=.*HttpOnly; SameSite=Lax/);
    expect(local.setCookie).not.toContain('Secure');
    const remote = await signedIn(f, f.adminToken, 'https://flotilla.example.com');
    expect(remote.setCookie).toMatch(/^__Host-flotilla-session=.*Path=\/; HttpOnly; Secure; SameSite=Lax/);
    expect((await remote.page('/ui')).status).toBe(200);
  });

  it('sends no session, a forged one and an expired one to sign-in, never a 500', async () => {
    const none = await f.app.request('/ui/apps/web');
    expect(none.status).toBe(303);
    expect(none.headers.get('location')).toBe('/ui/signin?next=%2Fui%2Fapps%2Fweb');
    const admin = await signedIn(f, f.adminToken);
    const [header, payload] = admin.session.split('=')[1]!.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'mallory', grants: [{ role: 'admin' }], jti: 'x', iss: 'flotilla-test', aud: 'flotilla', exp: 4e9 })).toString('base64url')}.${'A'.repeat(86)}`;
    const expired = await f.mint([{ role: 'admin' }], 'old', -120);
    for (const value of [forged, expired, 'not-a-token', `${header}.${payload}`, '%E0%A4%A', 'a'.repeat(5000)]) {
      const response = await f.app.request('/ui', { headers: { cookie: `flotilla-session=${value}` } });
      expect(response.status, value).toBe(303);
      expect(response.headers.get('location')).toMatch(/^\/ui\/signin\?next=%2Fui/);
    }
  });

  it('refuses a pasted token that is not one, with the sign-in form again', async () => {
    const form = await f.app.request('/ui/signin');
    const cookie = form.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = csrfOf(await form.text());
    for (const [token, status] of [['garbage', 400], [await f.mint([{ role: 'admin' }], 'old', -120), 401]] as const) {
      const response = await f.app.request('/ui/signin', { method: 'POST', headers: { cookie, origin: 'http://localhost', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, token }).toString() });
      expect(response.status).toBe(status);
      expect(await response.text()).toContain('name="token"');
    }
  });

  it('only returns to dashboard paths after sign-in', async () => {
    const form = await f.app.request('/ui/signin');
    const cookie = form.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = csrfOf(await form.text());
    for (const next of ['https://evil.example', '//evil.example', '/ui//evil.example', '/v1/tokens', '/ui/../v1/tokens', '/ui/%2e%2e/v1/tokens', '/ui\\..\\v1', '/ui/\t/evil.example', '/uix']) {
      const response = await f.app.request('/ui/signin', { method: 'POST', headers: { cookie, origin: 'http://localhost', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, token: f.adminToken, next }).toString() });
      expect(response.headers.get('location'), next).toBe('/ui');
    }
    const back = await f.app.request('/ui/signin', { method: 'POST', headers: { cookie, origin: 'http://localhost', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, token: f.adminToken, next: '/ui/events?app=web' }).toString() });
    expect(back.headers.get('location')).toBe('/ui/events?app=web');
  });

  it('has no OIDC sign-in unless one is configured, and checks its settings at start', async () => {
    expect((await f.app.request('/ui/signin/oidc')).status).toBe(404);
    expect((await f.app.request('/ui/callback?code=a&state=b')).status).toBe(404);
    const federation = JSON.stringify([{ issuer: 'https://idp.example', audience: 'flotilla-ui', rules: [] }]);
    const settings = (ui: object) => () => parseSettings('flotilla', LocalSettings, { FLOTILLA_OIDC: federation, FLOTILLA_UI_OIDC: JSON.stringify(ui) });
    expect(settings({ issuer: 'https://idp.example', clientId: 'flotilla-ui' })()).toMatchObject({ FLOTILLA_UI_OIDC: { clientId: 'flotilla-ui' } });
    expect(settings({ issuer: 'https://other.example', clientId: 'flotilla-ui' })).toThrow(/FLOTILLA_UI_OIDC: must name an issuer of FLOTILLA_OIDC whose audience is its clientId/);
    expect(settings({ issuer: 'https://idp.example', clientId: 'someone-else' })).toThrow(/FLOTILLA_UI_OIDC/);
    expect(settings({ issuer: 'https://idp.example', clientId: 'flotilla-ui', redirectUri: 'javascript:x' })).toThrow(/redirectUri/);
  });

  it('signs out', async () => {
    const admin = await signedIn(f, f.adminToken);
    const out = await admin.post('/ui/signout', {});
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/flotilla-session=; Max-Age=0/);
  });
});

describe('actions', () => {
  it('promotes with a reason and shows the record the API wrote', async () => {
    const admin = await signedIn(f, f.adminToken);
    const { status, html } = await admin.post('/ui/actions/promote', { app: 'web', environment: 'prod', version: '1.1.0', reason: 'ship it' }, {}, '/ui/apps/web');
    expect(status).toBe(201);
    expect(text(html)).toContain('Done: Promote web to prod');
    expect(text(html)).toMatch(/toVersion 1\.1\.0 .*actor admin reason ship it .*fromVersion 1\.0\.0/);
    expect((await f.admin('GET', '/v1/apps/web/promotions?environment=prod')).body.items.at(-1)).toMatchObject({ toVersion: '1.1.0', reason: 'ship it', actor: 'admin' });
  });

  it('hides actions from a viewer, and the API refuses them anyway', async () => {
    const viewer = await signedIn(f, await f.mint([{ role: 'viewer' }], 'vera'));
    for (const path of ['/ui', '/ui/apps/web', '/ui/clusters/dev-1', '/ui/apps/web/rollouts/stage-1']) expect((await viewer.page(path)).html, path).not.toContain('/ui/actions/');
    const refused = await viewer.post('/ui/actions/promote', { app: 'web', environment: 'prod', version: '1.1.0', reason: 'sneaky' });
    expect(refused.status).toBe(403);
    expect(text(refused.html)).toContain('vera may not promote app web in environment prod');
  });

  it('shows a promoter scoped to dev only the dev actions', async () => {
    const scoped = await signedIn(f, await f.mint([{ role: 'promoter', environments: ['dev'] }], 'dana'));
    const { html } = await scoped.page('/ui/apps/web');
    expect(html).toContain('<option value="dev">dev</option>');
    expect(html).not.toContain('<option value="prod">prod</option>');
  });

  it('refuses a POST without the CSRF token, from another origin, or not a form', async () => {
    const admin = await signedIn(f, f.adminToken);
    const fields = { app: 'web', environment: 'prod', version: '1.1.0', reason: 'csrf' };
    expect((await admin.post('/ui/actions/promote', { ...fields, csrf: '' })).status).toBe(403);
    expect((await admin.post('/ui/actions/promote', { ...fields, csrf: 'A'.repeat(43) })).status).toBe(403);
    expect((await admin.post('/ui/actions/promote', fields, { origin: 'https://evil.example' })).status).toBe(403);
    const other = await signedIn(f, await f.mint([{ role: 'admin' }], 'other'));
    const foreign = csrfOf((await other.page('/ui')).html);
    expect((await admin.post('/ui/actions/promote', { ...fields, csrf: foreign })).status).toBe(403);
    const json = await f.app.request('http://localhost/ui/actions/promote', { method: 'POST', headers: { cookie: admin.session, origin: 'http://localhost', 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    expect((await f.admin('GET', '/v1/apps/web/promotions?environment=prod')).body.items.every((r: { reason: string }) => r.reason !== 'csrf')).toBe(true);
  });

  it('answers malformed actions and bad input with a 4xx page', async () => {
    const admin = await signedIn(f, f.adminToken);
    expect((await admin.post('/ui/actions/launch-missiles', { reason: 'x' })).status).toBe(400);
    expect((await admin.post('/ui/actions/promote', { app: '../../v1/tokens', environment: 'prod', version: '1.0.0', reason: 'x' })).status).toBe(400);
    expect((await admin.post('/ui/actions/promote', { app: 'web', environment: 'prod', version: 'not-semver', reason: 'x' })).status).toBe(400);
    expect((await admin.post('/ui/actions/suspend', { reason: 'x' })).status).toBe(400);
    for (const action of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect((await admin.post(`/ui/actions/${action}`, { reason: 'x' })).status, action).toBe(400);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const status = (await admin.post('/ui/actions/promote', { [key]: 'x', app: 'web', environment: 'prod', version: '9.9.9', reason: 'x' })).status;
      expect(status, key).toBeGreaterThanOrEqual(400);
      expect(status, key).toBeLessThan(500);
    }
    for (const fields of <Record<string, string>[]>[{ app: 'w'.repeat(5000), environment: 'prod', version: '1.0.0', reason: 'x' }, { app: 'web', environment: 'prod', version: '1.0.0', reason: 'r'.repeat(100_000) }, { cluster: 'c', reason: 'x', until: '9999-12-31T23:59:59Z' }]) {
      const status = (await admin.post(`/ui/actions/${'cluster' in fields ? 'suspend' : 'promote'}`, fields)).status;
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
    for (const [type, body] of [['multipart/form-data; boundary=x', '--x\r\ngarbage'], ['application/x-www-form-urlencoded', '%zz=%E0%A4%A&csrf=%'], ['multipart/form-data', 'no boundary']]) {
      const response = await f.app.request('http://localhost/ui/actions/promote', { method: 'POST', headers: { cookie: admin.session, origin: 'http://localhost', 'content-type': type }, body });
      expect(response.status, type).toBeGreaterThanOrEqual(400);
      expect(response.status, type).toBeLessThan(500);
    }
    for (const path of ['/ui/apps/NOPE!', '/ui/clusters/%00', '/ui/events?since=1999-01-01T00:00:00Z', '/ui/events?since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z', '/ui/events?cursor=!!', '/ui/events?cursor=QUJD', '/ui/events?type=%3Cx%3E', '/ui?cursor=eyJ4IjoxfQ', '/ui/nowhere', '/ui/events?since=9999-12-31T00:00:00Z', '/ui/events?until=0000-01-01T00:00:00Z', `/ui/events?app=${'a'.repeat(10_000)}`, '/ui/events?constructor=1&__proto__=1&app=NOPE!', '/ui/apps/web/rollouts/prod-9999999999', '/ui/apps/web/rollouts/prod-99999999999', '/ui/apps/web/rollouts/__proto__', `/ui/clusters/${'c'.repeat(5000)}`]) {
      const { status, html } = await admin.page(path);
      expect(status, path).toBeGreaterThanOrEqual(400);
      expect(status, path).toBeLessThan(500);
      expect(html, path).toContain('role="alert"');
    }
  });
});
