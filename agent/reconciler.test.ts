// The per-app pipeline (fetch → build → apply → prune → health → report) against a real
// kube-apiserver and a real OCI registry.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AppReport, DesiredApp } from '../lib/api/schemas.ts';
import { sleep } from '../lib/sleep.ts';
import { ArtifactCache } from './artifact.ts';
import { InventoryStore } from './inventory.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';
import { RegistryProxy, hostileLayer, publishFiles, publishLayer } from '../test/support/registry.ts';
import { fluxHelperPath } from '../test/interop/helpers.ts';
import { configMapYaml, testDesiredApp, testReconciler } from '../test/support/agent-apps.ts';

const execFileAsync = promisify(execFile);

let cluster: AgentTestCluster;
let proxy: RegistryProxy;
let registryHost: string;
const agentNamespace = uniqueName('agent-rec-system');
const appNamespace = uniqueName('agent-rec-apps');
const repo = uniqueName('agent-rec');

function reconciler(options: { fetchBackoff?: { baseMs: number; maxMs: number }; cache?: ArtifactCache } = {}) {
  return testReconciler(cluster, agentNamespace, { healthBudgetMs: 1_000, ...options });
}

const configMap = configMapYaml;

/** Publishes `files` behind the proxy and returns the desired app pinned to it. */
async function release(app: string, version: string, files: Record<string, string>, extra: Partial<DesiredApp> = {}): Promise<DesiredApp> {
  const digest = await publishFiles(registryHost, `${repo}/${app}`, version, files);
  return desiredApp(app, version, digest, extra);
}

function desiredApp(app: string, version: string, digest: string, extra: Partial<DesiredApp> = {}): DesiredApp {
  return testDesiredApp(`${proxy.host}/${repo}/${app}`, appNamespace, app, version, digest, extra);
}

async function liveData(name: string, namespace = appNamespace) {
  const object = await cluster.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });
  return object ? (object['data'] as Record<string, string>)['value'] : null;
}

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  registryHost = testRegistryHost();
  proxy = await RegistryProxy.start(`http://${registryHost}`);
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
});

afterAll(async () => {
  await deleteNamespace(cluster, agentNamespace);
  await deleteNamespace(cluster, appNamespace);
  await proxy.stop();
  cluster.client.close();
});

