// Per-cluster variables end to end: values set through the control plane's API, the cluster's
// desired state from a signed check-in, a Secret in the cluster, and the reconciler applying the
// substituted objects to a real kube-apiserver (agent/reconciler.test.ts style).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';
import { DesiredState, type DesiredApp } from '../lib/api/schemas.ts';
import type { Reconciler } from './reconciler.ts';
import { testReconciler } from '../test/support/agent-apps.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';
import { startFixture, type Fixture } from '../test/support/control-plane.ts';
import { publishFiles } from '../test/support/registry.ts';

let cluster: AgentTestCluster;
let f: Fixture;
let key: AgentKeyPair;
let registryHost: string;
const agentNamespace = uniqueName('agent-vars-system');
const appNamespace = uniqueName('agent-vars-apps');
const repo = uniqueName('agent-vars');
const clusterName = 'dev-us-1';

const settings = `apiVersion: v1
kind: ConfigMap
metadata:
  name: vars-settings
  labels:
    region: \${cluster_region}
data:
  cluster: \${cluster_name}
  region: \${cluster_region}
  environment: \${cluster_environment}
  tier: \${cluster_label_tier}
  greeting: \${greeting}
  replicas: "\${replicas}"
  password: \${db_password}
  url: postgres://app:\${db_password}@db.\${cluster_region}:5432
  script: echo $\${HOME} $PATH
  fallback: \${log_level:=info}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: vars-raw
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  script: echo \${HOME} \${anything}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vars-web-\${cluster_name}
spec:
  replicas: \${replicas}
  selector: {matchLabels: {app: vars-web}}
  template:
    metadata: {labels: {app: vars-web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.0.0
          env:
            - {name: REGION, value: "\${cluster_region}"}
`;

function reconciler() {
  return testReconciler(cluster, agentNamespace, { healthBudgetMs: 1_000 });
}

/** Publishes the files, registers them as the release dev tracks, and returns the app as the cluster's check-in gives it. */
async function release(version: string, files: Record<string, string>): Promise<DesiredApp> {
  const digest = await publishFiles(registryHost, `${repo}/web`, version, files);
  expect((await f.admin('POST', '/v1/apps/web/releases', { version, digest })).status).toBe(201);
  const jwt = await signAgentRequest(key, clusterName, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state', body: '' }, Date.now());
  const res = await f.call('GET', '/v1/agent/desired-state', { token: jwt });
  expect(res.status).toBe(200);
  const app = DesiredState.parse(res.body).apps.find((candidate) => candidate.name === 'web')!;
  expect(app.version).toBe(version);
  return app;
}

async function configMapData(name: string) {
  const object = await cluster.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: appNamespace, name });
  return object ? (object['data'] as Record<string, string>) : null;
}

