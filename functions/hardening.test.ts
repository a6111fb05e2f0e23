// Hostile and odd input: every answer is a 4xx naming the field, and nothing is lost or changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, seedWorld, startFixture, type Fixture } from '../test/support/control-plane.ts';

describe.each(BACKENDS)('hostile input on %s storage', (backend) => {
  let f: Fixture;
  let key: AgentKeyPair;

  async function agentCall(cluster: string, agentKey: AgentKeyPair, method: string, path: string, body?: unknown, seq?: number, now = Date.now()) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const jwt = await signAgentRequest(agentKey, cluster, 'flotilla', { method, path, body: text, seq }, now);
    return f.call(method, path, { token: jwt, body: body === undefined ? undefined : text });
  }

  beforeAll(async () => {
    f = await startFixture(backendOptions(backend));
    await seedWorld(f);
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
    await f.admin('PUT', '/v1/clusters/dev-1', { environment: 'dev', region: 'us' });
    const { token } = (await f.admin('POST', '/v1/clusters/dev-1/registration-tokens')).body;
    key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
  });
  afterAll(() => f.stop());

  describe('prototype keys never reach storage', () => {
    it.each([
      ['an app named constructor', 'PUT', '/v1/apps/constructor', { repository: 'r.example/team/web' }, 'param.app'],
      ['a region named constructor', 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', region: 'constructor', reason: 'r' }, 'body.region'],
      ['a label key constructor', 'PUT', '/v1/clusters/c-1', { environment: 'dev', region: 'us', labels: { constructor: 'x' } }, 'body.labels'],
      ['a selector key __proto__', 'PUT', '/v1/apps/web2', { repository: 'r.example/team/web', clusterSelector: JSON.parse('{"__proto__": "x"}') }, 'body.clusterSelector'],
      ['a selector key toString', 'PUT', '/v1/apps/web2', { repository: 'r.example/team/web', clusterSelector: { toString: 'x' } }, 'body.clusterSelector'],
      ['an environment named prototype', 'PUT', '/v1/environments/prototype', {}, 'param.env'],
    ])('refuses %s with a 400 naming the field', async (_name, method, path, body, field) => {
      const before = (await f.admin('GET', '/v1/events?limit=1000')).body.items.length;
      const res = await f.admin(method, path, body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.message).toContain(field);
      expect((await f.admin('GET', '/v1/events?limit=1000')).body.items.length).toBe(before);
    });

    it('keeps drifted values with a key named constructor', async () => {
      const drift = [{ object: 'ConfigMap/web/settings', corrected: true, fields: [{ path: '/data', before: { constructor: 'a' }, after: { constructor: 'b' } }] }];
      const report = { apps: [{ name: 'web', version: '1.0.0', digest: digestOf(1), phase: 'Ready', drift, conditions: [], counts: {} }] };
      expect((await agentCall('dev-1', key, 'POST', '/v1/agent/reports', report)).status).toBe(202);
      const events = (await f.admin('GET', '/v1/events?cluster=dev-1&type=drift.corrected')).body.items;
      expect(events[0].data.fields[0].after).toEqual({ constructor: 'b' });
    });
  });

  it('refuses versions whose numbers exceed 2^53, and lists releases afterwards', async () => {
    const res = await f.admin('POST', '/v1/apps/web/releases', { version: '99999999999999999999.0.0', digest: digestOf(9) });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.version: /);
    expect((await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0-rc.99999999999999999999', digest: digestOf(9) })).status).toBe(400);
    expect((await f.admin('GET', '/v1/apps/web/releases')).status).toBe(200);
  });

  it('refuses bodies nested deeper than DynamoDB stores, naming the body', async () => {
    // JSON.stringify itself overflows at this depth: the text is built by hand.
    const deep = '['.repeat(10_000) + '"x"' + ']'.repeat(10_000);
    const drift = `[{"object":"ConfigMap/web/settings","corrected":true,"fields":[{"path":"/data","before":${deep},"after":1}]}]`;
    const report = `{"apps":[{"name":"web","version":"1.0.0","digest":"${digestOf(1)}","phase":"Ready","drift":${drift}}]}`;
    const res = await agentCall('dev-1', key, 'POST', '/v1/agent/reports', report);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body: nested deeper than 32/);
    const app = await f.admin('PUT', '/v1/apps/web', `{"repository":"r.example/team/web","clusterSelector":${deep}}`);
    expect(app.status).toBe(400);
    expect((await f.admin('GET', '/v1/apps/web')).body.clusterSelector).toBeUndefined();
  });

  it('keeps moderately deep drifted values as text in events, within DynamoDB nesting', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 25; i++) deep = { a: deep };
    const drift = [{ object: 'ConfigMap/web/deep', corrected: true, fields: [{ path: '/data', before: deep, after: 1 }] }];
    const report = { apps: [{ name: 'web', version: '1.0.0', digest: digestOf(1), phase: 'Ready', drift, conditions: [], counts: { unchanged: 1 } }] };
    expect((await agentCall('dev-1', key, 'POST', '/v1/agent/reports', report)).status).toBe(202);
    const [event] = (await f.admin('GET', '/v1/events?cluster=dev-1&type=drift.corrected')).body.items;
    expect(typeof event.data.fields[0].before).toBe('string');
  });

  it('ignores reported apps outside the desired state, writing no event for them', async () => {
    const apps = ['web', 'ghost', 'constructor-app'].map((name) => ({ name, version: '1.0.0', digest: digestOf(1), phase: 'Failed', reason: 'ApplyFailed', message: 'free text', drift: [], conditions: [], counts: {} }));
    expect((await agentCall('dev-1', key, 'POST', '/v1/agent/reports', { apps })).status).toBe(202);
    const cluster = (await f.admin('GET', '/v1/clusters/dev-1')).body;
    expect(Object.keys(cluster.apps)).toEqual(['web']);
    const failed = (await f.admin('GET', '/v1/events?cluster=dev-1&type=reconcile.failed')).body.items;
    expect(failed.map((event: { app: string }) => event.app)).toEqual(['web']);
  });

  it('refuses an older report replayed within the same second, by the agent counter', async () => {
    const now = Date.now();
    const report = (phase: string) => ({ apps: [{ name: 'web', version: '1.0.0', digest: digestOf(1), phase, drift: [], conditions: [], counts: {} }] });
    expect((await agentCall('dev-1', key, 'POST', '/v1/agent/reports', report('Progressing'), now + 1, now)).status).toBe(202);
    expect((await agentCall('dev-1', key, 'POST', '/v1/agent/reports', report('Ready'), now + 2, now)).status).toBe(202);
    const replay = await agentCall('dev-1', key, 'POST', '/v1/agent/reports', report('Progressing'), now + 1, now);
    expect(replay.status).toBe(409);
    expect((await f.admin('GET', '/v1/clusters/dev-1')).body.apps.web.phase).toBe('Ready');
  });

  it('looks the same for unknown and revoked clusters to a caller without a valid signature', async () => {
    await f.admin('PUT', '/v1/clusters/gone-1', { environment: 'dev', region: 'us' });
    const { token } = (await f.admin('POST', '/v1/clusters/gone-1/registration-tokens')).body;
    const goneKey = await generateAgentKey();
    await f.call('POST', '/v1/agent/register', { token, body: { publicKey: goneKey.publicJwk } });
    await f.admin('POST', '/v1/clusters/gone-1/revoke', { reason: 'decommissioned' });
    const stranger = await generateAgentKey();
    const forged = { ...stranger, keyId: goneKey.keyId };
    const revoked = await agentCall('gone-1', forged, 'GET', '/v1/agent/desired-state');
    const unknown = await agentCall('never-was', forged, 'GET', '/v1/agent/desired-state');
    expect([revoked.status, revoked.body.error.message]).toEqual([unknown.status, unknown.body.error.message]);
    expect(revoked.status).toBe(401);
    // the agent that holds the key is told plainly
    const own = await agentCall('gone-1', goneKey, 'GET', '/v1/agent/desired-state');
    expect(own.status).toBe(403);
    expect(own.body.error.message).toMatch(/revoked/);
  });

  it('reads a body without a content type as JSON', async () => {
    // (a string body would get text/plain from fetch; bytes go without a type)
    const body = new TextEncoder().encode('{"description":"no type"}');
    const res = await f.app.request('/v1/environments/qa', { method: 'PUT', headers: { authorization: `Bearer ${f.adminToken}` }, body });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { description: string }).description).toBe('no type');
  });
});

describe('bounded pins', () => {
  it('refuses a region pin beyond the limit per environment, so the desired entry stays small', async () => {
    const f = await startFixture();
    try {
      await seedWorld(f);
      await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
      for (let i = 0; i < 100; i++) {
        expect((await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', region: `r-${i}`, reason: 'r' })).status).toBe(201);
      }
      const over = await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', region: 'r-100', reason: 'r' });
      expect(over.status).toBe(409);
      expect(over.body.error.message).toMatch(/100 pins/);
    } finally {
      await f.stop();
    }
  });
});
