// Drift in seconds: a running agent, wired as in production (buildAgent with watches), against the
// real local control plane, a real kube-apiserver and a real registry. The loop's interval is five
// minutes and its first iteration is the only one these tests see, so every revert below can only
// come from a watch.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalControlPlane, type LocalControlPlane } from '../functions/local-server.ts';
import { sleep } from '../lib/sleep.ts';
import type { Agent } from './agent.ts';
import { KubeClient, type KubeObject } from './kube/client.ts';
import { jsonLogger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { buildAgent } from './runtime.ts';
import { changedByAgent, type ObjectWatcher } from './watch.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';
import { publishFiles } from '../test/support/registry.ts';
import { adminClient } from '../test/support/agent-fixture.ts';

let cluster: AgentTestCluster;
let controlPlane: LocalControlPlane;
let dataDir: string;
let registryHost: string;
let agent: Agent;
let metrics: Metrics;
let watcher: ObjectWatcher;
let running: Promise<void>;
let firstLoopAt = 0;
let proxy: Awaited<ReturnType<typeof startProxy>>;
const clusterName = uniqueName('watch-e2e');
const environment = uniqueName('watch-env');
const app = uniqueName('watch-app');
const reportApp = uniqueName('watch-report');
const agentNamespace = uniqueName('watch-system');
const appNamespace = uniqueName('watch-apps');
const logLines: Record<string, unknown>[] = [];

const admin = adminClient(() => controlPlane);

const deployment = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: web, image: registry.example/web:1}]}
`;

const configMap = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {value: "${value}"}\n`;

async function release(name: string, files: Record<string, string>, extra: Record<string, unknown> = {}): Promise<void> {
  await admin('PUT', `/v1/apps/${name}`, { repository: `${registryHost}/watch-e2e/${name}`, path: 'manifests', namespace: appNamespace, wait: false, ...extra });
  await admin('PUT', `/v1/apps/${name}/environments/${environment}`, { track: '^1.0.0' });
  const digest = await publishFiles(registryHost, `watch-e2e/${name}`, '1.0.0', files);
  await admin('POST', `/v1/apps/${name}/releases`, { version: '1.0.0', digest });
}

async function live(kind: 'ConfigMap' | 'Deployment', name: string): Promise<KubeObject | null> {
  return cluster.client.get({ apiVersion: kind === 'ConfigMap' ? 'v1' : 'apps/v1', kind, namespace: appNamespace, name });
}

async function liveValue(name: string): Promise<string | undefined> {
  return ((await live('ConfigMap', name))?.['data'] as Record<string, string> | undefined)?.['value'];
}

/** Polls until `check` holds; fails after `seconds`. */
async function within(seconds: number, what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds}s: ${what}`);
    await sleep(100);
  }
}

function counter(name: string, labels: string): number {
  const line = metrics.render().split('\n').find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

function driftReconciles(name: string): number {
  return counter('flotilla_agent_drift_reconciles_total', `app="${name}"`);
}

/** A kubectl-style edit: a merge patch by a field manager that is not the agent's. */
async function handEdit(kind: string, name: string, patch: unknown): Promise<void> {
  await cluster.kubectl(['patch', '-n', appNamespace, kind, name, '--type', 'merge', '-p', JSON.stringify(patch), '--field-manager', 'hand-edit']);
}

/**
 * The apiserver, through a plain-HTTP proxy on loopback that passes every request on, except a
 * watch from the resourceVersion `expire` names: that one is answered as the apiserver answers a
 * watch from a compacted resourceVersion (200, then one ERROR event with a 410 Expired Status).
 * Compaction itself runs on the apiserver's own five-minute timer, so it cannot be asked for here.
 */
async function startProxy(target: { server: string; token: string; caFile?: string }): Promise<{ client: KubeClient; expire: { resourceVersion?: string; answered: number }; close: () => void }> {
  const ca = target.caFile ? await readFile(target.caFile) : undefined;
  const expire: { resourceVersion?: string; answered: number } = { answered: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', target.server);
    if (url.searchParams.get('watch') === 'true' && expire.resourceVersion && url.searchParams.get('resourceVersion') === expire.resourceVersion) {
      expire.answered++;
      const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${expire.resourceVersion}`, reason: 'Expired', code: 410 };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
      return;
    }
    const headers = { ...req.headers, host: url.host, authorization: `Bearer ${target.token}` };
    const upstream = https.request(url, { method: req.method, headers, ca }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new KubeClient({ server: new URL(`http://127.0.0.1:${port}`), tls: {}, credentials: async () => ({ headers: {} }) });
  return {
    client,
    expire,
    close: () => {
      client.close();
      server.closeAllConnections();
      server.close();
    },
  };
}

