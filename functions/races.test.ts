// The promotion invariants under concurrency, on both storage backends: whatever the interleaving
// of block, promote, track and rollback, no cluster resolves a blocked release; a revoked cluster
// stays revoked; a request repeated with its Idempotency-Key has one outcome.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';
import { sleep } from '../lib/sleep.ts';
import { BACKENDS, backendOptions, digestOf, startFixture, type Fixture } from '../test/support/control-plane.ts';

describe.each(BACKENDS)('races on %s storage', (backend) => {
  let f: Fixture;
  let prodKey: AgentKeyPair;
  let devKey: AgentKeyPair;

  async function register(cluster: string, environment: string) {
    await f.admin('PUT', `/v1/clusters/${cluster}`, { environment, region: 'us' });
    const { token } = (await f.admin('POST', `/v1/clusters/${cluster}/registration-tokens`)).body;
    const key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
    return key;
  }

  async function desiredVersions(cluster: string, key: AgentKeyPair): Promise<Record<string, string>> {
    const jwt = await signAgentRequest(key, cluster, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' });
    const res = await f.call('GET', '/v1/agent/desired-state', { token: jwt });
    expect(res.status).toBe(200);
    return Object.fromEntries(res.body.apps.map((app: { name: string; version: string }) => [app.name, app.version]));
  }

  async function blockedVersions(app: string): Promise<Set<string>> {
    const releases = (await f.admin('GET', `/v1/apps/${app}/releases`)).body.items as { version: string; blocked: unknown }[];
    return new Set(releases.filter((release) => release.blocked).map((release) => release.version));
  }

  beforeAll(async () => {
    f = await startFixture(backendOptions(backend));
    await f.admin('PUT', '/v1/environments/dev', {});
    await f.admin('PUT', '/v1/environments/prod', { upstream: 'dev' });
    prodKey = await register('prod-1', 'prod');
    devKey = await register('dev-1', 'dev');
  });
  afterAll(() => f.stop());

  it('never resolves a blocked release, whatever the interleaving of block and promote', async () => {
    await f.admin('PUT', '/v1/apps/web', { repository: '127.0.0.1:5000/team/web' });
    await f.admin('PUT', '/v1/apps/web/environments/prod', { track: null });
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
    expect((await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'base' })).status).toBe(201);
    let bothAccepted = 0;
    for (let i = 1; i <= 15; i++) {
      const version = `1.0.${i}`;
      await f.admin('POST', '/v1/apps/web/releases', { version, digest: digestOf(100 + i) });
      const [block, promote] = await Promise.all([
        f.admin('POST', `/v1/apps/web/releases/${version}/block`, { reason: 'bad build' }),
        f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version, reason: 'ship it' }),
      ]);
      expect(block.status).toBe(200);
      expect([201, 409]).toContain(promote.status);
      if (promote.status === 201) bothAccepted++;
      const running = (await desiredVersions('prod-1', prodKey)).web;
      expect((await blockedVersions('web')).has(running!), `prod-1 resolves blocked ${running}`).toBe(false);
      expect((await f.admin('GET', '/v1/apps/web/environments/prod')).body.resolved.version).toBe(running);
    }
    // whichever won each race, prod ends on the last good version
    expect((await desiredVersions('prod-1', prodKey)).web).toBe('1.0.0');
    expect(bothAccepted).toBeLessThanOrEqual(15);
  });

  it('never resolves a blocked release while tracking follows new releases being blocked', async () => {
    await f.admin('PUT', '/v1/apps/api', { repository: '127.0.0.1:5000/team/api' });
    await f.admin('PUT', '/v1/apps/api/environments/dev', { track: '^2.0.0' });
    await f.admin('POST', '/v1/apps/api/releases', { version: '2.0.0', digest: digestOf(2) });
    for (let i = 1; i <= 10; i++) {
      const version = `2.0.${i}`;
      const publish = f.admin('POST', '/v1/apps/api/releases', { version, digest: digestOf(200 + i) });
      const block = (async () => {
        await publish;
        return f.admin('POST', `/v1/apps/api/releases/${version}/block`, { reason: 'bad' });
      })();
      const [published, blocked] = await Promise.all([publish, block]);
      expect(published.status).toBe(201);
      expect(blocked.status).toBe(200);
      expect((await desiredVersions('dev-1', devKey)).api).toBe('2.0.0');
    }
  });

  it('never resolves a blocked release when a rollback races a block of its target', async () => {
    await f.admin('PUT', '/v1/apps/jobs', { repository: '127.0.0.1:5000/team/jobs' });
    await f.admin('PUT', '/v1/apps/jobs/environments/prod', { track: null });
    for (let i = 0; i < 6; i++) {
      const [previous, current] = [`3.${i}.0`, `3.${i}.1`];
      await f.admin('POST', '/v1/apps/jobs/releases', { version: previous, digest: digestOf(300 + 2 * i) });
      await f.admin('POST', '/v1/apps/jobs/releases', { version: current, digest: digestOf(301 + 2 * i) });
      await f.admin('POST', '/v1/apps/jobs/promotions', { environment: 'prod', version: previous, reason: 'base' });
      await f.admin('POST', '/v1/apps/jobs/promotions', { environment: 'prod', version: current, reason: 'next' });
      const [rollback, block] = await Promise.all([
        f.admin('POST', '/v1/apps/jobs/rollbacks', { environment: 'prod', reason: 'regression' }),
        f.admin('POST', `/v1/apps/jobs/releases/${previous}/block`, { reason: 'also bad' }),
      ]);
      expect([201, 409]).toContain(rollback.status);
      expect(block.status).toBe(200);
      const running = (await desiredVersions('prod-1', prodKey)).jobs;
      if (running !== undefined) expect((await blockedVersions('jobs')).has(running)).toBe(false);
    }
  });

  it('keeps a revoked cluster revoked when a registration with an older token races the revocation', async () => {
    for (let i = 0; i < 8; i++) {
      const cluster = `race-${i}`;
      await register(cluster, 'dev');
      const { token } = (await f.admin('POST', `/v1/clusters/${cluster}/registration-tokens`)).body;
      // the token is issued before the revocation, in an earlier second
      await sleep(1000 - (Date.now() % 1000) + 5);
      const key = await generateAgentKey();
      const [revoke, registration] = await Promise.all([
        f.admin('POST', `/v1/clusters/${cluster}/revoke`, { reason: 'compromised' }),
        f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } }),
      ]);
      expect(revoke.status).toBe(200);
      expect([200, 401]).toContain(registration.status);
      expect((await f.admin('GET', `/v1/clusters/${cluster}`)).body.revoked).toBe(true);
      const jwt = await signAgentRequest(key, cluster, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' });
      expect([401, 403]).toContain((await f.call('GET', '/v1/agent/desired-state', { token: jwt })).status);
    }
  });

  it('gives one outcome to a promotion sent many times at once with one Idempotency-Key', async () => {
    await f.admin('PUT', '/v1/apps/cron', { repository: '127.0.0.1:5000/team/cron' });
    await f.admin('POST', '/v1/apps/cron/releases', { version: '1.0.0', digest: digestOf(400) });
    const send = () =>
      f.call('POST', '/v1/apps/cron/promotions', {
        token: f.adminToken,
        body: { environment: 'prod', version: '1.0.0', reason: 'once' },
        headers: { 'idempotency-key': 'promote-cron-1' },
      });
    const answers = await Promise.all(Array.from({ length: 10 }, send));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(201));
    expect(new Set(answers.map((answer) => answer.body.seq))).toEqual(new Set([1]));
    expect((await send()).body).toEqual(answers[0]!.body);
    expect((await f.admin('GET', '/v1/apps/cron/promotions')).body.items).toHaveLength(1);
    const reused = await f.call('POST', '/v1/apps/cron/rollbacks', {
      token: f.adminToken,
      body: { environment: 'prod', reason: 'x' },
      headers: { 'idempotency-key': 'promote-cron-1' },
    });
    expect(reused.status).toBe(409);
  });

  it('counts concurrent approvals once per approver', async () => {
    await f.admin('PUT', '/v1/apps/ledger', { repository: '127.0.0.1:5000/team/ledger' });
    await f.admin('POST', '/v1/apps/ledger/releases', { version: '1.0.0', digest: digestOf(500) });
    const [one, two] = [await f.mint([{ role: 'promoter' }], 'sre-one'), await f.mint([{ role: 'promoter' }], 'sre-two')];
    const approve = (token: string) => f.call('POST', '/v1/apps/ledger/releases/1.0.0/approvals', { token, body: { environment: 'prod', reason: 'ok' } });
    const answers = await Promise.all([one, one, one, two, two].map(approve));
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201, 201]);
    const approvals = (await f.admin('GET', '/v1/apps/ledger/releases/1.0.0/approvals?environment=prod')).body.items;
    expect(approvals.map((approval: { actor: string }) => approval.actor).sort()).toEqual(['sre-one', 'sre-two']);
  });

  it('never resolves a recalled release when the recall races promotions of it', async () => {
    await f.admin('PUT', '/v1/apps/shop', { repository: '127.0.0.1:5000/team/shop' });
    await f.admin('PUT', '/v1/apps/shop/environments/prod', { track: null });
    await f.admin('POST', '/v1/apps/shop/releases', { version: '1.0.0', digest: digestOf(600) });
    await f.admin('POST', '/v1/apps/shop/promotions', { environment: 'prod', version: '1.0.0', reason: 'base' });
    for (let i = 1; i <= 6; i++) {
      const version = `1.0.${i}`;
      await f.admin('POST', '/v1/apps/shop/releases', { version, digest: digestOf(600 + i) });
      const [recall] = await Promise.all([
        f.admin('POST', `/v1/apps/shop/releases/${version}/block`, { reason: 'bad', recall: true }),
        f.admin('POST', '/v1/apps/shop/promotions', { environment: 'prod', version, reason: 'ship' }),
        f.admin('POST', '/v1/apps/shop/promotions', { environment: 'prod', region: 'us', version, reason: 'ship us' }),
      ]);
      expect(recall.status).toBe(200);
      const running = (await desiredVersions('prod-1', prodKey)).shop;
      expect(running).toBe('1.0.0');
    }
  });
});
