import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

describe.each(BACKENDS)('on %s storage', (backend) => {
  let clock = new Date('2026-11-26T10:00:00.000Z');
  let f: Fixture;

  async function registerCluster(name: string, environment = 'dev', region = 'us', labels: Record<string, string> = {}) {
    await f.admin('PUT', `/v1/clusters/${name}`, { environment, region, labels });
    const { token } = (await f.admin('POST', `/v1/clusters/${name}/registration-tokens`)).body;
    const key = await generateAgentKey();
    const res = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } });
    expect(res.status).toBe(200);
    return { key, token, identity: res.body };
  }

  async function agentCall(cluster: string, key: AgentKeyPair, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const text = body === undefined ? '' : JSON.stringify(body);
    const jwt = await signAgentRequest(key, cluster, 'flotilla', { method, path, body: text }, clock.getTime());
    return f.call(method, path, { token: jwt, body: body === undefined ? undefined : text, headers });
  }

  const report = (phase = 'Ready', drift: unknown[] = []) => ({
    apps: [{ name: 'web', version: '1.0.0', digest: digestOf(1), phase, drift, conditions: [], counts: { unchanged: 3 } }],
  });

  beforeAll(async () => {
    f = await startFixture({ ...backendOptions(backend), now: () => clock, config: { heartbeatSeconds: 300, staleAfterSeconds: 900 } });
    await seedWorld(f);
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
  });
  afterAll(() => f.stop());
  beforeEach(() => {
    f.dynamoCalls.length = 0;
  });

  describe('agent registration', () => {
    it('exchanges a one-time token for the agent key, and refuses reuse', async () => {
      const { key, token, identity } = await registerCluster('reg-1');
      expect(identity).toEqual({ cluster: 'reg-1', environment: 'dev', region: 'us', keyId: key.keyId, audience: 'flotilla' });
      const reuse = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: (await generateAgentKey()).publicJwk } });
      expect(reuse.status).toBe(401);
      expect(reuse.body.error.message).toMatch(/already been used/);
      const cluster = (await f.admin('GET', '/v1/clusters/reg-1')).body;
      expect(cluster).toMatchObject({ registered: true, keyId: key.keyId, revoked: false });
    });

    it('refuses private keys, other key types and expired tokens', async () => {
      await f.admin('PUT', '/v1/clusters/reg-2', { environment: 'dev', region: 'us' });
      const { token } = (await f.admin('POST', '/v1/clusters/reg-2/registration-tokens')).body;
      const key = await generateAgentKey();
      const withPrivate = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.privateJwk } });
      expect(withPrivate.status).toBe(400);
      expect(withPrivate.body.error.message).toMatch(/^body\.publicKey/);
      const rsa = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: { kty: 'RSA', n: 'x', e: 'AQAB' } } });
      expect(rsa.status).toBe(400);
      const saved = clock;
      clock = new Date(clock.getTime() + 2 * 3600_000);
      const expired = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } });
      clock = saved;
      expect(expired.status).toBe(401);
    });
  });

  describe('check-ins', () => {
    it('serves the desired state with an ETag and answers 304 with no write and at most one small read', async () => {
      const { key } = await registerCluster('dev-1');
      const first = await agentCall('dev-1', key, 'GET', '/v1/agent/desired-state');
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ cluster: 'dev-1', environment: 'dev', region: 'us', suspended: false });
      expect(first.body.apps).toEqual([
        expect.objectContaining({ name: 'web', version: '1.0.0', digest: digestOf(1), namespace: 'web', suspended: false }),
      ]);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);
      // weak comparison, as a proxy may send it, and lists
      expect((await agentCall('dev-1', key, 'GET', '/v1/agent/desired-state', undefined, { 'if-none-match': `W/${etag}` })).status).toBe(304);
      expect((await agentCall('dev-1', key, 'GET', '/v1/agent/desired-state', undefined, { 'if-none-match': `"x", ${etag}` })).status).toBe(304);

      f.dynamoCalls.length = 0;
      const again = await agentCall('dev-1', key, 'GET', '/v1/agent/desired-state', undefined, { 'if-none-match': etag });
      expect(again.status).toBe(304);
      // warm: the cluster item and the environment's entries are held by the process, nothing is read
      expect(f.dynamoCalls).toEqual([]);
      clock = new Date(clock.getTime() + 61_000);
      f.dynamoCalls.length = 0;
      expect((await agentCall('dev-1', key, 'GET', '/v1/agent/desired-state', undefined, { 'if-none-match': etag })).status).toBe(304);
      expect(f.dynamoCalls.filter((op) => op === 'GetItem'), 'past agentCacheSeconds: one read of the cluster item').toEqual(['GetItem']);
      expect(f.dynamoCalls.filter((op) => op !== 'GetItem' && op !== 'Query'), 'no write').toEqual([]);

      // a new release in range changes the document and the tag
      await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.1', digest: digestOf(11) });
      const changed = await agentCall('dev-1', key, 'GET', '/v1/agent/desired-state', undefined, { 'if-none-match': etag });
      expect(changed.status).toBe(200);
      expect(changed.body.apps[0].version).toBe('1.0.1');
      expect(changed.headers.get('etag')).not.toBe(etag);
    });

    it('check-ins write nothing; the heartbeat is an unchanged report, written when due, and staleness derives from it', async () => {
      const { key } = await registerCluster('dev-2');
      f.dynamoCalls.length = 0;
      await agentCall('dev-2', key, 'GET', '/v1/agent/desired-state');
      expect(f.dynamoCalls.filter((op) => !['GetItem', 'Query'].includes(op)), 'a check-in writes nothing').toEqual([]);
      expect((await f.admin('GET', '/v1/clusters/dev-2')).body.stale, 'registered, never seen').toBe(true);
      await agentCall('dev-2', key, 'POST', '/v1/agent/reports', report());
      const seen = (await f.admin('GET', '/v1/clusters/dev-2')).body;
      expect(seen.lastSeen).toBe(clock.toISOString());
      expect(seen.stale).toBe(false);

      clock = new Date(clock.getTime() + 60_000);
      f.dynamoCalls.length = 0;
      await agentCall('dev-2', key, 'POST', '/v1/agent/reports', report());
      expect(f.dynamoCalls, 'unchanged, heartbeat not due').not.toContain('UpdateItem');

      clock = new Date(clock.getTime() + 301_000);
      f.dynamoCalls.length = 0;
      await agentCall('dev-2', key, 'POST', '/v1/agent/reports', report());
      expect(f.dynamoCalls.filter((op) => op === 'UpdateItem' || op === 'PutItem'), 'one write: the heartbeat').toEqual(['UpdateItem']);
      expect((await f.admin('GET', '/v1/clusters/dev-2')).body.lastSeen).toBe(clock.toISOString());

      // the agent's own heartbeat: a check-in flagged heartbeat=1, one write of the small status item
      clock = new Date(clock.getTime() + 60_000);
      f.dynamoCalls.length = 0;
      const flagged = await agentCall('dev-2', key, 'GET', '/v1/agent/desired-state?heartbeat=1');
      expect(flagged.status).toBe(200);
      expect(flagged.body.heartbeat, 'the document tells the agent how often').toBe(300);
      expect(f.dynamoCalls.filter((op) => !['GetItem', 'Query'].includes(op))).toEqual(['UpdateItem']);
      expect((await f.admin('GET', '/v1/clusters/dev-2')).body.lastSeen).toBe(clock.toISOString());
      expect((await agentCall('dev-2', key, 'GET', '/v1/agent/desired-state?heartbeat=yes')).status, 'a bad flag names the field').toBe(400);

      clock = new Date(clock.getTime() + 901_000);
      expect((await f.admin('GET', '/v1/clusters/dev-2')).body.stale).toBe(true);
    });
  });

  describe('two containers', () => {
    it('another container sees a rotated key at once, a revocation within agentCacheSeconds, and a revoked report never', async () => {
      const { key } = await registerCluster('two-1');
      const other = await f.sibling();
      const viaOther = async (signer: typeof key, method: string, path: string, body?: unknown) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const jwt = await signAgentRequest(signer, 'two-1', 'flotilla', { method, path, body: text ?? '' }, clock.getTime());
        return other(method, path, { token: jwt, body: text });
      };
      expect((await viaOther(key, 'GET', '/v1/agent/desired-state')).status, 'container B reads and holds the cluster').toBe(200);
      const next = await generateAgentKey();
      expect((await agentCall('two-1', key, 'POST', '/v1/agent/keys', { publicKey: next.publicJwk })).status, 'rotated through A').toBe(200);
      expect((await viaOther(next, 'GET', '/v1/agent/desired-state')).status, 'B reads the cluster again for a key it does not hold').toBe(200);

      expect((await f.admin('POST', '/v1/clusters/two-1/revoke', { reason: 'stolen' })).status).toBe(200);
      expect((await agentCall('two-1', next, 'GET', '/v1/agent/desired-state')).status, 'A refuses at once').toBe(403);
      expect((await viaOther(next, 'GET', '/v1/agent/desired-state')).status, 'B still holds the cluster it read').toBe(200);
      expect((await viaOther(next, 'POST', '/v1/agent/reports', report('Failed'))).status, 'a changed report re-reads the cluster: refused').toBe(409);
      clock = new Date(clock.getTime() + 61_000);
      expect((await viaOther(next, 'GET', '/v1/agent/desired-state')).status, 'past agentCacheSeconds B refuses too').toBe(403);
    });
  });

  describe('reports', () => {
    it('stores a changed report, writes nothing for an unchanged one until the heartbeat is due', async () => {
      const { key } = await registerCluster('dev-3');
      const stored = await agentCall('dev-3', key, 'POST', '/v1/agent/reports', report());
      expect(stored.status).toBe(202);
      expect(stored.body).toEqual({ accepted: true, stored: true });

      f.dynamoCalls.length = 0;
      const unchanged = await agentCall('dev-3', key, 'POST', '/v1/agent/reports', report());
      expect(unchanged.body.stored).toBe(false);
      expect(f.dynamoCalls.filter((op) => op !== 'GetItem')).toEqual([]);

      clock = new Date(clock.getTime() + 301_000);
      f.dynamoCalls.length = 0;
      await agentCall('dev-3', key, 'POST', '/v1/agent/reports', report());
      expect(f.dynamoCalls.filter((op) => op === 'UpdateItem')).toHaveLength(1);
      expect((await f.admin('GET', '/v1/clusters/dev-3')).body.lastSeen).toBe(clock.toISOString());
    });

    it('keeps drift details in S3, summarises them and records drift events', async () => {
      const { key } = await registerCluster('dev-4');
      const drift = [
        { object: 'ConfigMap/web/settings', fields: [{ path: 'data.mode', before: 'blue', after: 'red' }], corrected: true },
      ];
      await agentCall('dev-4', key, 'POST', '/v1/agent/reports', report('Ready', drift));
      const view = (await f.admin('GET', '/v1/clusters/dev-4/drift')).body;
      expect(view.apps[0].drift).toEqual(drift);
      const events = (await f.admin('GET', '/v1/events?cluster=dev-4&type=drift.corrected')).body.items;
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ actor: 'agent:dev-4', app: 'web', data: { object: 'ConfigMap/web/settings' } });
      expect(events[0].data.fields[0]).toEqual({ path: 'data.mode', before: 'blue', after: 'red' });

      await agentCall('dev-4', key, 'POST', '/v1/agent/reports', report('Failed'));
      const cluster = (await f.admin('GET', '/v1/clusters/dev-4')).body;
      expect(cluster.apps.web).toMatchObject({ phase: 'Failed', version: '1.0.0', drifted: 0 });
    });

    it('refuses a replayed older report once a newer one is stored', async () => {
      const { key } = await registerCluster('dev-6');
      const path = '/v1/agent/reports';
      const failed = JSON.stringify(report('Failed'));
      const old = await signAgentRequest(key, 'dev-6', 'flotilla', { method: 'POST', path, body: failed }, clock.getTime());
      clock = new Date(clock.getTime() + 5000);
      await agentCall('dev-6', key, 'POST', path, report('Ready'));
      const replay = await f.call('POST', path, { token: old, body: failed });
      expect(replay.status).toBe(409);
      expect((await f.admin('GET', '/v1/clusters/dev-6')).body.apps.web.phase).toBe('Ready');
    });

    it('keeps drift events small however large the drifted values are', async () => {
      const { key } = await registerCluster('dev-7');
      const huge = 'x'.repeat(300_000);
      const drift = [{ object: 'ConfigMap/web/big', fields: [{ path: '/data/blob', before: huge, after: 'y' }], corrected: true }];
      expect((await agentCall('dev-7', key, 'POST', '/v1/agent/reports', report('Ready', drift))).status).toBe(202);
      const [event] = (await f.admin('GET', '/v1/events?cluster=dev-7&type=drift.corrected')).body.items;
      expect(event.data.fields[0].before.length).toBeLessThan(1000);
      expect(event.data.fields[0].before).toMatch(/300000 characters/);
      // the full value stays in the report in S3
      expect((await f.admin('GET', '/v1/clusters/dev-7/drift')).body.apps[0].drift[0].fields[0].before).toHaveLength(300_000);
    });

    it('rejects malformed reports with 400 and stores nothing', async () => {
      const { key } = await registerCluster('dev-5');
      const bad = await agentCall('dev-5', key, 'POST', '/v1/agent/reports', { apps: [{ name: 'web', phase: 'Dancing' }] });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^body\.apps\.0\./);
      expect((await f.admin('GET', '/v1/clusters/dev-5')).body.apps).toEqual({});
    });
  });

  describe('key rotation and revocation', () => {
    it('rotates with a request signed by the old key; the old key stops working', async () => {
      const { key } = await registerCluster('rot-1');
      const next = await generateAgentKey();
      const rotated = await agentCall('rot-1', key, 'POST', '/v1/agent/keys', { publicKey: next.publicJwk });
      expect(rotated.status).toBe(200);
      expect(rotated.body.keyId).toBe(next.keyId);
      expect((await agentCall('rot-1', key, 'GET', '/v1/agent/desired-state')).status).toBe(401);
      expect((await agentCall('rot-1', next, 'GET', '/v1/agent/desired-state')).status).toBe(200);
    });

    it('cuts a revoked cluster off with a clear message', async () => {
      const { key } = await registerCluster('rev-1');
      const spare = (await f.admin('POST', '/v1/clusters/rev-1/registration-tokens')).body.token;
      clock = new Date(clock.getTime() + 1000);
      expect((await f.admin('POST', '/v1/clusters/rev-1/revoke', { reason: 'decommissioned' })).body.revoked).toBe(true);
      const res = await agentCall('rev-1', key, 'GET', '/v1/agent/desired-state');
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/revoked/);
      // a registration token issued before the revocation does not re-admit the cluster
      const stale = await f.call('POST', '/v1/agent/register', { token: spare, body: { publicKey: (await generateAgentKey()).publicJwk } });
      expect(stale.status).toBe(401);
      expect((await f.admin('GET', '/v1/clusters/rev-1')).body.revoked).toBe(true);
      // one issued after it does (re-bootstrap)
      clock = new Date(clock.getTime() + 1000);
      const { token } = (await f.admin('POST', '/v1/clusters/rev-1/registration-tokens')).body;
      const fresh = await generateAgentKey();
      expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: fresh.publicJwk } })).status).toBe(200);
      expect((await agentCall('rev-1', fresh, 'GET', '/v1/agent/desired-state')).status).toBe(200);
    });
  });

  describe('suspension', () => {
    it('marks the cluster or one app suspended in the desired state until resumed', async () => {
      const { key } = await registerCluster('sus-1');
      await f.admin('POST', '/v1/clusters/sus-1/suspend', { reason: 'incident 42' });
      expect((await agentCall('sus-1', key, 'GET', '/v1/agent/desired-state')).body.suspended).toBe(true);
      await f.admin('POST', '/v1/clusters/sus-1/resume', { reason: 'resolved' });
      await f.admin('POST', '/v1/clusters/sus-1/suspend', { reason: 'hotfix', app: 'web' });
      const state = (await agentCall('sus-1', key, 'GET', '/v1/agent/desired-state')).body;
      expect(state.suspended).toBe(false);
      expect(state.apps[0].suspended).toBe(true);
      expect((await f.admin('POST', '/v1/clusters/sus-1/suspend', { reason: 'x', until: '2020-01-01T00:00:00Z' })).status).toBe(400);
      const types = (await f.admin('GET', '/v1/events?cluster=sus-1&order=asc')).body.items.map((e: { type: string }) => e.type);
      expect(types).toEqual(['cluster.created', 'cluster.registration-token-issued', 'cluster.registered', 'cluster.suspended', 'cluster.resumed', 'cluster.suspended']);
    });
  });
});
