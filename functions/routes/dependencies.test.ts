// dependsOn and the drift mode through the API: validation, cycles, the round trip into the desired state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest } from '../../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

const repository = 'registry.example.com:5000/team/x';

describe.each(BACKENDS)('dependsOn and drift mode on %s storage', (backend) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture(backendOptions(backend));
    await seedWorld(f);
    for (const name of ['crds', 'operator']) expect((await f.admin('PUT', `/v1/apps/${name}`, { repository })).status).toBe(201);
  });
  afterAll(() => f.stop());

  it('round-trips dependsOn and drift, and describes them in the OpenAPI document', async () => {
    const put = await f.admin('PUT', '/v1/apps/web', { repository: '127.0.0.1:5000/team/web', namespace: 'web', dependsOn: ['operator', 'crds'], drift: 'report' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ dependsOn: ['operator', 'crds'], drift: 'report' });
    expect((await f.admin('GET', '/v1/apps/web')).body).toMatchObject({ dependsOn: ['operator', 'crds'], drift: 'report' });
    expect((await f.admin('PUT', '/v1/apps/operator', { repository, dependsOn: ['crds'] })).status).toBe(200);

    const spec = (await f.call('GET', '/openapi.json')).body;
    const appSpec = spec.components.schemas.AppSpec.properties;
    expect(appSpec.dependsOn).toMatchObject({ type: 'array', maxItems: 16, description: expect.stringMatching(/DependencyNotReady/) });
    expect(appSpec.drift).toMatchObject({ enum: ['correct', 'report'], description: expect.stringMatching(/not suspension/) });
    expect(Object.keys(spec.components.schemas.DesiredApp.properties)).toEqual(expect.arrayContaining(['dependsOn', 'drift']));
  });

  it('carries dependsOn and drift in the desired state the agent gets (defaults for apps without them)', async () => {
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
    await f.admin('POST', '/v1/apps/crds/releases', { version: '1.0.0', digest: digestOf(2) });
    await f.admin('PUT', '/v1/apps/crds/environments/dev', { track: '^1.0.0' });
    await f.admin('PUT', '/v1/clusters/deps-1', { environment: 'dev', region: 'us' });
    const { token } = (await f.admin('POST', '/v1/clusters/deps-1/registration-tokens')).body;
    const key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
    const jwt = await signAgentRequest(key, 'deps-1', 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' }, Date.now());
    const state = (await f.call('GET', '/v1/agent/desired-state', { token: jwt })).body;
    const byName = Object.fromEntries(state.apps.map((app: { name: string }) => [app.name, app]));
    expect(byName.web).toMatchObject({ dependsOn: ['operator', 'crds'], drift: 'report' });
    expect(byName.crds).toMatchObject({ dependsOn: [], drift: 'correct' });
  });

  it('refuses an unknown dependency, naming the field and the app', async () => {
    const res = await f.admin('PUT', '/v1/apps/api', { repository, dependsOn: ['crds', 'nope', 'gone'] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'bad_request', message: 'body.dependsOn: unknown apps nope, gone' });
    expect((await f.admin('GET', '/v1/apps/api')).status).toBe(404);
  });

  it('refuses a self-dependency and a cycle through stored apps, naming the cycle, and changes nothing', async () => {
    const self = await f.admin('PUT', '/v1/apps/crds', { repository, dependsOn: ['crds'] });
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe('bad_request');
    expect(self.body.error.message).toMatch(/^body\.dependsOn: .*crds → crds/);

    // web → operator → crds; crds → web closes it.
    const cycle = await f.admin('PUT', '/v1/apps/crds', { repository, dependsOn: ['web'] });
    expect(cycle.status).toBe(400);
    expect(cycle.body.error).toMatchObject({ code: 'bad_request', message: 'body.dependsOn: would make a dependency cycle crds → web → operator → crds' });
    expect((await f.admin('GET', '/v1/apps/crds')).body.dependsOn).toBeUndefined();

    // Not a cycle: a diamond (api → web, api → crds; web → crds).
    expect((await f.admin('PUT', '/v1/apps/api', { repository, dependsOn: ['web', 'crds'] })).status).toBe(201);
  });

  it('refuses malformed dependsOn and drift values naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ dependsOn: ['Not_A_Name'] }, /^body\.dependsOn\.0:/],
      [{ dependsOn: ['crds', 'crds'] }, /^body\.dependsOn: names each app once/],
      [{ dependsOn: Array.from({ length: 17 }, (_, i) => `a${i}`) }, /^body\.dependsOn: at most 16/],
      [{ dependsOn: 'crds' }, /^body\.dependsOn:/],
      [{ dependsOn: ['constructor'] }, /^body\.dependsOn\.0: is a reserved word/],
      [{ drift: 'ignore' }, /^body\.drift:/],
    ];
    for (const [extra, message] of cases) {
      const res = await f.admin('PUT', '/v1/apps/bad', { repository, ...(extra as object) });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
  });
});
