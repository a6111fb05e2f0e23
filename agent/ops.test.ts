// Operations: metrics text, JSON logs, the entry point, and install manifests checked by a real apiserver.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { installObjects, renderInstallManifests } from './install.ts';
import { KubeClient, type KubeObject } from './kube/client.ts';
import { inClusterConnection } from './kube/config.ts';
import { ApplyError } from './ssa/errors.ts';
import { ResourceManager } from './ssa/manager.ts';
import { jsonLogger } from './log.ts';
import { Metrics, counter, gauge } from './metrics.ts';
import { connectTestCluster, createNamespace, deleteNamespace, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';

const execFileAsync = promisify(execFile);
// No image: the default (DEFAULT_AGENT_IMAGE), which agent/deploy names too.
const defaults = { controlPlaneUrl: 'https://flotilla.example.com' };

describe('metrics and logs', () => {
  it('renders Prometheus text with HELP, TYPE and escaped labels', () => {
    const metrics = new Metrics();
    const reconciles = counter<'app' | 'phase'>('flotilla_agent_reconcile_total', 'Reconciles.');
    const phase = gauge<'app'>('flotilla_agent_app_phase', 'Phase.');
    metrics.inc(reconciles, { app: 'web', phase: 'Ready' });
    metrics.inc(reconciles, { app: 'web', phase: 'Ready' });
    metrics.set(phase, { app: 'a"b' }, 1);
    expect(metrics.render()).toBe(
      [
        '# HELP flotilla_agent_app_phase Phase.',
        '# TYPE flotilla_agent_app_phase gauge',
        'flotilla_agent_app_phase{app="a\\"b"} 1',
        '# HELP flotilla_agent_reconcile_total Reconciles.',
        '# TYPE flotilla_agent_reconcile_total counter',
        'flotilla_agent_reconcile_total{app="web",phase="Ready"} 2',
        '',
      ].join('\n'),
    );
  });

  it('writes one JSON object per log line', () => {
    const lines: string[] = [];
    jsonLogger({ write: (line) => lines.push(line), base: { component: 'test' } }).warn('drift', { app: 'web', error: new Error('boom') });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'drift', component: 'test', app: 'web', error: 'boom' });
  });

  it('the entry point logs JSON and exits non-zero when it has neither identity nor registration token', async () => {
    const cluster = await connectTestCluster('dev');
    const namespace = uniqueName('agent-main');
    await createNamespace(cluster, namespace);
    try {
      const failure = await execFileAsync(process.execPath, ['--import', 'tsx', 'agent/main.ts'], {
        env: {
          ...process.env,
          KUBECONFIG: cluster.kubeconfigPath,
          FLOTILLA_CONTROL_PLANE_URL: 'http://127.0.0.1:9',
          FLOTILLA_NAMESPACE: namespace,
          FLOTILLA_LISTEN_PORT: '0',
        },
      }).catch((error: { code: number; stdout: string }) => error);
      expect('code' in failure && failure.code).toBe(1);
      const lines = failure.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.at(-1)).toMatchObject({ level: 'error', msg: 'agent stopped', error: expect.stringMatching(/registration token/) });
    } finally {
      await deleteNamespace(cluster, namespace);
      cluster.client.close();
    }
  });
});