describe('Reconciler', () => {
  it("pulls the pinned artifact by digest, honours the app's path and default namespace, and caches by digest", async () => {
    const app = await release('paths', '1.0.0', {
      'deploy/app/settings.yaml': configMap('paths-settings', 'from-path'),
      'deploy/other/ignored.yaml': configMap('paths-ignored', 'not-here'),
    }, { path: 'deploy/app' });
    const subject = reconciler();
    const report = await subject.reconcileApp(app, false);
    expect(report).toMatchObject({ name: 'paths', version: '1.0.0', digest: app.digest, phase: 'Ready', counts: { created: 1 } });
    expect(await liveData('paths-settings')).toBe('from-path');
    expect(await liveData('paths-ignored')).toBeNull();

    const before = proxy.requests;
    const again = await subject.reconcileApp(app, false);
    expect(again).toMatchObject({ phase: 'Ready', counts: { unchanged: 1 } });
    expect(proxy.requests).toBe(before);
  });

  it('reports drift with the changed fields and corrects it; when suspended it reports and leaves it', async () => {
    const app = await release('drift', '1.0.0', { 'cm.yaml': configMap('drift-settings', 'desired') });
    const subject = reconciler();
    await subject.reconcileApp(app, false);

    await cluster.kubectl(['edit', '-n', appNamespace, 'configmap/drift-settings'], { env: { EDITOR: 'sed -i s/desired/edited/' } });
    const corrected = await subject.reconcileApp(app, false);
    expect(corrected.drift).toEqual([
      { object: `ConfigMap/${appNamespace}/drift-settings`, fields: [{ path: '/data/value', before: 'edited', after: 'desired' }], corrected: true },
    ]);
    expect(await liveData('drift-settings')).toBe('desired');

    await cluster.kubectl(['delete', '-n', appNamespace, 'configmap/drift-settings']);
    const recreated = await subject.reconcileApp(app, false);
    expect(recreated.drift).toEqual([
      { object: `ConfigMap/${appNamespace}/drift-settings`, fields: [{ path: '/', before: 'absent', after: 'present' }], corrected: true },
    ]);
    expect(await liveData('drift-settings')).toBe('desired');

    await cluster.kubectl(['edit', '-n', appNamespace, 'configmap/drift-settings'], { env: { EDITOR: 'sed -i s/desired/edited-again/' } });
    for (const [suspendedApp, suspendedCluster] of [[true, false], [false, true]] as const) {
      const left = await subject.reconcileApp({ ...app, suspended: suspendedApp }, suspendedCluster);
      expect(left).toMatchObject({ phase: 'Suspended', drift: [{ fields: [{ path: '/data/value', before: 'edited-again', after: 'desired' }], corrected: false }] });
      expect(await liveData('drift-settings')).toBe('edited-again');
    }
  });

  it('prunes objects that left the artifact, and removes every object of an app that left the desired state', async () => {
    const subject = reconciler();
    const v1 = await release('prune', '1.0.0', { 'a.yaml': configMap('prune-a', 'a'), 'b.yaml': configMap('prune-b', 'b') });
    await subject.reconcileApp(v1, false);
    const v2 = await release('prune', '2.0.0', { 'a.yaml': configMap('prune-a', 'a2') });
    const report = await subject.reconcileApp(v2, false);
    expect(report.counts).toMatchObject({ configured: 1, deleted: 1 });
    expect(await liveData('prune-a')).toBe('a2');
    expect(await liveData('prune-b')).toBeNull();

    const keeper = await release('keeper', '1.0.0', { 'k.yaml': configMap('keeper', 'k') });
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [v2, keeper] });
    // An object that lost its owner label (adopted by someone else) survives the removal.
    await cluster.kubectl(['label', '-n', appNamespace, 'configmap/prune-a', 'app.flotilla.dev/name-']);
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [keeper] });
    expect(await liveData('prune-a')).toBe('a2');
    expect(await liveData('keeper')).toBe('k');
    expect(await new InventoryStore(cluster.client, agentNamespace).get('prune')).toBeNull();

    const owned = await release('owned', '1.0.0', { 'o.yaml': configMap('owned-cm', 'o') });
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [keeper, owned] });
    expect(await liveData('owned-cm')).toBe('o');
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [keeper] });
    expect(await liveData('owned-cm')).toBeNull();

    // prune: false keeps an app's objects when the app leaves the desired state, too
    const kept = await release('kept', '1.0.0', { 'k.yaml': configMap('kept-cm', 'k') }, { prune: false });
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [keeper, kept] });
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [keeper] });
    expect(await liveData('kept-cm')).toBe('k');
    expect(await new InventoryStore(cluster.client, agentNamespace).get('kept')).toBeNull();
  });

  it("deploys artifacts pushed by Flux's own OCI library and by the ORAS CLI", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-interop-'));
    try {
      await mkdir(join(dir, 'manifests'));
      await writeFile(join(dir, 'manifests', 'cm.yaml'), configMap('from-flux', 'flux'));
      const fluxOutput = await execFileAsync(await fluxHelperPath(), ['push', '-source=https://example.test/repo.git', '-revision=main@sha1:0000000000000000000000000000000000000000', `${registryHost}/${repo}/flux:1.0.0`, join(dir, 'manifests')]);
      const fluxDigest = fluxOutput.stdout.trim().split('@')[1]!;

      await writeFile(join(dir, 'manifests', 'cm.yaml'), configMap('from-oras', 'oras'));
      // ORAS packs a directory as one tar+gzip layer whose entries are prefixed with the directory name.
      const orasOutput = await execFileAsync(inject('testEnv').bin.oras, ['push', '--plain-http', `${registryHost}/${repo}/oras:1.0.0`, 'manifests'], { cwd: dir });
      const orasDigest = /Digest: (sha256:[a-f0-9]{64})/.exec(orasOutput.stdout)?.[1];

      const subject = reconciler();
      expect(await subject.reconcileApp(desiredApp('flux', '1.0.0', fluxDigest), false)).toMatchObject({ phase: 'Ready' });
      expect(await subject.reconcileApp(desiredApp('oras', '1.0.0', orasDigest!, { path: 'manifests' }), false)).toMatchObject({ phase: 'Ready' });
      expect([await liveData('from-flux'), await liveData('from-oras')]).toEqual(['flux', 'oras']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails an app with a bad artifact with a clear reason, applies nothing from it, and leaves other apps alone', async () => {
    const subject = reconciler();
    const good = await release('good', '1.0.0', { 'cm.yaml': configMap('good-cm', 'ok') });

    const tamperedDigest = await publishFiles(registryHost, `${repo}/tampered`, '1.0.0', { 'cm.yaml': configMap('tampered-cm', 'x') });
    const hostileDigest = await publishLayer(registryHost, `${repo}/hostile`, '1.0.0', hostileLayer([
      { path: 'ok.yaml', content: configMap('hostile-cm', 'x') },
      { path: '../../etc/escape.yaml', content: configMap('escape', 'x') },
    ]));
    const invalidYaml = await release('invalid', '1.0.0', { 'a.yaml': configMap('invalid-a', 'x'), 'b.yaml': 'kind: ConfigMap\nmetadata: [unclosed\n' });
    const rejected = await release('rejected', '1.0.0', {
      'a.yaml': configMap('rejected-a', 'x'),
      'b.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: rejected}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: i}]}}}\n`,
    });

    const reports: AppReport[] = [];
    proxy.mode = 'corrupt-blobs';
    try {
      reports.push(await subject.reconcileApp(desiredApp('tampered', '1.0.0', tamperedDigest), false));
    } finally {
      proxy.mode = 'pass';
    }
    reports.push(await subject.reconcileApp(desiredApp('hostile', '1.0.0', hostileDigest), false));
    reports.push(await subject.reconcileApp(invalidYaml, false));
    reports.push(await subject.reconcileApp(rejected, false));
    reports.push(await subject.reconcileApp(good, false));

    expect(reports.map((report) => [report.name, report.phase, report.reason])).toEqual([
      ['tampered', 'Failed', 'ArtifactDigestMismatch'],
      ['hostile', 'Failed', 'UnsafeArtifact'],
      ['invalid', 'Failed', 'BuildFailed'],
      ['rejected', 'Failed', 'DryRunFailed'],
      ['good', 'Ready', 'ReconciliationSucceeded'],
    ]);
    expect(reports[2]?.message).toMatch(/b\.yaml/);
    expect(reports[3]?.message).toMatch(/Deployment\/.*\/rejected/);
    for (const name of ['tampered-cm', 'hostile-cm', 'invalid-a', 'rejected-a']) expect(await liveData(name)).toBeNull();
    expect(await liveData('good-cm')).toBe('ok');
  });

  it('records what a failed apply wrote, so removing the app still prunes it', async () => {
    const subject = reconciler();
    const ns = uniqueName('agent-rec-partial');
    const broken = await release('partial', '1.0.0', {
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`,
      'bad.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: ${ns}}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: i}]}}}\n`,
    });
    const report = await subject.reconcileApp(broken, false);
    expect(report.phase).toBe('Failed');
    expect(await cluster.client.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })).not.toBeNull();
    const inventory = await new InventoryStore(cluster.client, agentNamespace).get('partial');
    expect(inventory?.entries.map((entry) => entry.id)).toContain(`_${ns}__Namespace`);
    await subject.reconcileAll({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 1, apps: [] });
    const gone = await cluster.client.get({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    expect(gone === null || gone.metadata.deletionTimestamp !== undefined).toBe(true);
  });

  it('refuses to take an object another app manages, and leaves it to its owner', async () => {
    const subject = reconciler();
    const first = await release('owner-a', '1.0.0', { 'cm.yaml': configMap('shared-cm', 'from-a') });
    expect((await subject.reconcileApp(first, false)).phase).toBe('Ready');
    const second = await release('owner-b', '1.0.0', { 'cm.yaml': configMap('shared-cm', 'from-b'), 'own.yaml': configMap('owner-b-own', 'b') });
    const report = await subject.reconcileApp(second, false);
    expect(report.phase).toBe('Failed');
    expect(report.message).toMatch(/ConfigMap\/.*\/shared-cm: already managed with app\.flotilla\.dev\/name=owner-a/);
    expect(await liveData('shared-cm')).toBe('from-a');
    expect(await liveData('owner-b-own')).toBeNull();
    expect((await subject.reconcileApp(first, false)).drift).toEqual([]);
  });

  it("refuses an artifact that would write into the agent's own namespace, and applies none of it", async () => {
    const subject = reconciler();
    const intruder = await release('intruder', '1.0.0', {
      'a.yaml': configMap('intruder-ok', 'x'),
      'b.yaml': configMap('flotilla-inventory-good', 'overwritten', agentNamespace),
    });
    const report = await subject.reconcileApp(intruder, false);
    expect([report.phase, report.reason]).toEqual(['Failed', 'InvalidObject']);
    expect(report.message).toMatch(/agent's own namespace/);
    expect(await liveData('intruder-ok')).toBeNull();
    const byDefault = await subject.reconcileApp({ ...intruder, namespace: agentNamespace }, false);
    expect(byDefault.reason).toBe('InvalidObject');
  });

  it('reports an immutable-field change as the reason, and recreates the object only when the app allows it', async () => {
    const subject = reconciler();
    const frozen = (value: string) => ({ 'cm.yaml': `${configMap('frozen-cm', value)}immutable: true\n` });
    await subject.reconcileApp(await release('frozen', '1.0.0', frozen('v1')), false);
    const v2 = await release('frozen', '2.0.0', frozen('v2'));
    const refused = await subject.reconcileApp(v2, false);
    expect(refused).toMatchObject({ phase: 'Failed', reason: 'ImmutableFieldChange', message: expect.stringMatching(/ConfigMap\/.*\/frozen-cm/) });
    expect(await liveData('frozen-cm')).toBe('v1');
    expect(await subject.reconcileApp({ ...v2, recreate: true }, false)).toMatchObject({ phase: 'Ready', counts: { created: 1 } });
    expect(await liveData('frozen-cm')).toBe('v2');
  });

  it('keeps the last good state and retries with backoff while the registry is down', async () => {
    const subject = reconciler({ fetchBackoff: { baseMs: 1_500, maxMs: 10_000 } });
    const v1 = await release('outage', '1.0.0', { 'cm.yaml': configMap('outage-cm', 'v1') });
    await subject.reconcileApp(v1, false);
    const v2 = await release('outage', '2.0.0', { 'cm.yaml': configMap('outage-cm', 'v2') });

    proxy.mode = 'down';
    try {
      const down = await subject.reconcileApp(v2, false);
      expect(down).toMatchObject({ phase: 'Failed', reason: 'RegistryUnavailable' });
      const attempts = proxy.requests;
      const backingOff = await subject.reconcileApp(v2, false);
      expect(backingOff.message).toMatch(/retrying in \d+s/);
      expect(proxy.requests).toBe(attempts);
      expect(await liveData('outage-cm')).toBe('v1');
    } finally {
      proxy.mode = 'pass';
    }
    await sleep(2_000);
    expect(await subject.reconcileApp(v2, false)).toMatchObject({ phase: 'Ready', version: '2.0.0' });
    expect(await liveData('outage-cm')).toBe('v2');
  });

  it('reports Progressing until a Deployment is available, and Failed when its timeout passes', async () => {
    const deployment = (name: string, nodeSelector: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      nodeSelector: ${nodeSelector}
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers: [{name: main, image: registry.example/app:1}]
`;
    const subject = reconciler();
    const healthy = await release('healthy', '1.0.0', { 'd.yaml': deployment('healthy', '{}') });
    const first = await subject.reconcileApp(healthy, false);
    expect(['Progressing', 'Ready']).toContain(first.phase);
    let report = first;
    for (let attempt = 0; attempt < 30 && report.phase !== 'Ready'; attempt++) report = await subject.reconcileApp(healthy, false);
    expect(report).toMatchObject({ phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] });

    const stuck = await release('stuck', '1.0.0', { 'd.yaml': deployment('stuck', '{no-such-node: "true"}') }, { timeoutSeconds: 3 });
    expect(await subject.reconcileApp(stuck, false)).toMatchObject({ phase: 'Progressing' });
    await sleep(2_500);
    expect(await subject.reconcileApp(stuck, false)).toMatchObject({ phase: 'Failed', reason: 'HealthCheckTimeout' });
  }, 90_000);
});
