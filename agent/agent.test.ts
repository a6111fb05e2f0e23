// The whole agent — bootstrap, check-in, reconcile, report — against the real local control plane,
// a real kube-apiserver and a real OCI registry.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalControlPlane, type LocalControlPlane } from '../functions/local-server.ts';
import { signAgentRequest } from '../lib/agent-auth.ts';
import { sleep } from '../lib/sleep.ts';
import { RevokedError } from './agent.ts';
import { BootstrapError } from './bootstrap.ts';
import { jsonLogger } from './log.ts';
import { buildAgent } from './runtime.ts';
import { startOpsServer } from './server.ts';
import { IDENTITY_SECRET } from './state.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';
import { publishFiles } from '../test/support/registry.ts';
import { adminClient } from '../test/support/agent-fixture.ts';

let cluster: AgentTestCluster;
let controlPlane: LocalControlPlane;
let dataDir: string;
let port: number;
let registryHost: string;
const clusterName = uniqueName('agent-e2e');
const environment = uniqueName('agent-env');
const app = uniqueName('agent-app');
const agentNamespace = uniqueName('agent-e2e-system');
const appNamespace = uniqueName('agent-e2e-apps');
const logLines: Record<string, unknown>[] = [];

const admin = adminClient(() => controlPlane);

function newAgent(registrationToken?: string) {
  return buildAgent({
    kube: cluster.client,
    namespace: agentNamespace,
    controlPlaneUrl: controlPlane.url,
    registrationToken,
    intervalMs: 200,
    healthBudgetMs: 500,
    logger: jsonLogger({ level: 'debug', write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) }),
  });
}

async function publishRelease(version: string, value: string): Promise<string> {
  const digest = await publishFiles(registryHost, `agent-e2e/${app}`, version, {
    'manifests/settings.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {value: "${value}"}\n`,
  });
  await admin('POST', `/v1/apps/${app}/releases`, { version, digest });
  return digest;
}

async function liveValue(): Promise<string | null> {
  const object = await cluster.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: appNamespace, name: 'settings' });
  return object ? (object['data'] as Record<string, string>)['value'] ?? null : null;
}

beforeAll(async () => {
  cluster = await connectTestCluster('prod-eu');
  registryHost = testRegistryHost();
  dataDir = await mkdtemp(join(tmpdir(), 'flotilla-agent-cp-'));
  controlPlane = await startLocalControlPlane({ dataDir });
  port = Number(new URL(controlPlane.url).port);
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
  await admin('PUT', `/v1/environments/${environment}`, {});
  await admin('PUT', `/v1/clusters/${clusterName}`, { environment, region: 'eu-west-1', labels: {} });
  await admin('PUT', `/v1/apps/${app}`, { repository: `${registryHost}/agent-e2e/${app}`, path: 'manifests', namespace: appNamespace });
  await admin('PUT', `/v1/apps/${app}/environments/${environment}`, { track: '^1.0.0' });
});

afterAll(async () => {
  await controlPlane?.stop();
  await rm(dataDir, { recursive: true, force: true });
  await deleteNamespace(cluster, agentNamespace);
  await deleteNamespace(cluster, appNamespace);
  cluster.client.close();
});

