// Per-cluster variables through the API: the values round trip, what each cluster's desired state
// carries of them (and that changing them changes the ETag), and the 400s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

describe.each(BACKENDS)('app values on %s storage', (backend) => {
  const clock = new Date('2026-11-26T10:00:00.000Z');
  let f: Fixture;
  const keys: Record<string, AgentKeyPair> = {};

  async function registerCluster(name: string, environment: string, region: string, labels: Record<string, string> = {}) {
    await f.admin('PUT', `/v1/clusters/${name}`, { environment, region, labels });
    const { token } = (await f.admin('POST', `/v1/clusters/${name}/registration-tokens`)).body;
    const key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
    keys[name] = key;
  }

  async function checkIn(cluster: string, etag?: string) {
    const jwt = await signAgentRequest(keys[cluster]!, cluster, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state', body: '' }, clock.getTime());
    return f.call('GET', '/v1/agent/desired-state', { token: jwt, headers: etag ? { 'if-none-match': etag } : {} });
  }
  const webOf = (res: { body: { apps: { name: string }[] } }) => res.body.apps.find((app) => app.name === 'web') as Record<string, unknown>;

  beforeAll(async () => {
    f = await startFixture({ ...backendOptions(backend), now: () => clock });
    await seedWorld(f);
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
    await registerCluster('dev-us-1', 'dev', 'us', { tier: 'web', 'topology.kubernetes.io/zone': 'us-1a' });
    await registerCluster('dev-eu-1', 'dev', 'eu');
  });
  afterAll(() => f.stop());

  it('round-trips the values; an app without any reads as empty; unknown apps are 404; only admins write', async () => {
    expect((await f.admin('GET', '/v1/apps/web/values')).body).toEqual({ app: 'web', environments: {}, clusters: {}, updatedAt: null, updatedBy: null });
    const body = { environments: { dev: { log_level: 'debug', replicas: '2', empty: '' } }, clusters: { 'dev-us-1': { replicas: '5' } } };
    const put = await f.admin('PUT', '/v1/apps/web/values', body);
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ app: 'web', ...body, updatedAt: clock.toISOString(), updatedBy: 'admin' });
    expect((await f.admin('GET', '/v1/apps/web/values')).body).toEqual(put.body);
    // Absent scopes default to empty; the whole document is replaced.
    expect((await f.admin('PUT', '/v1/apps/web/values', { environments: { dev: { log_level: 'info' } } })).body).toMatchObject({ environments: { dev: { log_level: 'info' } }, clusters: {} });
    expect((await f.admin('GET', '/v1/apps/missing/values')).status).toBe(404);
    expect((await f.admin('PUT', '/v1/apps/missing/values', {})).status).toBe(404);
    const publisher = await f.mint([{ role: 'publisher' }]);
    expect((await f.call('PUT', '/v1/apps/web/values', { token: publisher, body })).status).toBe(403);
    expect((await f.call('GET', '/v1/apps/web/values', { token: publisher })).status).toBe(200);
    const events = (await f.admin('GET', '/v1/events?type=app.values-updated')).body.items;
    expect(events[0]).toMatchObject({ type: 'app.values-updated', actor: 'admin', app: 'web', data: { environments: ['dev'], clusters: [] } });
  });

  it("gives each cluster its own variables (cluster's own < environment's < cluster's values) and a new ETag when they change", async () => {
    await f.admin('PUT', '/v1/apps/web/values', { environments: { dev: { greeting: 'hello', replicas: '2' }, prod: { greeting: 'not-dev' } }, clusters: { 'dev-us-1': { replicas: '5', cluster_region: 'overridden' } } });
    const us = await checkIn('dev-us-1');
    expect(us.status).toBe(200);
    expect(webOf(us)['variables']).toEqual({
      cluster_name: 'dev-us-1',
      cluster_environment: 'dev',
      cluster_region: 'overridden',
      cluster_label_tier: 'web',
      cluster_label_topology_kubernetes_io_zone: 'us-1a',
      greeting: 'hello',
      replicas: '5',
    });
    expect(webOf(us)).not.toHaveProperty('valuesFrom');
    const eu = await checkIn('dev-eu-1');
    expect(webOf(eu)['variables']).toEqual({ cluster_name: 'dev-eu-1', cluster_environment: 'dev', cluster_region: 'eu', greeting: 'hello', replicas: '2' });
    // Nothing of another cluster's or another environment's values is in the document.
    expect(JSON.stringify(eu.body)).not.toMatch(/not-dev|"5"|overridden/);

    const etag = us.headers.get('etag')!;
    expect((await checkIn('dev-us-1', etag)).status).toBe(304);
    // A retried PUT of the same values changes nothing the cluster gets: still the same document.
    await f.admin('PUT', '/v1/apps/web/values', { environments: { dev: { greeting: 'hello', replicas: '2' }, prod: { greeting: 'not-dev' } }, clusters: { 'dev-us-1': { replicas: '5', cluster_region: 'overridden' } } });
    expect((await checkIn('dev-us-1', etag)).status).toBe(304);
    await f.admin('PUT', '/v1/apps/web/values', { environments: { dev: { greeting: 'hi', replicas: '2' } }, clusters: { 'dev-us-1': { replicas: '5' } } });
    const changed = await checkIn('dev-us-1', etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(webOf(changed)['variables']).toMatchObject({ greeting: 'hi', cluster_region: 'us' });

    // A label change is a new document too.
    const labelled = changed.headers.get('etag')!;
    await f.admin('PUT', '/v1/clusters/dev-us-1', { environment: 'dev', region: 'us', labels: { tier: 'api' } });
    const relabelled = await checkIn('dev-us-1', labelled);
    expect(relabelled.status).toBe(200);
    expect(webOf(relabelled)['variables']).toMatchObject({ cluster_label_tier: 'api' });
    expect(webOf(relabelled)['variables']).not.toHaveProperty('cluster_label_topology_kubernetes_io_zone');
  });

  it("passes the app's valuesFrom Secrets by name, and carries no variables for an app that turned substitution off", async () => {
    const spec = { repository: '127.0.0.1:5000/team/web', namespace: 'web' };
    const saved = await f.admin('PUT', '/v1/apps/web', { ...spec, valuesFrom: [{ secret: 'web-db' }, { secret: 'web.extra', optional: true }] });
    expect(saved.status).toBe(200);
    expect(saved.body.valuesFrom).toEqual([{ secret: 'web-db', optional: false }, { secret: 'web.extra', optional: true }]);
    expect(webOf(await checkIn('dev-eu-1'))['valuesFrom']).toEqual([{ secret: 'web-db', optional: false }, { secret: 'web.extra', optional: true }]);
    await f.admin('PUT', '/v1/apps/web', { ...spec, substitute: false });
    const off = webOf(await checkIn('dev-eu-1'));
    expect(off).not.toHaveProperty('variables');
    expect(off).not.toHaveProperty('valuesFrom');
    await f.admin('PUT', '/v1/apps/web', spec);
    expect(webOf(await checkIn('dev-eu-1'))['variables']).toMatchObject({ cluster_name: 'dev-eu-1' });
    for (const valuesFrom of [[{ secret: 'Not_A_Name' }], [{ secret: 'x', extra: 1 }], Array.from({ length: 17 }, (_, i) => ({ secret: `s${i}` }))]) {
      const bad = await f.admin('PUT', '/v1/apps/web', { ...spec, valuesFrom });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^body\.valuesFrom/);
    }
  });

  it.each([
    ['a variable name starting with a digit', { environments: { dev: { '1abc': 'x' } } }, /^body\.environments\.dev\.1abc: .*variable name/],
    ['a variable name with a dash', { clusters: { 'dev-us-1': { 'a-b': 'x' } } }, /^body\.clusters\.dev-us-1\.a-b: .*variable name/],
    ['a variable name every object has', { environments: { dev: { constructor: 'x' } } }, /^body\.environments\.dev\.constructor: is a reserved word/],
    ['a cluster key that is no cluster name', { clusters: { Prod_1: { a: 'x' } } }, /^body\.clusters\.Prod_1: /],
    ['an environment key every object has', { environments: { toString: { a: 'x' } } }, /^body\.environments\.toString: /],
    ['a value that is not a string', { environments: { dev: { replicas: 3 } } }, /^body\.environments\.dev\.replicas: /],
    ['a value over 4 KiB', { environments: { dev: { big: 'x'.repeat(4097) } } }, /^body\.environments\.dev\.big: /],
    ['more than 200 variables in one scope', { environments: { dev: Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`v${i}`, 'x'])) } }, /^body\.environments\.dev: at most 200 variables/],
    ['a document over 128 KiB', { clusters: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${i}`, { big: 'x'.repeat(4000) }])) }, /^body: the values take at most 131072 bytes/],
    ['an unknown field', { environments: {}, secrets: {} }, /^body.*secrets/],
  ])('refuses %s with a 400 naming it', async (_what, body, message) => {
    const res = await f.admin('PUT', '/v1/apps/web/values', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message).toMatch(message);
  });

  it('refuses a body nested thousands deep, or a huge number, with a 400 saying so', async () => {
    for (const [text, field] of [
      [`{"environments":{"dev":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}}`, /^body: nested deeper than 32 levels/],
      ['{"environments":{"dev":{"replicas":1e400}}}', /^body\.environments\.dev\.replicas: /],
    ] as const) {
      const res = await f.call('PUT', '/v1/apps/web/values', { token: f.adminToken, body: text });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(field);
    }
  });

  it('refuses a __proto__ key anywhere, and stores nothing of a refused body', async () => {
    const before = (await f.admin('GET', '/v1/apps/web/values')).body;
    for (const text of ['{"environments":{"dev":{"__proto__":"x"}}}', '{"clusters":{"__proto__":{"a":"x"}}}']) {
      const res = await f.call('PUT', '/v1/apps/web/values', { token: f.adminToken, body: text });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/__proto__/);
    }
    expect((await f.admin('GET', '/v1/apps/web/values')).body).toEqual(before);
  });
});
