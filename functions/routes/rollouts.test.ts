// Progressive delivery through the API, on both storage backends: gates with evidence and
// break-glass, approvals (four eyes), the org-wide freeze and windows, waves that advance on agent
// reports and soak, a failing wave rolling itself back, pause/resume/abort, and a fleet-wide recall.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, startFixture, reportEveryApp, type Fixture } from '../../test/support/control-plane.ts';
import { tickRollouts } from '../domain/rollouts.ts';

describe.each(BACKENDS)('rollouts on %s storage', (backend) => {
  let f: Fixture;
  let clock = new Date('2026-12-01T10:00:00.000Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const agents = new Map<string, AgentKeyPair>();
  let seq = 1;
  let admin: string;
  let sre: string;
  let sre2: string;

  const as = (token: string, method: string, path: string, body?: unknown) => f.call(method, path, { token, body });
  const adminCall = (method: string, path: string, body?: unknown) => as(admin, method, path, body);

  async function cluster(name: string, environment: string, region: string, labels: Record<string, string> = {}) {
    await adminCall('PUT', `/v1/clusters/${name}`, { environment, region, labels });
    const { token } = (await adminCall('POST', `/v1/clusters/${name}/registration-tokens`)).body;
    const key = await generateAgentKey();
    const registered = await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } });
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    agents.set(name, key);
  }

  /** What the cluster's agent would do: read its desired state and report every app in a phase. */
  async function agentReports(name: string, phase: 'Ready' | 'Failed' | 'Progressing' = 'Ready') {
    const { status, versions } = await reportEveryApp(f, name, agents.get(name)!, phase, seq++, clock.getTime());
    expect(status).toBe(202);
    // The rollout clock (EventBridge on AWS, a timer under npm start): a soak ends with no new report.
    await tickRollouts(f.services);
    return versions;
  }


  const release = (app: string, version: string, n: number) => as(admin, 'POST', `/v1/apps/${app}/releases`, { version, digest: digestOf(n) });

  beforeAll(async () => {
    f = await startFixture({ ...backendOptions(backend), now: () => clock });
    admin = await f.mint([{ role: 'admin' }], 'admin', 30 * 86_400);
    sre = await f.mint([{ role: 'promoter' }], 'sre-1', 30 * 86_400);
    sre2 = await f.mint([{ role: 'promoter' }], 'sre-2', 30 * 86_400);
    await adminCall('PUT', '/v1/environments/dev', {});
    await adminCall('PUT', '/v1/environments/prod', { upstream: 'dev' });
    await cluster('dev-1', 'dev', 'us');
    await cluster('prod-us-1', 'prod', 'us');
    await cluster('prod-eu-1', 'prod', 'eu');
    const waves = [
      { name: 'us', regions: ['us'], soakSeconds: 300, deadlineSeconds: 900 },
      { name: 'eu', regions: ['eu'], soakSeconds: 300, deadlineSeconds: 900 },
    ];
    expect((await adminCall('PUT', '/v1/environments/prod', { upstream: 'dev', waves, autoRollback: true, gates: { upstreamReadyShare: 1, soakSeconds: 600, approvals: 1 } })).status).toBe(200);
  });
  afterAll(() => f.stop());

  it('refuses invalid wave plans and windows, naming the field', async () => {
    const bad = await adminCall('PUT', '/v1/environments/prod', { upstream: 'dev', waves: [{ name: 'a', regions: ['us'] }, { name: 'b', regions: ['us', 'mars'] }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/body\.waves\.1/);
    const never = await adminCall('PUT', '/v1/environments/qa', { windows: { allow: [{ start: '09:00', end: '17:00' }], deny: [{ start: '08:00', end: '18:00' }] } });
    expect(never.status).toBe(400);
    expect(never.body.error.message).toMatch(/^body\.windows/);
    const zone = await adminCall('PUT', '/v1/environments/qa', { windows: { timeZone: 'Mars/Olympus', allow: [{ start: '09:00', end: '17:00' }] } });
    expect(zone.status).toBe(400);
  });

  it('gates a promotion on the upstream soak and approvals, with evidence; the publisher cannot approve', async () => {
    await adminCall('PUT', '/v1/apps/web', { repository: '127.0.0.1:5000/team/web' });
    await adminCall('PUT', '/v1/apps/web/environments/dev', { track: '^1.0.0' });
    await adminCall('PUT', '/v1/apps/web/environments/prod', { track: null });
    await release('web', '1.0.0', 1);
    expect(await agentReports('dev-1')).toEqual({ web: '1.0.0' });
    const early = await as(sre, 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'ship' });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/upstream-ready/);
    expect(early.body.error.message).toMatch(/approvals/);
    // the publisher (admin published it) may not approve; another promoter may
    expect((await adminCall('POST', '/v1/apps/web/releases/1.0.0/approvals', { environment: 'prod', reason: 'mine' })).status).toBe(403);
    expect((await as(sre2, 'POST', '/v1/apps/web/releases/1.0.0/approvals', { environment: 'prod', reason: 'looked at it' })).status).toBe(201);
    tick(601);
    await agentReports('dev-1');
    const started = await as(sre, 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'soaked in dev' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body.gates.map((gate: { name: string; passed: boolean }) => [gate.name, gate.passed])).toEqual([
      ['release-not-blocked', true],
      ['upstream-ready', true],
      ['window-open', true],
      ['approvals', true],
    ]);
    expect(started.body.gates[1].evidence.counted[0].name).toBe('dev-1');
    expect(started.body.waves.map((wave: { status: string }) => wave.status)).toEqual(['moving', 'pending']);
  });

  it('moves the next wave only after the previous one has soaked, and completes', async () => {
    expect(await agentReports('prod-us-1')).toEqual({ web: '1.0.0' });
    expect(await agentReports('prod-eu-1')).toEqual({});
    tick(301);
    await agentReports('prod-us-1');
    expect(await agentReports('prod-eu-1')).toEqual({ web: '1.0.0' });
    tick(301);
    await agentReports('prod-eu-1');
    const [rollout] = (await adminCall('GET', '/v1/apps/web/rollouts?environment=prod')).body.items;
    expect(rollout.status).toBe('completed');
    expect((await adminCall('GET', '/v1/apps/web/environments/prod')).body.resolved.version).toBe('1.0.0');
    const types = (await adminCall('GET', '/v1/events?app=web&type=rollout.completed')).body.items;
    expect(types).toHaveLength(1);
    const cells = (await adminCall('GET', '/v1/fleet')).body.cells.filter((cell: { app: string; environment: string }) => cell.app === 'web' && cell.environment === 'prod');
    expect(cells[0].rollout).toMatchObject({ id: rollout.id, status: 'completed', waves: [{ name: 'us', status: 'done' }, { name: 'eu', status: 'done' }] });
  });

  it('halts a failing wave and rolls the moved waves back automatically', async () => {
    await release('web', '1.1.0', 2);
    await agentReports('dev-1');
    tick(601);
    await agentReports('dev-1');
    await as(sre2, 'POST', '/v1/apps/web/releases/1.1.0/approvals', { environment: 'prod', reason: 'ok' });
    const started = await as(sre, 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.1.0', reason: 'next' });
    expect(started.status).toBe(202);
    expect(await agentReports('prod-us-1')).toEqual({ web: '1.1.0' });
    tick(301);
    await agentReports('prod-us-1');
    expect(await agentReports('prod-eu-1', 'Failed')).toEqual({ web: '1.1.0' });
    await agentReports('prod-eu-1', 'Failed');
    const rollout = (await adminCall('GET', `/v1/apps/web/rollouts/${started.body.id}`)).body;
    expect(rollout.status).toBe('rolled-back');
    expect(rollout.waves[1]).toMatchObject({ status: 'failed' });
    expect(await agentReports('prod-us-1')).toEqual({ web: '1.0.0' });
    expect(await agentReports('prod-eu-1')).toEqual({ web: '1.0.0' });
    const rollbacks = (await adminCall('GET', '/v1/apps/web/promotions?environment=prod')).body.items.filter((record: { kind: string }) => record.kind === 'rollback');
    expect(rollbacks.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses promotions while frozen, lets break-glass through and records it', async () => {
    await release('web', '1.2.0', 3);
    await agentReports('dev-1');
    tick(601);
    await agentReports('dev-1');
    await as(sre2, 'POST', '/v1/apps/web/releases/1.2.0/approvals', { environment: 'prod', reason: 'ok' });
    expect((await as(sre, 'PUT', '/v1/freeze', { reason: 'holiday' })).body.frozen).toBe(true);
    const refused = await as(sre, 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.2.0', reason: 'ship' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/window-open: frozen by sre-1: holiday/);
    const forced = await as(sre, 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.2.0', reason: 'hotfix', override: 'customer outage' });
    expect(forced.status).toBe(202);
    expect(forced.body.gates.find((gate: { name: string }) => gate.name === 'window-open')).toMatchObject({ passed: false, overridden: 'customer outage' });
    // a rollout started by break-glass is not held by the freeze either
    expect(await agentReports('prod-us-1')).toEqual({ web: '1.2.0' });
    tick(301);
    await agentReports('prod-us-1');
    expect(await agentReports('prod-eu-1')).toEqual({ web: '1.2.0' });
    tick(301);
    await agentReports('prod-eu-1');
    expect((await adminCall('GET', `/v1/apps/web/rollouts/${forced.body.id}`)).body.status).toBe('completed');
    expect((await as(sre, 'POST', '/v1/freeze/lift', { reason: 'back' })).body.frozen).toBe(false);
    expect((await as(sre, 'POST', '/v1/freeze/lift', { reason: 'again' })).status).toBe(409);
    const records = (await adminCall('GET', '/v1/apps/web/promotions?environment=prod')).body.items;
    expect(records.at(-1).kind).toBe('break-glass');
  });

  it('pauses, resumes and aborts a rollout; abort returns the moved waves', async () => {
    await release('web', '1.3.0', 4);
    await agentReports('dev-1');
    tick(601);
    await agentReports('dev-1');
    await as(sre2, 'POST', '/v1/apps/web/releases/1.3.0/approvals', { environment: 'prod', reason: 'ok' });
    const started = (await as(sre, 'POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.3.0', reason: 'r' })).body;
    expect((await as(sre, 'POST', `/v1/apps/web/rollouts/${started.id}/pause`, { reason: 'look' })).body.status).toBe('paused');
    expect((await as(sre, 'POST', `/v1/apps/web/rollouts/${started.id}/pause`, { reason: 'again' })).status).toBe(409);
    expect((await as(sre, 'POST', `/v1/apps/web/rollouts/${started.id}/resume`, { reason: 'fine' })).body.status).toBe('running');
    expect((await as(sre, 'POST', `/v1/apps/web/rollouts/${started.id}/abort`, { reason: 'no' })).body.status).toBe('aborted');
    expect(await agentReports('prod-us-1')).toEqual({ web: '1.2.0' });
  });

  it('recalls a release from every environment and region, with one event', async () => {
    await adminCall('PUT', '/v1/apps/api', { repository: '127.0.0.1:5000/team/api' });
    await adminCall('PUT', '/v1/apps/api/environments/dev', { track: null });
    await release('api', '2.0.0', 10);
    await release('api', '2.1.0', 11);
    for (const version of ['2.0.0', '2.1.0']) expect((await as(sre, 'POST', '/v1/apps/api/promotions', { environment: 'dev', version, reason: 'r' })).status).toBe(201);
    for (const version of ['2.0.0', '2.1.0']) {
      expect((await as(sre, 'POST', '/v1/apps/api/promotions', { environment: 'prod', region: 'us', version, reason: 'r', override: 'test' })).status).toBe(201);
    }
    const recalled = await as(sre, 'POST', '/v1/apps/api/releases/2.1.0/block', { reason: 'CVE', recall: true });
    expect(recalled.status).toBe(200);
    expect(recalled.body.recalled).toMatchObject({ reason: 'CVE', by: 'sre-1' });
    const events = (await adminCall('GET', '/v1/events?app=api&type=release.recalled')).body.items;
    expect(events).toHaveLength(1);
    expect(events[0].data.moved).toHaveLength(2);
    expect(await agentReports('dev-1')).toMatchObject({ api: '2.0.0' });
    expect(await agentReports('prod-us-1')).toMatchObject({ api: '2.0.0' });
    const records = (await adminCall('GET', '/v1/apps/api/promotions')).body.items.filter((record: { reason: string }) => record.reason.startsWith('recall'));
    expect(records).toHaveLength(2);
    // again changes nothing
    await as(sre, 'POST', '/v1/apps/api/releases/2.1.0/block', { reason: 'CVE', recall: true });
    expect((await adminCall('GET', '/v1/events?app=api&type=release.recalled')).body.items).toHaveLength(1);
  });

  it('makes a rolled-out app part of the environment, so recalls find it without a policy set first', async () => {
    await adminCall('PUT', '/v1/apps/solo', { repository: '127.0.0.1:5000/team/solo' });
    await release('solo', '1.0.0', 20);
    await release('solo', '1.0.1', 21);
    for (const version of ['1.0.0', '1.0.1']) {
      expect((await as(sre, 'POST', '/v1/apps/solo/promotions', { environment: 'prod', version, reason: 'r', override: 'no dev yet' })).status).toBe(202);
      await agentReports('prod-us-1');
      tick(301);
      await agentReports('prod-us-1');
      await agentReports('prod-eu-1');
      tick(301);
      await agentReports('prod-eu-1');
    }
    expect((await adminCall('GET', '/v1/apps/solo/rollouts')).body.items.length).toBe(2);
    await as(sre, 'POST', '/v1/apps/solo/releases/1.0.1/block', { reason: 'bad', recall: true });
    expect((await adminCall('GET', '/v1/apps/solo/environments/prod')).body.resolved).toEqual({ version: '1.0.0', regions: { us: '1.0.0', eu: '1.0.0' } });
  });

  it('moves selector waves through group pins, which only matching clusters resolve', async () => {
    await adminCall('PUT', '/v1/environments/edge', {});
    await cluster('edge-canary', 'edge', 'us', { ring: 'canary' });
    await cluster('edge-main', 'edge', 'us', { ring: 'main' });
    const waves = [
      { name: 'canary', selector: { ring: 'canary' }, soakSeconds: 60 },
      { name: 'rest', selector: {}, soakSeconds: 0 },
    ];
    expect((await adminCall('PUT', '/v1/environments/edge', { waves })).status).toBe(200);
    await adminCall('PUT', '/v1/apps/cdn', { repository: '127.0.0.1:5000/team/cdn' });
    await release('cdn', '1.0.0', 30);
    expect((await as(sre, 'POST', '/v1/apps/cdn/promotions', { environment: 'edge', version: '1.0.0', reason: 'r' })).status).toBe(202);
    expect(await agentReports('edge-canary')).toEqual({ cdn: '1.0.0' });
    expect(await agentReports('edge-main')).toEqual({});
    tick(61);
    await agentReports('edge-canary');
    expect(await agentReports('edge-main')).toEqual({ cdn: '1.0.0' });
    const records = (await adminCall('GET', '/v1/apps/cdn/promotions?environment=edge')).body.items;
    expect(records.map((record: { group?: string }) => record.group ?? null)).toEqual(expect.arrayContaining(['canary', 'rest']));
  });
});
