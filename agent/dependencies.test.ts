// dependsOn and report-only drift in the per-app pipeline, against a real kube-apiserver and a real
// OCI registry (the style of reconciler.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppReport, DesiredApp, DesiredState } from '../lib/api/schemas.ts';
import { InventoryStore } from './inventory.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';
import { publishFiles } from '../test/support/registry.ts';
import { configMapYaml, testDesiredApp, testReconciler } from '../test/support/agent-apps.ts';

let cluster: AgentTestCluster;
let registryHost: string;
const agentNamespace = uniqueName('agent-deps-system');
const appNamespace = uniqueName('agent-deps-apps');
const repo = uniqueName('agent-deps');
const group = `${uniqueName('deps')}.flotilla.test`;

const reconciler = () => testReconciler(cluster, agentNamespace, { healthBudgetMs: 5_000 });

const configMap = (name: string, data: string) => configMapYaml(name, data);
const secret = (name: string, password: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData: {password: ${password}}\n`;
const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
`;
const widget = (size: number) => `apiVersion: ${group}/v1\nkind: Widget\nmetadata: {name: main}\nspec: {size: ${size}}\n`;

async function release(app: string, version: string, files: Record<string, string>, extra: Partial<DesiredApp> = {}): Promise<DesiredApp> {
  const digest = await publishFiles(registryHost, `${repo}/${app}`, version, files);
  return testDesiredApp(`${registryHost}/${repo}/${app}`, appNamespace, app, version, digest, extra);
}

const state = (apps: DesiredApp[]): DesiredState => ({ cluster: 'c', environment: 'e', region: 'r', suspended: false, interval: 30, apps });
const byName = (reports: AppReport[]) => Object.fromEntries(reports.map((report) => [report.name, report]));

async function liveData(name: string) {
  const object = await cluster.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: appNamespace, name });
  return object ? (object['data'] as Record<string, string>)['value'] : null;
}

async function liveWidgetSize() {
  try {
    const object = await cluster.client.get({ apiVersion: `${group}/v1`, kind: 'Widget', namespace: appNamespace, name: 'main' });
    return object ? (object['spec'] as { size: number }).size : null;
  } catch {
    return null; // the kind is not served: no CRD
  }
}

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  registryHost = testRegistryHost();
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
});

