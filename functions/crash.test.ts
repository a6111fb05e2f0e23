// Crash points: the control plane is killed before each write of each operation, restarted on the
// same storage, and the client's retry is sent. Whatever the point, the state afterwards is one a
// retry repaired: the desired state is what the records resolve to, every state change has exactly
// one audit event, nothing resolves a blocked release, and a revoked cluster stays revoked.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';
import type { Event } from '../lib/api/schemas.ts';
import { digestOf, startFixture, type CrashPlan, type Fixture } from '../test/support/control-plane.ts';
import { buildDesiredEntry } from './domain/resolve.ts';

const plan: CrashPlan = { writes: 0, crashed: false };
let f: Fixture;
let run = 0;
const covered: Record<string, number> = {};

beforeAll(async () => {
  // The killed instance logs each crash as an internal error; those lines are expected here.
  const log = console.error.bind(console);
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    if (!String(args[0]).includes('CrashError')) log(...args);
  });
  f = await startFixture({ crash: plan });
  await f.admin('PUT', '/v1/environments/dev', {});
  await f.admin('PUT', '/v1/environments/prod', { upstream: 'dev' });
});
afterAll(async () => {
  const total = Object.values(covered).reduce((sum, n) => sum + n, 0);
  console.log(`crash-point test: ${total} write boundaries across ${Object.keys(covered).length} operations (${Object.entries(covered).map(([op, n]) => `${op} ${n}`).join(', ')})`);
  await f.stop();
});