beforeAll(async () => {
  cluster = await connectTestCluster('prod-us');
  proxy = await startProxy(inject('testEnv').clusters.find((candidate) => candidate.name === 'prod-us')!);
  registryHost = testRegistryHost();
  dataDir = await mkdtemp(join(tmpdir(), 'flotilla-watch-cp-'));
  controlPlane = await startLocalControlPlane({ dataDir });
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
  await admin('PUT', `/v1/environments/${environment}`, {});
  await admin('PUT', `/v1/clusters/${clusterName}`, { environment, region: 'us-east-1', labels: {} });
  await release(app, { 'manifests/settings.yaml': configMap('settings', 'desired'), 'manifests/web.yaml': deployment('web') });
  await release(reportApp, { 'manifests/report.yaml': configMap('report-settings', 'desired') }, { drift: 'report' });

  const { token } = await admin('POST', `/v1/clusters/${clusterName}/registration-tokens`);
  const built = buildAgent({
    kube: proxy.client,
    namespace: agentNamespace,
    controlPlaneUrl: controlPlane.url,
    registrationToken: token,
    // Only the first iteration runs during these tests: anything after it is the watches' doing.
    intervalMs: 300_000,
    resyncMs: 300_000,
    healthBudgetMs: 500,
    watch: { backoff: { baseMs: 200, maxMs: 2_000 } },
    logger: jsonLogger({ level: 'debug', write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) }),
  });
  ({ agent, metrics } = built);
  watcher = built.watcher!;
  await agent.start();
  running = agent.run();
  await within(60, 'the first loop applied both apps', async () => agent.lastLoopAt > 0);
  firstLoopAt = agent.lastLoopAt;
  expect(await liveValue('settings')).toBe('desired');
  expect(await liveValue('report-settings')).toBe('desired');
  await within(30, 'both apps are watched', () => watcher.covers(app) && watcher.covers(reportApp));
});

afterAll(async () => {
  agent?.stop();
  await running?.catch(() => {});
  proxy?.close();
  await controlPlane?.stop();
  await rm(dataDir, { recursive: true, force: true });
  await deleteNamespace(cluster, agentNamespace);
  await deleteNamespace(cluster, appNamespace);
  cluster.client.close();
});