afterAll(async () => {
  await cluster.client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`, { allowStatus: [404] });
  await deleteNamespace(cluster, agentNamespace);
  await deleteNamespace(cluster, appNamespace);
  cluster.client.close();
});

describe('dependsOn', () => {
  it('waits with DependencyNotReady, applying nothing, until the CRD-providing app is Ready at its desired version; dependencies first, so both converge in one loop', async () => {
    const subject = reconciler();
    // The dependent sorts first by name: only dependency order gets it applied after its CRD in the same loop.
    const widgets1 = await release('app-widgets', '1.0.0', { 'w.yaml': widget(1), 'cm.yaml': configMap('widgets-cm', 'v1') }, { dependsOn: ['infra-crds'] });
    const crds1 = await release('infra-crds', '1.0.0', { 'crd.yaml': crd });

    // The dependency is not desired in this cluster: named as missing, nothing applied or recorded.
    const missing = byName(await subject.reconcileAll(state([widgets1])))['app-widgets']!;
    expect(missing).toMatchObject({ phase: 'Progressing', reason: 'DependencyNotReady', version: '1.0.0', counts: {}, drift: [] });
    expect(missing.message).toBe('dependency not ready: infra-crds is missing: it is not desired in this cluster; nothing applied');
    expect(missing.conditions).toEqual([expect.objectContaining({ type: 'Ready', reason: 'DependencyNotReady' })]);
    expect(await liveData('widgets-cm')).toBeNull();
    expect(await new InventoryStore(cluster.client, agentNamespace).get('app-widgets')).toBeNull();

    // Both desired, the dependent listed first: the CRD app is applied first, and the dependent in the same loop.
    const converged = await subject.reconcileAll(state([widgets1, crds1]));
    expect(converged.map((report) => [report.name, report.phase, report.reason])).toEqual([
      ['app-widgets', 'Ready', 'ReconciliationSucceeded'],
      ['infra-crds', 'Ready', 'ReconciliationSucceeded'],
    ]);
    expect(await liveWidgetSize()).toBe(1);
    expect(await liveData('widgets-cm')).toBe('v1');

    // The dependency's new version fails: the dependent's new version waits and its objects stay at 1.0.0.
    const crdsBroken = await release('infra-crds', '2.0.0', { 'crd.yaml': crd, 'bad.yaml': 'kind: ConfigMap\nmetadata: [unclosed\n' });
    const widgets2 = await release('app-widgets', '2.0.0', { 'w.yaml': widget(2), 'cm.yaml': configMap('widgets-cm', 'v2') }, { dependsOn: ['infra-crds'] });
    const waiting = byName(await subject.reconcileAll(state([widgets2, crdsBroken])));
    expect(waiting['infra-crds']).toMatchObject({ phase: 'Failed', reason: 'BuildFailed' });
    expect(waiting['app-widgets']).toMatchObject({ phase: 'Progressing', reason: 'DependencyNotReady', version: '2.0.0', counts: {} });
    expect(waiting['app-widgets']!.message).toBe('dependency not ready: waiting for infra-crds to be Ready at 2.0.0 (it is Failed at 2.0.0: BuildFailed); nothing applied');
    expect(await liveWidgetSize()).toBe(1);
    expect(await liveData('widgets-cm')).toBe('v1');

    // Fixed: Ready at 2.0.1 first, then the dependent at 2.0.0, in one loop.
    const crdsFixed = await release('infra-crds', '2.0.1', { 'crd.yaml': crd });
    const fixed = byName(await subject.reconcileAll(state([widgets2, crdsFixed])));
    expect(fixed['infra-crds']).toMatchObject({ phase: 'Ready', version: '2.0.1' });
    expect(fixed['app-widgets']).toMatchObject({ phase: 'Ready', version: '2.0.0', counts: { configured: 2 } });
    expect(await liveWidgetSize()).toBe(2);
    expect(await liveData('widgets-cm')).toBe('v2');

    // Ready, but at an older version than the one now desired (not reconciled yet in this loop): still waits.
    const crdsNext = await release('infra-crds', '2.0.2', { 'crd.yaml': crd });
    const stale = await subject.reconcileApp(widgets2, false, [widgets2, crdsNext]);
    expect(stale).toMatchObject({ phase: 'Progressing', reason: 'DependencyNotReady' });
    expect(stale.message).toBe('dependency not ready: waiting for infra-crds to be Ready at 2.0.2 (it is Ready at 2.0.1: ReconciliationSucceeded); nothing applied');

    // Gone from the desired state: everything removed (the CRD with it).
    await subject.reconcileAll(state([]));
    expect(await liveData('widgets-cm')).toBeNull();
  }, 90_000);
});

describe('drift: report', () => {
  it('reports a kubectl edit as drift (Secret values masked) and leaves it in place, while a new version is still applied', async () => {
    const subject = reconciler();
    const files = (other: string) => ({ 'settings.yaml': configMap('ro-settings', 'desired'), 'other.yaml': configMap('ro-other', other), 'secret.yaml': secret('ro-secret', 'hunter2') });
    const v1 = await release('report-only', '1.0.0', files('other-v1'), { drift: 'report' });
    expect(await subject.reconcileApp(v1, false)).toMatchObject({ phase: 'Ready', counts: { created: 3 }, drift: [] });

    await cluster.kubectl(['edit', '-n', appNamespace, 'configmap/ro-settings'], { env: { EDITOR: 'sed -i s/desired/edited/' } });
    await cluster.kubectl(['patch', '-n', appNamespace, 'secret/ro-secret', '-p', '{"stringData":{"password":"leaked"}}']);
    const expectedDrift = [
      { object: `ConfigMap/${appNamespace}/ro-settings`, fields: [{ path: '/data/value', before: 'edited', after: 'desired' }], corrected: false },
      { object: `Secret/${appNamespace}/ro-secret`, fields: [{ path: '/data/password', before: '***', after: '***' }], corrected: false },
    ];
    for (let loop = 0; loop < 2; loop++) {
      const reported = await subject.reconcileApp(v1, false);
      expect(reported).toMatchObject({ phase: 'Ready', reason: 'ReconciliationSucceeded', counts: { unchanged: 1 } });
      expect(reported.counts).not.toHaveProperty('configured');
      expect(reported.drift).toEqual(expectedDrift);
      expect(reported.message).toMatch(/drift: report — 2 drifted object\(s\) reported and left as found \(not corrected\)$/);
      expect(reported.conditions).toContainEqual({ type: 'Drifted', status: 'True', reason: 'DriftReported', message: expect.stringMatching(/left as found/) });
      expect(JSON.stringify(reported)).not.toMatch(/hunter2|leaked|aHVudGVyMg|bGVha2Vk/);
      expect(await liveData('ro-settings')).toBe('edited');
    }

    // A new version is applied (not suspension); the drifted object it does not change stays as found.
    const v2 = await release('report-only', '2.0.0', files('other-v2'), { drift: 'report' });
    const upgraded = await subject.reconcileApp(v2, false);
    expect(upgraded).toMatchObject({ phase: 'Ready', version: '2.0.0', counts: { configured: 1 }, drift: expectedDrift });
    expect(await liveData('ro-other')).toBe('other-v2');
    expect(await liveData('ro-settings')).toBe('edited');

    // The same app with drift: correct reverts it: the mode is what left it.
    const corrected = await subject.reconcileApp({ ...v2, drift: 'correct' }, false);
    expect(corrected.drift.map((entry) => [entry.object, entry.corrected])).toEqual(expectedDrift.map((entry) => [entry.object, true]));
    expect(await liveData('ro-settings')).toBe('desired');
    expect(corrected.conditions.map((condition) => condition.type)).toEqual(['Ready']);
    await subject.reconcileAll(state([]));
  }, 90_000);
});
