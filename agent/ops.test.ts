// Operations: metrics text, JSON logs, the entry point, and install manifests checked by a real apiserver.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { installObjects, renderInstallManifests } from './install.ts';
import { jsonLogger } from './log.ts';
import { Metrics } from './metrics.ts';
import { connectTestCluster, createNamespace, deleteNamespace, uniqueName, type AgentTestCluster } from './testing/cluster.ts';

const execFileAsync = promisify(execFile);
const defaults = { controlPlaneUrl: 'https://flotilla.example.com', image: 'ghcr.io/flotilla/flotilla-agent:0.1.0' };

describe('metrics and logs', () => {
  it('renders Prometheus text with HELP, TYPE and escaped labels', () => {
    const metrics = new Metrics();
    metrics.inc('flotilla_agent_reconcile_total', 'Reconciles.', { app: 'web', phase: 'Ready' });
    metrics.inc('flotilla_agent_reconcile_total', 'Reconciles.', { app: 'web', phase: 'Ready' });
    metrics.set('flotilla_agent_app_phase', 'Phase.', { app: 'a"b' }, 1);
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