describe('drift in seconds: watches on owned objects', () => {
  it('reverts an edit of a ConfigMap and of a Deployment\'s replicas made with another field manager, and reports it', async () => {
    const before = driftReconciles(app);
    await handEdit('configmap', 'settings', { data: { value: 'hand-edited' } });
    await within(20, 'the ConfigMap edit is reverted', async () => (await liveValue('settings')) === 'desired');

    await handEdit('deployment', 'web', { spec: { replicas: 5 } });
    await within(20, 'the replicas edit is reverted', async () => ((await live('Deployment', 'web'))?.['spec'] as { replicas?: number } | undefined)?.replicas === 2);

    expect(driftReconciles(app)).toBeGreaterThan(before);
    // The loop itself ran once: the reverts were the watches' doing.
    expect(agent.lastLoopAt).toBe(firstLoopAt);
    expect(driftReconciles(reportApp)).toBe(0);
    await within(20, 'the control plane heard of the drift', async () => JSON.stringify(await admin('GET', `/v1/clusters/${clusterName}/drift`)).includes('hand-edited'));
    expect(counter('flotilla_agent_watch_events_total', 'type="MODIFIED"')).toBeGreaterThan(0);
  });

  it('recreates an owned object deleted by hand', async () => {
    const uid = (await live('ConfigMap', 'settings'))?.metadata.uid;
    await cluster.kubectl(['delete', '-n', appNamespace, 'configmap/settings']);
    await within(20, 'the ConfigMap is recreated', async () => {
      const object = await live('ConfigMap', 'settings');
      return !!object && object.metadata.uid !== uid;
    });
    expect(await liveValue('settings')).toBe('desired');
  });

  it('lists again after a 410 (a watch resumed from an expired resourceVersion) and keeps working', async () => {
    const expired = () => counter('flotilla_agent_watch_relists_total', 'reason="expired"');
    const before = expired();
    proxy.expire.resourceVersion = '1';
    watcher.resumeAt('1');
    await within(20, 'a re-list after 410 Gone', () => expired() > before);
    expect(proxy.expire.answered).toBeGreaterThan(0);
    await within(20, 'watching again', () => watcher.covers(app));
    await handEdit('configmap', 'settings', { data: { value: 'after-relist' } });
    await within(20, 'the edit after the re-list is reverted', async () => (await liveValue('settings')) === 'desired');
  });

  it('reports drift of an app in report mode and leaves it in place', async () => {
    await handEdit('configmap', 'report-settings', { data: { value: 'left-alone' } });
    await within(20, 'the report-mode app was reconciled for its drift', () => driftReconciles(reportApp) > 0);
    await within(20, 'the control plane heard of the drift', async () => JSON.stringify(await admin('GET', `/v1/clusters/${clusterName}/drift`)).includes('left-alone'));
    // Give a wrong revert every chance to happen before checking it did not.
    await sleep(2_000);
    expect(await liveValue('report-settings')).toBe('left-alone');
    const drift = JSON.stringify(await admin('GET', `/v1/clusters/${clusterName}/drift`));
    expect(drift).toContain('"corrected":false');
  });

  it('stops watching kinds that left every inventory', async () => {
    expect(Number(metrics.render().match(/^flotilla_agent_watches (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(2);
    watcher.track(app, []);
    watcher.track(reportApp, []);
    expect(Number(metrics.render().match(/^flotilla_agent_watches (\d+)$/m)?.[1])).toBe(0);
    expect(watcher.covers(app)).toBe(false);
  });
});

describe('drift without watches: RBAC forbids them', () => {
  it('logs it once and corrects drift by the full check of every loop', async () => {
    const target = inject('testEnv').clusters.find((candidate) => candidate.name === 'prod-us')!;
    const user = uniqueName('flotilla-no-watch');
    // Everything the agent does, except watch.
    await cluster.client.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: user }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] }] },
    });
    await cluster.client.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: user },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: user },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    const ca = target.caFile ? await readFile(target.caFile) : undefined;
    const kube = new KubeClient({
      server: new URL(target.server),
      tls: { ca },
      credentials: async () => ({ headers: { Authorization: `Bearer ${target.token}`, 'Impersonate-User': user } }),
    });
    const lines: Record<string, unknown>[] = [];
    const second = buildAgent({
      kube,
      namespace: agentNamespace,
      controlPlaneUrl: controlPlane.url,
      intervalMs: 500,
      resyncMs: 300_000,
      healthBudgetMs: 500,
      watch: { backoff: { baseMs: 200, maxMs: 2_000 } },
      logger: jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }),
    });
    try {
      await second.agent.start();
      const loop = second.agent.run();
      try {
        await within(20, 'the watches were refused', () => lines.some((line) => /not allowed/.test(String(line['msg']))));
        expect(second.watcher!.covers(app)).toBe(false);
        await handEdit('configmap', 'settings', { data: { value: 'unwatched-edit' } });
        await within(20, 'the loop\'s full check reverted the edit', async () => (await liveValue('settings')) === 'desired');
        expect(second.metrics.render()).not.toMatch(/flotilla_agent_drift_reconciles_total/);
        expect(second.metrics.render()).not.toMatch(/flotilla_agent_full_checks_skipped_total/);
        expect(lines.filter((line) => /not allowed/.test(String(line['msg'])))).toHaveLength(1);
      } finally {
        second.agent.stop();
        await loop.catch(() => {});
      }
    } finally {
      kube.close();
      await cluster.client.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${user}`, { allowStatus: [404] });
      await cluster.client.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${user}`, { allowStatus: [404] });
    }
  });
});