describe('install manifests', () => {
  let cluster: AgentTestCluster;
  const namespace = uniqueName('agent-install');

  beforeAll(async () => {
    cluster = await connectTestCluster('dev');
    await createNamespace(cluster, namespace);
  });

  afterAll(async () => {
    await deleteNamespace(cluster, namespace);
    cluster.client.close();
  });

  it('renders namespace, service account, RBAC, the token Secret and the Deployment, accepted by a real apiserver', async () => {
    for (const leastPrivilege of [false, true]) {
      const yaml = renderInstallManifests({ ...defaults, registrationToken: 'one-time-token', namespace, leastPrivilege });
      const kinds = parseAllDocuments(yaml).map((document) => (document.toJS() as { kind: string }).kind);
      expect(kinds).toEqual(
        leastPrivilege
          ? ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Secret', 'Deployment']
          : ['Namespace', 'ServiceAccount', 'ClusterRoleBinding', 'Secret', 'Deployment'],
      );
      expect(yaml).toContain('one-time-token');
      const output = await cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: yaml });
      expect(output).toMatch(/deployment.apps\/flotilla-agent serverside-applied \(server dry run\)/);
    }
  });

  it('mounts registry credentials from a dockerconfigjson Secret as DOCKER_CONFIG', async () => {
    const objects = installObjects({ ...defaults, namespace, registrySecret: 'pull-creds' });
    const deployment = objects.find((object) => object['kind'] === 'Deployment') as any;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'registry-credentials');
    expect(container.env).toContainEqual({ name: 'DOCKER_CONFIG', value: mount.mountPath });
    expect(pod.volumes).toContainEqual({
      name: 'registry-credentials',
      secret: { secretName: 'pull-creds', items: [{ key: '.dockerconfigjson', path: 'config.json' }] },
    });
    const yaml = renderInstallManifests({ ...defaults, namespace, registrySecret: 'pull-creds' });
    const output = await cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: yaml });
    expect(output).toMatch(/deployment.apps\/flotilla-agent serverside-applied \(server dry run\)/);
  });

  it('keeps agent/deploy in sync with renderInstallManifests', async () => {
    const read = async (file: string) =>
      parseAllDocuments(await readFile(new URL(`./deploy/${file}`, import.meta.url), 'utf8')).map((document) => document.toJS() as unknown);
    const files = [
      ...(await read('namespace.yaml')),
      ...(await read('serviceaccount.yaml')),
      ...(await read('rbac.yaml')),
      ...(await read('deployment.yaml')),
    ];
    expect(files).toEqual(installObjects(defaults));
    const leastPrivilege = installObjects({ ...defaults, leastPrivilege: true }).filter((object) => String(object['kind']).startsWith('ClusterRole'));
    expect(await read('rbac-least-privilege.yaml')).toEqual(leastPrivilege);
  });
});

describe('running as the agent service account', () => {
  let cluster: AgentTestCluster;
  const namespace = uniqueName('agent-rbac');
  const tokenDir = join(tmpdir(), uniqueName('agent-sa'));

  beforeAll(async () => {
    cluster = await connectTestCluster('prod-us');
  });

  afterAll(async () => {
    await deleteNamespace(cluster, namespace);
    await cluster.kubectl(['delete', 'clusterrole,clusterrolebinding', namespace, '--ignore-not-found']);
    await rm(tokenDir, { recursive: true, force: true });
    cluster.client.close();
  });

  it('applies a typical app through the in-cluster loader with least-privilege RBAC, and is refused RBAC objects', async () => {
    // The cluster is shared with other suites: the cluster-wide objects get this test's own name.
    const rbac = installObjects({ ...defaults, namespace, leastPrivilege: true })
      .filter((object) => object['kind'] !== 'Deployment')
      .map((object) => {
        const metadata = { ...(object['metadata'] as object), name: namespace };
        if (object['kind'] === 'ClusterRole') return { ...object, metadata };
        if (object['kind'] === 'ClusterRoleBinding') return { ...object, metadata, roleRef: { ...(object['roleRef'] as object), name: namespace } };
        return object;
      });
    await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: rbac.map((object) => stringify(object)).join('---\n') });

    // What the kubelet would mount: a bound service-account token and the cluster CA.
    const tokenRequest = await cluster.client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/flotilla-agent/token`,
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } } },
    );
    const { server, caFile } = inject('testEnv').clusters.find((candidate) => candidate.name === 'prod-us')!;
    await mkdir(tokenDir, { recursive: true });
    await writeFile(join(tokenDir, 'token'), tokenRequest!.status.token);
    await copyFile(caFile!, join(tokenDir, 'ca.crt'));
    const url = new URL(server);
    const asAgent = new KubeClient(inClusterConnection(tokenDir, { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }));
    try {
      const manager = new ResourceManager(asAgent, { ownerLabels: { 'app.flotilla.dev/name': 'rbac-test', 'app.flotilla.dev/managed-by': 'flotilla' } });
      const result = await manager.applyAllStaged(
        parseAllDocuments(`
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}], selector: {app: web}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.example/web:1}]}
`).map((document) => document.toJS() as KubeObject),
        { defaultNamespace: namespace },
      );
      expect(result.entries.map((entry) => entry.action)).toEqual(['created', 'created', 'created']);
      const refused = await manager
        .applyAllStaged([{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${namespace}-escalate` }, rules: [] }])
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ApplyError);
      expect((refused as ApplyError).message).toMatch(/forbidden/i);
    } finally {
      asAgent.close();
    }
  });
});
