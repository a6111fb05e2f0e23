// The dashboard in a real browser: Debian's Chromium driven by playwright-core (one launch for the
// file), the real control plane over HTTP on embedded storage, and oidc-provider (an OpenID-certified
// provider) in-process for the code + PKCE sign-in. axe-core checks each page for serious or critical
// accessibility violations. FLOTILLA_SCREENSHOTS=1 saves each page into docs/screenshots/.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import axe from 'axe-core';
import Provider from 'oidc-provider';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDashboardWorld } from '../support/dashboard.ts';
import { startFixture, type Fixture } from '../support/control-plane.ts';

const CHROMIUM = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.FLOTILLA_SCREENSHOTS === '1' ? join(import.meta.dirname, '../../docs/screenshots') : null;
const CLIENT_ID = 'flotilla-dashboard';

const listen = (server: Server, host: string) =>
  new Promise<number>((ready) => server.listen(0, host, () => ready((server.address() as AddressInfo).port)));

let f: Fixture;
let browser: Browser;
let ui: string;
let attacker: string;
const servers: Server[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: bash test/env/setup installs it (apt-get install chromium)`);
  const [uiServer, idpServer, attackerServer] = [createServer(), createServer(), createServer()];
  servers.push(uiServer, idpServer, attackerServer);
  ui = `http://127.0.0.1:${await listen(uiServer, '127.0.0.1')}`;
  const issuer = `http://127.0.0.1:${await listen(idpServer, '127.0.0.1')}`;
  // another site (localhost is not 127.0.0.1 to the browser), for the cross-site form post
  attacker = `http://localhost:${await listen(attackerServer, '127.0.0.1')}`;

  const provider = new Provider(issuer, {
    clients: [{ client_id: CLIENT_ID, token_endpoint_auth_method: 'none', redirect_uris: [`${ui}/ui/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    cookies: { keys: ['browser-test'] },
  });
  idpServer.on('request', provider.callback());

  f = await startFixture({
    oidc: [{ issuer, audience: CLIENT_ID, jwksUri: `${issuer}/jwks`, rules: [{ claims: { sub: 'alice' }, grants: [{ role: 'promoter' }] }] }],
    signIn: { issuer, clientId: CLIENT_ID },
  });
  await seedDashboardWorld(f);
  uiServer.on('request', getRequestListener((request) => f.app.fetch(request)));
  attackerServer.on('request', (_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><html lang="en"><title>win a prize</title><form method="post" action="${ui}/ui/actions/promote">
      <input name="app" value="web"><input name="environment" value="prod"><input name="version" value="1.1.0"><input name="reason" value="forged">
      <button>Claim</button></form></html>`);
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const server of servers) server.close();
  await f?.stop();
});

/** No serious or critical axe-core violations on the page (axe evaluated over CDP, which the page's CSP does not block). */
async function accessible(page: Page, name: string) {
  await page.evaluate(axe.source);
  const { violations } = await page.evaluate(() => (globalThis as unknown as { axe: typeof axe }).axe.run({ exclude: [] }, { resultTypes: ['violations'] }));
  const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(serious.map((violation) => `${name}: ${violation.id} ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join(', ')})`)).toEqual([]);
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signInWithToken(page: Page, token: string) {
  await page.goto(`${ui}/ui`);
  await page.getByLabel(/^Token/).fill(token);
  await page.getByRole('button', { name: 'Sign in with a token' }).click();
  await page.waitForURL(`${ui}/ui`);
}

// generous under a loaded CI machine; each takes a few seconds here
describe('the dashboard in Chromium', { timeout: 90_000 }, () => {
  it('signs in with a token, reads the fleet matrix and follows a drifted cluster to its diff', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${ui}/ui`);
    await accessible(page, 'signin');
    await signInWithToken(page, f.adminToken);
    const cell = page.locator('table.matrix td.cell').first();
    await expect(cell.textContent()).resolves.toMatch(/Drifted.*desired 1\.1\.0.*1 cluster.*1 drifted/s);
    expect(await page.locator('table.matrix thead').textContent()).toMatch(/dev.*eu/s);
    await accessible(page, 'fleet');

    await cell.getByRole('link', { name: '1 drifted' }).click();
    await accessible(page, 'clusters');
    await page.getByRole('link', { name: 'dev-1' }).click();
    await page.waitForURL(`${ui}/ui/clusters/dev-1`);
    const rows = page.locator('table.drift tbody tr');
    await expect(rows.filter({ hasText: '/spec/replicas' }).locator('td.before').textContent()).resolves.toBe('5');
    await expect(rows.filter({ hasText: '/spec/replicas' }).locator('td.after').textContent()).resolves.toBe('3');
    await expect(rows.filter({ hasText: '/data/password' }).locator('td.before').textContent()).resolves.toBe('***');
    await accessible(page, 'cluster');
    await context.close();
  });

  it('promotes with a reason and shows the resulting record', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInWithToken(page, f.adminToken);
    await page.goto(`${ui}/ui/apps/web`);
    await accessible(page, 'app');
    const form = page.locator('form[action="/ui/actions/promote"]');
    await form.getByLabel('Environment').selectOption('prod');
    await form.getByLabel('Version').selectOption('1.1.0');
    await form.getByLabel('Reason').fill('browser promotion');
    await form.getByRole('button', { name: 'Promote' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Done: Promote web to prod');
    await expect(page.locator('dl.record').textContent()).resolves.toMatch(/toVersion1\.1\.0.*actoradmin.*reasonbrowser promotion/s);
    await accessible(page, 'result');
    await page.goto(`${ui}/ui/apps/web`);
    await expect(page.locator('ol.timeline').textContent()).resolves.toMatch(/admin promoted prod.*1\.1\.0.*browser promotion/s);
    await page.goto(`${ui}/ui/events?app=web`);
    await expect(page.locator('table').textContent()).resolves.toContain('browser promotion');
    await accessible(page, 'events');
    await context.close();
  });

  it('shows a viewer no actions', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInWithToken(page, await f.mint([{ role: 'viewer' }], 'vera'));
    for (const path of ['/ui', '/ui/apps/web', '/ui/clusters/dev-1']) {
      await page.goto(`${ui}${path}`);
      await expect(page.locator('form[action^="/ui/actions/"]').count(), path).resolves.toBe(0);
      await expect(page.getByRole('button', { name: /Promote|Suspend|Freeze/ }).count(), path).resolves.toBe(0);
    }
    await context.close();
  });

  it('refuses a form posted from another site, and records nothing', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInWithToken(page, f.adminToken);
    await page.goto(attacker);
    const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Claim' }).click()]);
    expect(response?.status()).toBe(403);
    const promotions = (await f.admin('GET', '/v1/apps/web/promotions')).body.items as { reason: string }[];
    expect(promotions.some((record) => record.reason === 'forged')).toBe(false);
    await context.close();
  });

  it('signs in with OIDC (authorization code + PKCE) at oidc-provider; the claim rules grant the role', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${ui}/ui/apps/web`);
    await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${ui}/ui/apps/web`);
    await expect(page.locator('header .who').textContent()).resolves.toContain('alice (promoter)');
    await expect(page.locator('form[action="/ui/actions/promote"]').count()).resolves.toBe(1);
    const cookies = await context.cookies(ui);
    expect(cookies.find((cookie) => cookie.name === 'flotilla-session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await context.close();
  });

  it('refuses a sign-in callback it did not start, and an identity no rule grants', async () => {
    const forged = await f.app.request(`${ui}/ui/callback?code=abc&state=forged`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('this sign-in expired or was not started here');
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${ui}/ui/signin`);
    await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
    await page.locator('input[name="login"]').fill('mallory');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    const [response] = await Promise.all([page.waitForNavigation({ url: /\/ui\/callback/ }), page.getByRole('button', { name: 'Continue' }).click()]);
    expect(response?.status()).toBe(403);
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain('grants this identity a role');
    expect((await context.cookies(ui)).some((cookie) => cookie.name === 'flotilla-session')).toBe(false);
    await context.close();
  });

  it('renders the API docs from its own assets under its CSP', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('request', (request) => {
      if (!request.url().startsWith(ui) && !request.url().startsWith('data:')) problems.push(`request to ${request.url()}`);
    });
    await page.goto(`${ui}/docs`);
    await expect(page.locator('.swagger-ui .info .title').textContent({ timeout: 60_000 })).resolves.toContain('Flotilla control plane');
    await expect(page.locator('.opblock-tag-section').count()).resolves.toBeGreaterThan(3);
    expect(problems).toEqual([]);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'docs.png') });
    await context.close();
  });
});