/** Every event of an app or cluster (following cursors). */
async function eventsOf(filter: string): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: string | null = null;
  do {
    const res = await f.admin('GET', `/v1/events?${filter}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    events.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return events;
}

/** The invariants, read from the storage of the running (restarted) instance. */
async function checkInvariants(app: string, cluster?: string) {
  const { storage } = f.services;
  const releases = await storage.apps.listReleases(app, true);
  const blocked = new Set(releases.filter((release) => release.blocked).map((release) => release.version));
  const appEvents = await eventsOf(`app=${app}`);
  const ids = appEvents.map((event) => event.id);
  expect(new Set(ids).size, 'no event twice').toBe(ids.length);
  for (const release of releases) {
    for (const eventId of [release.eventId, release.blocked?.eventId, release.unblocked?.eventId]) {
      if (eventId) expect(ids, `event of ${release.version}`).toContain(eventId);
    }
  }
  for (const environment of ['dev', 'prod']) {
    const [spec, policy, records, stored] = await Promise.all([
      storage.apps.get(app, true),
      storage.environments.getPolicy(app, environment, true),
      storage.promotions.all(app, environment),
      storage.desired.get(environment, app, true),
    ]);
    expect(stored, `desired state of ${app} in ${environment} is what the records resolve to`).toEqual(buildDesiredEntry(spec, policy, releases, records));
    for (const version of [stored?.version, ...Object.values(stored?.regions ?? {})]) {
      if (version) expect(blocked.has(version.version), `${app}@${version.version} resolved in ${environment} is not blocked`).toBe(false);
    }
    for (const record of records) expect(ids, `event of record ${record.seq}`).toContain(record.eventId);
  }
  if (cluster) {
    const record = await storage.clusters.get(cluster, true);
    expect((await storage.clusters.status(cluster, true)).pendingEvents ?? null, 'the report outbox is empty').toBeNull();
    const clusterEvents = await eventsOf(`cluster=${cluster}`);
    const clusterIds = clusterEvents.map((event) => event.id);
    expect(new Set(clusterIds).size, 'no cluster event twice').toBe(clusterIds.length);
    if (record?.revocation) {
      expect(record.revoked).toBe(true);
      expect(clusterIds).toContain(record.revocation.eventId);
    }
    if (record?.keyId) expect(clusterEvents.filter((event) => event.type === 'cluster.registered')).toHaveLength(1);
  }
}

interface Scenario {
  /** Builds what the operation needs, under fresh names; returns the request to crash and retry. */
  setup(names: { app: string; cluster: string }): Promise<() => Promise<{ status: number; body: any }>>;
  /** What the retry must answer, given what the first attempt got (if anything). */
  retryStatus: number[];
  check?(names: { app: string; cluster: string }): Promise<void>;
}

async function newApp(app: string) {
  await f.admin('PUT', `/v1/apps/${app}`, { repository: `127.0.0.1:5000/team/${app}` });
  await f.admin('PUT', `/v1/apps/${app}/environments/dev`, { track: '^1.0.0' });
  await f.admin('PUT', `/v1/apps/${app}/environments/prod`, { track: null });
}

async function registeredCluster(cluster: string): Promise<AgentKeyPair> {
  await f.admin('PUT', `/v1/clusters/${cluster}`, { environment: 'dev', region: 'us' });
  const { token } = (await f.admin('POST', `/v1/clusters/${cluster}/registration-tokens`)).body;
  const key = await generateAgentKey();
  expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
  return key;
}

const promote = (app: string, version: string, key?: string) =>
  f.call('POST', `/v1/apps/${app}/promotions`, {
    token: f.adminToken,
    body: { environment: 'prod', version, reason: 'soaked' },
    headers: key ? { 'idempotency-key': key } : {},
  });

const scenarios: Record<string, Scenario> = {
  release: {
    async setup({ app }) {
      await newApp(app);
      return () => f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
    },
    retryStatus: [200, 201],
  },
  block: {
    async setup({ app }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.1', digest: digestOf(2) });
      expect((await promote(app, '1.0.1')).status).toBe(201);
      return () => f.admin('POST', `/v1/apps/${app}/releases/1.0.1/block`, { reason: 'bad' });
    },
    retryStatus: [200],
  },
  promote: {
    async setup({ app }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      return () => promote(app, '1.0.0');
    },
    // without an Idempotency-Key a recorded promotion's retry is "already pinned" (after repairing)
    retryStatus: [201, 409],
  },
  'promote (Idempotency-Key)': {
    async setup({ app }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      return () => promote(app, '1.0.0', `key-${app}`);
    },
    retryStatus: [201],
  },
  'rollback (Idempotency-Key)': {
    async setup({ app }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.1', digest: digestOf(2) });
      await promote(app, '1.0.0');
      await promote(app, '1.0.1');
      return () =>
        f.call('POST', `/v1/apps/${app}/rollbacks`, { token: f.adminToken, body: { environment: 'prod', reason: 'regression' }, headers: { 'idempotency-key': `key-${app}` } });
    },
    retryStatus: [201],
    async check({ app }) {
      const history = (await f.admin('GET', `/v1/apps/${app}/promotions?environment=prod`)).body.items;
      expect(history.filter((record: { kind: string }) => record.kind === 'rollback'), 'one rollback however often it is retried').toHaveLength(1);
      expect((await f.admin('GET', `/v1/apps/${app}/environments/prod`)).body.resolved.version).toBe('1.0.0');
    },
  },
  registration: {
    async setup({ app, cluster }) {
      await newApp(app);
      await f.admin('PUT', `/v1/clusters/${cluster}`, { environment: 'dev', region: 'us' });
      const { token } = (await f.admin('POST', `/v1/clusters/${cluster}/registration-tokens`)).body;
      const key = await generateAgentKey();
      return () => f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } });
    },
    retryStatus: [200],
  },
  revocation: {
    async setup({ app, cluster }) {
      await newApp(app);
      await registeredCluster(cluster);
      return () => f.admin('POST', `/v1/clusters/${cluster}/revoke`, { reason: 'decommissioned' });
    },
    retryStatus: [200],
    async check({ cluster }) {
      expect((await f.admin('GET', `/v1/clusters/${cluster}`)).body.revoked).toBe(true);
    },
  },
  recall: {
    async setup({ app }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.1', digest: digestOf(2) });
      for (const version of ['1.0.0', '1.0.1']) expect((await promote(app, version)).status).toBe(201);
      for (const version of ['1.0.0', '1.0.1']) {
        expect((await f.admin('POST', `/v1/apps/${app}/promotions`, { environment: 'prod', region: 'us', version, reason: 'r' })).status).toBe(201);
      }
      return () => f.admin('POST', `/v1/apps/${app}/releases/1.0.1/block`, { reason: 'CVE', recall: true });
    },
    retryStatus: [200],
    async check({ app }) {
      expect((await eventsOf(`app=${app}&type=release.recalled`)).length, 'one recall event').toBe(1);
      const prod = (await f.admin('GET', `/v1/apps/${app}/environments/prod`)).body.resolved;
      expect(prod).toEqual({ version: '1.0.0', regions: { us: '1.0.0' } });
    },
  },
  approval: {
    async setup({ app }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      const sre = await f.mint([{ role: 'promoter' }], 'sre-crash');
      return () => f.call('POST', `/v1/apps/${app}/releases/1.0.0/approvals`, { token: sre, body: { environment: 'prod', reason: 'ok' } });
    },
    retryStatus: [201],
    async check({ app }) {
      expect((await eventsOf(`app=${app}&type=release.approved`)).length, 'one approval event').toBe(1);
    },
  },
  'rollout start (Idempotency-Key)': {
    async setup({ app }) {
      await newApp(app);
      await f.admin('PUT', `/v1/environments/w-${app}`, { waves: [{ name: 'first', regions: ['us'] }, { name: 'second', regions: ['eu'] }] });
      await f.admin('PUT', `/v1/apps/${app}/environments/w-${app}`, { track: null });
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      return () =>
        f.call('POST', `/v1/apps/${app}/promotions`, { token: f.adminToken, body: { environment: `w-${app}`, version: '1.0.0', reason: 'r' }, headers: { 'idempotency-key': `key-${app}` } });
    },
    retryStatus: [202, 409],
    async check({ app }) {
      const rollouts = (await f.admin('GET', `/v1/apps/${app}/rollouts`)).body.items;
      expect(rollouts.filter((rollout: { status: string }) => rollout.status !== 'superseded').length, 'one rollout').toBeLessThanOrEqual(1);
      const [latest] = rollouts;
      if (latest) {
        const again = (await f.admin('GET', `/v1/apps/${app}/rollouts/${latest.id}`)).body;
        expect(again.status, 'a rollout whose waves have no clusters completes').toBe('completed');
        expect((await f.admin('GET', `/v1/apps/${app}/environments/w-${app}`)).body.resolved.version).toBe('1.0.0');
        const ids = (await eventsOf(`app=${app}`)).map((event) => event.id);
        for (const record of await f.services.storage.promotions.all(app, `w-${app}`)) expect(ids, `event of ${record.region ?? '*'}`).toContain(record.eventId);
      }
    },
  },
  report: {
    async setup({ app, cluster }) {
      await newApp(app);
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(1) });
      const key = await registeredCluster(cluster);
      const drift = [{ object: 'ConfigMap/web/settings', corrected: true, fields: [{ path: '/data/a', before: '1', after: '2' }] }];
      const body = JSON.stringify({ apps: [{ name: app, version: '1.0.0', digest: digestOf(1), phase: 'Failed', reason: 'ApplyFailed', drift, conditions: [], counts: {} }] });
      const seq = Date.now();
      return async () => {
        const jwt = await signAgentRequest(key, cluster, 'flotilla', { method: 'POST', path: '/v1/agent/reports', body, seq });
        return f.call('POST', '/v1/agent/reports', { token: jwt, body });
      };
    },
    retryStatus: [202],
    async check({ app, cluster }) {
      const types = (await eventsOf(`cluster=${cluster}&app=${app}`)).map((event) => event.type).sort();
      expect(types).toEqual(['drift.corrected', 'reconcile.failed']);
    },
  },
};

describe('a crash at any write boundary leaves a state the retry repairs', () => {
  it.each(Object.keys(scenarios))('%s', async (name) => {
    const scenario = scenarios[name]!;
    for (let crashAt = 1; crashAt < 50; crashAt++) {
      const names = { app: `crash-${++run}`, cluster: `crash-${run}` };
      const request = await scenario.setup(names);
      Object.assign(plan, { writes: 0, crashed: false, crashAt });
      const first = await request();
      if (!plan.crashed) {
        // No crash: the operation made fewer writes than crashAt; every boundary before was covered.
        plan.crashAt = undefined;
        expect(scenario.retryStatus).toContain(first.status);
        covered[name] = crashAt - 1;
        expect(crashAt - 1, 'the operation writes at least once').toBeGreaterThan(0);
        return;
      }
      expect(first.status).toBe(500);
      await f.restart();
      plan.crashAt = undefined;
      plan.crashed = false;
      const retry = await request();
      expect(scenario.retryStatus, `${name}, killed before write ${crashAt}: ${JSON.stringify(retry.body)}`).toContain(retry.status);
      await checkInvariants(names.app, names.cluster);
      await scenario.check?.(names);
    }
    throw new Error(`${name} did not finish within 50 writes`);
  });
});