describe('Agent with the control plane', () => {
  it('registers with a one-time token, keeps its key pair in a Secret, and a restarted agent reuses it', async () => {
    await expect(newAgent().agent.start()).rejects.toThrow(BootstrapError);
    const { token } = await admin('POST', `/v1/clusters/${clusterName}/registration-tokens`);
    const first = newAgent(token);
    await first.agent.start();
    expect(first.agent.identity).toMatchObject({ cluster: clusterName, environment });
    const secret = await cluster.client.get({ apiVersion: 'v1', kind: 'Secret', namespace: agentNamespace, name: IDENTITY_SECRET });
    expect(Object.keys(secret?.['data'] as object).sort()).toEqual(['identity', 'key']);

    // The same (spent) token again: a restarted agent must not need it.
    const restarted = newAgent(token);
    await restarted.agent.start();
    expect(restarted.agent.identity?.keyId).toBe(first.agent.identity?.keyId);
    expect((await restarted.agent.runOnce()).checkIn).toBe('changed');
    expect(logLines.filter((line) => line['msg'] === 'registered with the control plane')).toHaveLength(1);
  });

  it('applies the tracked release, reports it, and follows a new release', async () => {
    await publishRelease('1.0.0', 'one');
    const { agent } = newAgent();
    await agent.start();
    const first = await agent.runOnce();
    expect(first.reports).toMatchObject([{ name: app, version: '1.0.0', phase: 'Ready' }]);
    expect(await liveValue()).toBe('one');
    expect((await admin('GET', `/v1/clusters/${clusterName}`)).apps[app]).toMatchObject({ version: '1.0.0', phase: 'Ready' });

    expect((await agent.runOnce()).checkIn).toBe('unchanged');
    await publishRelease('1.1.0', 'one-one');
    expect((await agent.runOnce()).checkIn).toBe('changed');
    expect(await liveValue()).toBe('one-one');
    expect((await admin('GET', `/v1/clusters/${clusterName}`)).apps[app]).toMatchObject({ version: '1.1.0', phase: 'Ready' });
  });

  it('reports drift and corrects it; while the cluster is suspended it reports and leaves it', async () => {
    const { agent } = newAgent();
    await agent.start();
    await agent.runOnce();
    await cluster.kubectl(['edit', '-n', appNamespace, 'configmap/settings'], { env: { EDITOR: 'sed -i s/one-one/hand-edited/' } });
    const corrected = await agent.runOnce();
    expect(corrected.reports[0]?.drift).toEqual([
      { object: `ConfigMap/${appNamespace}/settings`, fields: [{ path: '/data/value', before: 'hand-edited', after: 'one-one' }], corrected: true },
    ]);
    expect(await liveValue()).toBe('one-one');

    await admin('POST', `/v1/clusters/${clusterName}/suspend`, { reason: 'incident 42' });
    await cluster.kubectl(['edit', '-n', appNamespace, 'configmap/settings'], { env: { EDITOR: 'sed -i s/one-one/hot-fix/' } });
    const suspended = await agent.runOnce();
    expect(suspended.reports[0]).toMatchObject({ phase: 'Suspended', drift: [{ corrected: false }] });
    expect(await liveValue()).toBe('hot-fix');
    const drift = await admin('GET', `/v1/clusters/${clusterName}/drift`);
    expect(JSON.stringify(drift)).toContain('hot-fix');

    await admin('POST', `/v1/clusters/${clusterName}/resume`, { reason: 'incident over' });
    await agent.runOnce();
    expect(await liveValue()).toBe('one-one');
  });

  it('keeps reconciling the desired state persisted in the cluster while the control plane is down, and reports when it is back', async () => {
    await controlPlane.stop();
    // A restart while the control plane is unreachable: everything comes from the cluster.
    const { agent: offlineAgent } = newAgent();
    try {
      await offlineAgent.start();
      await cluster.kubectl(['edit', '-n', appNamespace, 'configmap/settings'], { env: { EDITOR: 'sed -i s/one-one/during-outage/' } });
      const offline = await offlineAgent.runOnce();
      expect(offline.checkIn).toBe('unreachable');
      expect(offline.reports[0]?.drift[0]).toMatchObject({ corrected: true });
      expect(await liveValue()).toBe('one-one');
    } finally {
      controlPlane = await startLocalControlPlane({ dataDir, port });
    }
    // The same agent, once the control plane is back: the drift it corrected offline is reported.
    const back = await offlineAgent.runOnce();
    expect(back.checkIn).not.toBe('unreachable');
    const events = await admin('GET', `/v1/events?cluster=${clusterName}&type=drift.corrected`);
    expect(JSON.stringify(events)).toContain('during-outage');
  });

  it('rotates its key; the old key is refused afterwards', async () => {
    const { agent } = newAgent();
    await agent.start();
    const stored = await newAgent().store.loadIdentity();
    const oldCredentials = { identity: agent.identity!, key: stored!.key };
    await agent.rotateKey();
    expect(agent.identity?.keyId).not.toBe(oldCredentials.identity.keyId);
    expect((await agent.runOnce()).checkIn).not.toBe('unreachable');

    const jwt = await signAgentRequest(oldCredentials.key, clusterName, oldCredentials.identity.audience, { method: 'GET', path: '/v1/agent/desired-state' });
    const refused = await fetch(`${controlPlane.url}/v1/agent/desired-state`, { headers: { Authorization: `Bearer ${jwt}` } });
    expect(refused.status).toBe(401);

    const restarted = newAgent();
    await restarted.agent.start();
    expect(restarted.agent.identity?.keyId).toBe(agent.identity?.keyId);
  });

  it('removes the objects of an app that left the desired state', async () => {
    const { agent } = newAgent();
    await agent.start();
    await admin('PUT', `/v1/apps/${app}/environments/${environment}`, { track: null });
    const result = await agent.runOnce();
    expect(result.reports).toEqual([]);
    expect(await liveValue()).toBeNull();
  });

  it('runs on its interval until stopped', async () => {
    await admin('PUT', `/v1/apps/${app}/environments/${environment}`, { track: '^1.0.0' });
    const { agent } = newAgent();
    await agent.start();
    const running = agent.run();
    const loops: number[] = [];
    while (loops.length < 3) {
      await sleep(50);
      if (agent.lastLoopAt && agent.lastLoopAt !== loops.at(-1)) loops.push(agent.lastLoopAt);
    }
    agent.stop();
    await running;
    expect(await liveValue()).toBe('one-one');
    // 200 ms ± 10 % between iterations, plus the iteration itself.
    expect(loops[2]! - loops[1]!).toBeGreaterThanOrEqual(180);
  });

  it('stops, loudly, when the cluster is revoked', async () => {
    const { agent, metrics } = newAgent();
    await agent.start();
    const ops = await startOpsServer({ metrics, health: agent, maxLoopAgeMs: 60_000, port: 0, host: '127.0.0.1' });
    try {
      expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
      await admin('POST', `/v1/clusters/${clusterName}/revoke`, { reason: 'decommissioned' });
      await expect(agent.run()).rejects.toThrow(RevokedError);
      expect(logLines.some((line) => line['level'] === 'error' && /revoked/.test(String(line['msg'])))).toBe(true);
      const health = await fetch(`${ops.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.text()).toMatch(/revoked/);
      expect(await (await fetch(`${ops.url}/metrics`)).text()).toMatch(/^flotilla_agent_revoked 1$/m);
    } finally {
      ops.server.close();
    }
  });
});