describe('the full check of watched apps', () => {
  it('runs every resync interval, not every loop, while every kind is watched', async () => {
    const third = buildAgent({
      kube: cluster.client,
      namespace: agentNamespace,
      controlPlaneUrl: controlPlane.url,
      intervalMs: 300,
      resyncMs: 300_000,
      healthBudgetMs: 500,
      watch: true,
      logger: jsonLogger({ level: 'warn', write: () => {} }),
    });
    await third.agent.start();
    const loop = third.agent.run();

    try {
      const skipped = () => Number(third.metrics.render().match(/^flotilla_agent_full_checks_skipped_total (\d+)$/m)?.[1] ?? 0);
      await within(30, 'loops reuse the last full check', () => skipped() >= 6);
      const rendered = third.metrics.render();
      // One full check per app (the first loop), however many loops ran since.
      expect(rendered).toMatch(new RegExp(`^flotilla_agent_reconcile_total\\{app="${app}",phase="Ready"\\} 1$`, 'm'));
      await handEdit('configmap', 'settings', { data: { value: 'between-full-checks' } });
      await within(20, 'the watch reverted the edit', async () => (await liveValue('settings')) === 'desired');
      expect(third.metrics.render()).toMatch(new RegExp(`^flotilla_agent_drift_reconciles_total\\{app="${app}"\\} [1-9]`, 'm'));

    } finally {
      third.agent.stop();
      await loop.catch(() => {});
    }
  });
});

describe('telling the agent\'s own changes apart, and reading watch streams', () => {
  const object = (managedFields: unknown[]): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', managedFields } });

  it('counts a change as the agent\'s only when its newest managedFields entry is the agent\'s alone', () => {
    const agentEntry = (time: string) => ({ manager: 'flotilla-agent', operation: 'Apply', time });
    expect(changedByAgent(object([agentEntry('2026-01-01T00:00:02Z'), { manager: 'kubectl-edit', operation: 'Update', time: '2026-01-01T00:00:01Z' }]))).toBe(true);
    expect(changedByAgent(object([agentEntry('2026-01-01T00:00:01Z'), { manager: 'kubectl-edit', operation: 'Update', time: '2026-01-01T00:00:02Z' }]))).toBe(false);
    // The same second: someone else's change, to be safe (a reconcile too many writes nothing).
    expect(changedByAgent(object([agentEntry('2026-01-01T00:00:01Z'), { manager: 'kubectl-edit', operation: 'Update', time: '2026-01-01T00:00:01Z' }]))).toBe(false);
    // Status written by a controller is not a change to what the agent applied.
    expect(changedByAgent(object([agentEntry('2026-01-01T00:00:01Z'), { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', time: '2026-01-01T00:00:09Z' }]))).toBe(true);
    // A scale through the scale subresource is.
    expect(changedByAgent(object([agentEntry('2026-01-01T00:00:01Z'), { manager: 'kubectl', operation: 'Update', subresource: 'scale', time: '2026-01-01T00:00:09Z' }]))).toBe(false);
    expect(changedByAgent(object([]))).toBe(false);
  });

  it('splits a chunked stream into lines and refuses a line over the cap', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200);
      if (req.url?.startsWith('/long')) {
        res.write('{"type":"BOOKMARK"}\n');
        res.end('x'.repeat(64 * 1024));
        return;
      }
      res.write('{"a":');
      setTimeout(() => res.end('1}\n{"b":2}\n\n{"c":3}\n'), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new KubeClient({ server: new URL(`http://127.0.0.1:${port}`), tls: {}, credentials: async () => ({ headers: {} }) });
    try {
      const lines: string[] = [];
      await client.stream('/ok', { maxLineBytes: 1024, onLine: (line) => lines.push(line) });
      expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
      const long: string[] = [];
      await expect(client.stream('/long', { maxLineBytes: 1024, onLine: (line) => long.push(line) })).rejects.toThrow(/exceeds 1024 bytes/);
      expect(long).toEqual(['{"type":"BOOKMARK"}']);
    } finally {
      client.close();
      server.close();
    }
  });
});