async function putSecret(values: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-vars-'));
  try {
    const args = ['create', 'secret', 'generic', 'web-db', '-n', agentNamespace, '--dry-run=client', '-o', 'yaml'];
    for (const [name, value] of Object.entries(values)) {
      await writeFile(join(dir, name), value);
      args.push(`--from-file=${name}=${join(dir, name)}`);
    }
    const stdout = await cluster.kubectl(args);
    await writeFile(join(dir, 'secret.yaml'), stdout);
    await cluster.kubectl(['apply', '-f', join(dir, 'secret.yaml')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  registryHost = testRegistryHost();
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
  f = await startFixture();
  await f.admin('PUT', '/v1/environments/dev', {});
  await f.admin('PUT', '/v1/apps/web', { repository: `${registryHost}/${repo}/web`, namespace: appNamespace, wait: false, valuesFrom: [{ secret: 'web-db' }, { secret: 'web-optional', optional: true }] });
  await f.admin('PUT', '/v1/apps/web/environments/dev', { track: '^1.0.0' });
  await f.admin('PUT', `/v1/clusters/${clusterName}`, { environment: 'dev', region: 'us', labels: { tier: 'web' } });
  const { token } = (await f.admin('POST', `/v1/clusters/${clusterName}/registration-tokens`)).body;
  key = await generateAgentKey();
  expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
  expect(
    (await f.admin('PUT', '/v1/apps/web/values', { environments: { dev: { greeting: 'hello from dev', replicas: '2' } }, clusters: { [clusterName]: { replicas: '3' } } })).status,
  ).toBe(200);
  // A value written with `echo … > file` ends in a newline; it is removed, as Flux does.
  await putSecret({ db_password: 's3cr3t-pw\n' });
});

afterAll(async () => {
  await deleteNamespace(cluster, agentNamespace);
  await deleteNamespace(cluster, appNamespace);
  await f?.stop();
  cluster.client.close();
});

describe('per-cluster variables', () => {
  const subject = () => shared;
  let shared: Reconciler;

  it("applies the cluster's name, region and label, the environment's value, the cluster's value over it and the Secret's value", async () => {
    shared = reconciler();
    const app = await release('1.0.0', { 'app.yaml': settings });
    // The control plane sent this cluster's variables, and the Secret by name only.
    expect(app.variables).toMatchObject({ cluster_name: clusterName, cluster_region: 'us', cluster_label_tier: 'web', greeting: 'hello from dev', replicas: '3' });
    expect(JSON.stringify(app)).not.toContain('s3cr3t');
    const report = await subject().reconcileApp(app, false);
    expect(report).toMatchObject({ phase: 'Ready', counts: { created: 3 } });
    expect(await configMapData('vars-settings')).toEqual({
      cluster: clusterName,
      region: 'us',
      environment: 'dev',
      tier: 'web',
      greeting: 'hello from dev',
      replicas: '3',
      password: 's3cr3t-pw',
      url: 'postgres://app:s3cr3t-pw@db.us:5432',
      script: 'echo ${HOME} $PATH',
      fallback: 'info',
    });
    const labelled = await cluster.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: appNamespace, name: 'vars-settings' });
    expect(labelled?.metadata.labels).toMatchObject({ region: 'us' });
    // The object that opted out is applied as written.
    expect(await configMapData('vars-raw')).toEqual({ script: 'echo ${HOME} ${anything}' });
    // A plain `replicas: ${replicas}` is a number for the apiserver; a quoted reference stays a string.
    const deployment = await cluster.client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: appNamespace, name: `vars-web-${clusterName}` });
    expect((deployment?.['spec'] as any).replicas).toBe(3);
    expect((deployment?.['spec'] as any).template.spec.containers[0].env).toEqual([{ name: 'REGION', value: 'us' }]);
  });

  it("masks the Secret's values in drift reports", async () => {
    const current = await currentApp();
    await cluster.kubectl(['patch', '-n', appNamespace, 'configmap/vars-settings', '--type=merge', '-p', '{"data":{"url":"postgres://app:s3cr3t-pw@elsewhere:5432"}}']);
    const report = await subject().reconcileApp(current, false);
    expect(report.drift).toEqual([
      { object: `ConfigMap/${appNamespace}/vars-settings`, fields: [{ path: '/data/url', before: 'postgres://app:***@elsewhere:5432', after: 'postgres://app:***@db.us:5432' }], corrected: true },
    ]);
    expect(JSON.stringify(report)).not.toContain('s3cr3t');
    expect((await configMapData('vars-settings'))?.['url']).toBe('postgres://app:s3cr3t-pw@db.us:5432');
  });

  it('applies new values: a rotated Secret, and values changed through the API', async () => {
    await putSecret({ db_password: 'rotated-pw' });
    await f.admin('PUT', '/v1/apps/web/values', { environments: { dev: { greeting: 'hi again', replicas: '2' } }, clusters: {} });
    const app = await currentApp();
    const report = await subject().reconcileApp(app, false);
    expect(report).toMatchObject({ phase: 'Ready', drift: [] });
    expect(await configMapData('vars-settings')).toMatchObject({ greeting: 'hi again', replicas: '2', password: 'rotated-pw' });
  });

  it('fails the app naming the variable and the object when a variable has no value, and applies nothing', async () => {
    const app = await release('1.1.0', {
      'app.yaml': settings.replace('greeting: ${greeting}', 'greeting: changed ${greeting}'),
      'new.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars-new\ndata:\n  host: ${database_host}\n  other: ${also_missing}\n',
    });
    const report = await subject().reconcileApp(app, false);
    expect(report).toMatchObject({ phase: 'Failed', reason: 'SubstitutionFailed' });
    expect(report.message).toBe(`ConfigMap/vars-new: variables \${database_host}, \${also_missing} have no value and no default`);
    expect(await configMapData('vars-new')).toBeNull();
    expect((await configMapData('vars-settings'))?.['greeting']).toBe('hi again');
  });

  it('fails the app naming the Secret when a valuesFrom Secret is missing (unless optional)', async () => {
    await cluster.kubectl(['delete', 'secret', 'web-db', '-n', agentNamespace]);
    const report = await subject().reconcileApp(await currentApp(), false);
    expect(report).toMatchObject({ phase: 'Failed', reason: 'SubstitutionFailed', message: `Secret ${agentNamespace}/web-db (valuesFrom) not found` });
  });
});

async function currentApp(): Promise<DesiredApp> {
  const jwt = await signAgentRequest(key, clusterName, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state', body: '' }, Date.now());
  const res = await f.call('GET', '/v1/agent/desired-state', { token: jwt });
  return DesiredState.parse(res.body).apps.find((candidate) => candidate.name === 'web')!;
}
