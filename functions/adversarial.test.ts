// Defects an adversarial review found, one test each: forged cursors, reports that could wedge the outbox, concurrent report order, suspensions that grow the cluster item, a cursor widening the audit window, repeated suspend/resume/revoke.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, seedWorld, startFixture, type Fixture } from '../test/support/control-plane.ts';

const backends = BACKENDS;
describe.each(backends)('adversarial findings on %s', (backend) => {
  let f: Fixture;
  let n = 0;
  let seq = Date.now();
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

  async function cluster(): Promise<{ name: string; key: AgentKeyPair; report: (body: unknown, s?: number) => ReturnType<Fixture['call']> }> {
    const name = `c-${++n}`;
    await f.admin('PUT', `/v1/clusters/${name}`, { environment: 'dev', region: 'us' });
    const { token } = (await f.admin('POST', `/v1/clusters/${name}/registration-tokens`)).body;
    const key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
    const report = async (body: unknown, s = ++seq) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const jwt = await signAgentRequest(key, name, 'flotilla', { method: 'POST', path: '/v1/agent/reports', body: text, seq: s });
      return f.call('POST', '/v1/agent/reports', { token: jwt, body: text });
    };
    return { name, key, report };
  }
  const appReport = (extra: Record<string, unknown>) => ({ apps: [{ name: 'web', version: '1.0.0', digest: digestOf(1), phase: 'Ready', drift: [], conditions: [], counts: {}, ...extra }] });

  beforeAll(async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    f = await startFixture(backendOptions(backend));
    await seedWorld(f);
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
  });
  afterAll(() => f.stop());

  it.each([['/v1/apps', 'APPS'], ['/v1/clusters', 'CLUSTERS'], ['/v1/environments', 'ENVS'], ['/v1/tokens', 'TOKENS'], ['/v1/apps/web/releases', 'RELEASES#web'], ['/v1/apps/web/promotions', 'PROMOS#web']])(
    'a forged cursor of %s is a 400, not a 500',
    async (path, collection) => {
      for (const position of [{ pk: '', sk: '', gsi1pk: collection, gsi1sk: '' }, { pk: 'x', sk: 'y'.repeat(1100), gsi1pk: collection, gsi1sk: 'z' }]) {
        expect((await f.admin('GET', `${path}?cursor=${enc(position)}`)).status).toBe(400);
      }
    },
  );

  it('a drift value beyond 2^53 is no 500, and does not wedge the report outbox', async () => {
    const c = await cluster();
    const drift = `[{"object":"ConfigMap/web/x","corrected":true,"fields":[{"path":"/spec/x","before":9007199254740993,"after":1}]}]`;
    const first = await c.report(`{"apps":[{"name":"web","version":"1.0.0","digest":"${digestOf(1)}","phase":"Ready","drift":${drift}}]}`);
    expect(first.status).not.toBe(500);
    expect((await c.report(appReport({ phase: 'Progressing' }))).status, 'the next, ordinary report').toBe(202);
  });

  it('a long reported version does not wedge the report outbox', async () => {
    const c = await cluster();
    const first = await c.report(appReport({ version: 'v'.repeat(250_000) }));
    expect(first.status).not.toBe(500);
    expect((await c.report(appReport({ phase: 'Progressing' }))).status, 'the next, ordinary report').toBe(202);
  });

  it('of two concurrent reports one is stored and the other told to send again; an older one never overwrites a newer', async () => {
    const c = await cluster();
    const clusters = f.services.storage.clusters as any;
    const orig = clusters.finishReport.bind(clusters);
    let newerAnswered!: () => void;
    const answered = new Promise<void>((r) => (newerAnswered = r));
    const base = ++seq;
    seq += 10;
    clusters.finishReport = async (name: string, claimId: string, report: any) => {
      if (report.order.seq === base + 1) await answered;
      return orig(name, claimId, report);
    };
    const older = c.report(appReport({ phase: 'Progressing' }), base + 1);
    await new Promise((r) => setTimeout(r, 200));
    const newer = await c.report(appReport({ phase: 'Ready' }), base + 2);
    newerAnswered();
    expect(newer.status, 'the newer report is refused while the older one holds the claim').toBe(409);
    expect((await older).status).toBe(202);
    clusters.finishReport = orig;
    expect((await c.report(appReport({ phase: 'Ready' }), base + 3)).status, 'sent again').toBe(202);
    expect((await c.report(appReport({ phase: 'Progressing' }), base + 2)).status, 'an older report after a newer one').toBe(409);
    const stored = await f.services.storage.clusters.state(c.name, true);
    expect(stored?.status.reportSeq).toBe(base + 3);
    expect(stored?.apps.web?.phase).toBe('Ready');
    expect(stored?.status.claim, 'no claim left behind').toBeUndefined();
  });

  it('an events cursor cannot widen the since/until window', async () => {
    const now = Date.now();
    const since = new Date(now + 60_000).toISOString();
    const until = new Date(now + 120_000).toISOString();
    if (since.slice(0, 10) !== new Date(now).toISOString().slice(0, 10)) return; // needs the same UTC day
    const cursor = Buffer.from(`${since.slice(0, 10)}T00`).toString('base64url');
    const res = await f.admin('GET', `/v1/events?since=${since}&until=${until}&order=asc&cursor=${cursor}`);
    expect([200, 400]).toContain(res.status);
    for (const event of res.body.items ?? []) expect(event.at >= since && event.at <= until, `${event.at} outside the window`).toBe(true);
  });

  it('suspend again and revoke a token again write no second event', async () => {
    const c = await cluster();
    await f.admin('POST', `/v1/clusters/${c.name}/suspend`, { reason: 'incident' });
    await f.admin('POST', `/v1/clusters/${c.name}/suspend`, { reason: 'incident' });
    const suspended = (await f.admin('GET', `/v1/events?cluster=${c.name}&type=cluster.suspended`)).body.items;
    await f.admin('POST', '/v1/tokens/abcdefgh-1234/revoke', { reason: 'x' });
    await f.admin('POST', '/v1/tokens/abcdefgh-1234/revoke', { reason: 'x' });
    const revoked = (await f.admin('GET', '/v1/events?type=token.revoked')).body.items;
    expect([suspended.length, revoked.length]).toEqual([1, 1]);
  });

  it('suspending apps that do not exist cannot grow the cluster item into 500s', async () => {
    await f.admin('PUT', '/v1/clusters/big', { environment: 'dev', region: 'us' });
    for (let i = 0; i < 400; i++) {
      const res = await f.admin('POST', '/v1/clusters/big/suspend', { reason: 'r'.repeat(1000), app: `no-such-app-${i}-${'x'.repeat(40)}` });
      expect(res.status, `suspension ${i}`).not.toBe(500);
    }
  }, 60_000);
});
