// The resource manager against a real kube-apiserver (and, for health, its controllers and kwok nodes).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/client.ts';
import { connectTestCluster, createNamespace, deleteNamespace, uniqueName, type AgentTestCluster } from '../../test/support/cluster.ts';
import { diffObject } from './diff.ts';
import { ApplyError } from './errors.ts';
import { ResourceManager } from './manager.ts';
import { refOf } from './objects.ts';
import { VerifiedObjects } from './verified.ts';

let cluster: AgentTestCluster;
let manager: ResourceManager;
const namespace = uniqueName('agent-ssa');
const createdNamespaces = [namespace];
const group = `${uniqueName('widgets')}.flotilla.test`;
const ownerLabels = { 'app.flotilla.dev/name': 'ssa-test', 'app.flotilla.dev/managed-by': 'flotilla' };

function objects(text: string): KubeObject[] {
  return parseAllDocuments(text).map((document) => document.toJS() as KubeObject);
}

function configMap(name: string, data: Record<string, string>, extra = ''): string {
  const entries = Object.entries(data)
    .map(([key, value]) => `  ${key}: "${value}"`)
    .join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\n${extra}data:\n${entries}\n`;
}

async function live(kind: string, name: string, apiVersion = 'v1', ns = namespace) {
  return cluster.client.get({ apiVersion, kind, namespace: ns, name });
}

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  manager = new ResourceManager(cluster.client, { ownerLabels });
  await createNamespace(cluster, namespace);
});

afterAll(async () => {
  for (const name of createdNamespaces) await deleteNamespace(cluster, name);
  await cluster.client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${group}`, { allowStatus: [404] });
  await cluster.client.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${namespace}-reader`, { allowStatus: [404] });
  cluster.client.close();
});

describe('ResourceManager against a real apiserver', () => {
  it('applies CRDs and Namespaces first, waits until established, then the rest in kind order', async () => {
    const fresh = uniqueName('agent-ssa-new');
    createdNamespaces.push(fresh);
    const result = await manager.applyAllStaged(
      objects(`
apiVersion: ${group}/v1
kind: Gadget
metadata: {name: first, namespace: ${fresh}}
spec: {size: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ${fresh}}
data: {a: "1"}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: v1
kind: Namespace
metadata: {name: ${fresh}}
`),
    );
    expect(result.entries.map((entry) => [entry.subject, entry.action])).toEqual([
      [`CustomResourceDefinition/gadgets.${group}`, 'created'],
      [`Namespace/${fresh}`, 'created'],
      [`ConfigMap/${fresh}/settings`, 'created'],
      [`Gadget/${fresh}/first`, 'created'],
    ]);
    const gadget = await live('Gadget', 'first', `${group}/v1`, fresh);
    expect(gadget?.['spec']).toEqual({ size: 3 });
    expect(gadget?.metadata.labels).toMatchObject(ownerLabels);
  });

  it('does not apply unchanged objects (resourceVersion unchanged)', async () => {
    const set = objects(configMap('stable', { a: '1' }) + '---\n' + configMap('stable-2', { b: '2' }));
    const first = await manager.applyAllStaged(set);
    expect(first.entries.map((entry) => entry.action)).toEqual(['created', 'created']);
    const before = (await live('ConfigMap', 'stable'))?.metadata.resourceVersion;

    const second = await manager.applyAllStaged(set);
    expect(second.entries.map((entry) => entry.action)).toEqual(['unchanged', 'unchanged']);
    expect((await live('ConfigMap', 'stable'))?.metadata.resourceVersion).toBe(before);
  });

  it('takes over and reverts fields changed with kubectl edit and kubectl apply', async () => {
    const set = objects(configMap('edited', { mode: 'original', other: 'x' }));
    await manager.applyAllStaged(set);

    // A real `kubectl edit`, with sed as the editor.
    await cluster.kubectl(['edit', '-n', namespace, 'configmap/edited'], { env: { EDITOR: 'sed -i s/original/by-edit/' } });
    // A real server-side `kubectl apply` that forces ownership of another field.
    await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
      input: configMap('edited', { other: 'by-apply' }),
    });
    expect((await live('ConfigMap', 'edited'))?.['data']).toEqual({ mode: 'by-edit', other: 'by-apply' });

    const result = await manager.applyAllStaged(set);
    expect(result.entries[0]).toMatchObject({
      action: 'configured',
      fields: [
        { path: '/data/mode', before: 'by-edit', after: 'original' },
        { path: '/data/other', before: 'by-apply', after: 'x' },
      ],
    });
    const reverted = await live('ConfigMap', 'edited');
    expect(reverted?.['data']).toEqual({ mode: 'original', other: 'x' });
    const managers = (reverted?.metadata['managedFields'] as { manager: string; fieldsV1: { 'f:data'?: object } }[])
      .filter((entry) => entry.fieldsV1['f:data'])
      .map((entry) => entry.manager);
    expect(managers).toEqual(['flotilla-agent']);
  });

  it('masks Secret values in the fields it reports', async () => {
    const set = objects(`apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ${namespace}}\nstringData: {password: hunter2}\n`);
    await manager.applyAllStaged(set);
    await cluster.kubectl(['patch', '-n', namespace, 'secret/creds', '-p', '{"stringData":{"password":"leaked"}}']);
    const result = await manager.applyAllStaged(set, { dryRun: true });
    expect(result.entries[0]?.fields).toEqual([{ path: '/data/password', before: '***', after: '***' }]);
    expect(JSON.stringify(result.entries)).not.toMatch(/hunter2|leaked|aHVudGVyMg|bGVha2Vk/);
  });

  it('decides namespaced vs cluster-scoped by discovery', async () => {
    const result = await manager.applyAllStaged(
      objects(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${namespace}-reader, namespace: should-be-dropped}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: defaulted}
data: {a: "1"}
`),
      { defaultNamespace: namespace },
    );
    expect(result.entries.map((entry) => entry.subject)).toEqual([`ClusterRole/${namespace}-reader`, `ConfigMap/${namespace}/defaulted`]);
    expect(await live('ConfigMap', 'defaulted')).not.toBeNull();
  });

  it('reports an immutable-field change, and recreates the object only when allowed', async () => {
    await manager.applyAllStaged(objects(configMap('frozen', { a: '1' }, 'immutable: true\n')));
    const changed = objects(configMap('frozen', { a: '2' }, 'immutable: true\n'));
    const uidBefore = (await live('ConfigMap', 'frozen'))?.metadata.uid;

    const refused = await manager.applyAllStaged(changed).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApplyError);
    expect((refused as ApplyError).reason).toBe('ImmutableFieldChange');
    expect((refused as ApplyError).failures[0]?.subject).toBe(`ConfigMap/${namespace}/frozen`);
    expect((await live('ConfigMap', 'frozen'))?.['data']).toEqual({ a: '1' });

    const recreated = await manager.applyAllStaged(changed, { recreate: true });
    expect(recreated.entries[0]).toMatchObject({ action: 'created', message: expect.stringMatching(/immutable/) });
    const after = await live('ConfigMap', 'frozen');
    expect(after?.['data']).toEqual({ a: '2' });
    expect(after?.metadata.uid).not.toBe(uidBefore);
  });

  it('writes nothing when any object of the set is rejected by the apiserver', async () => {
    const error = await manager
      .applyAllStaged(
        objects(
          configMap('innocent', { a: '1' }) +
            `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: main, image: registry.example/app:1}]}
`,
        ),
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).reason).toBe('DryRunFailed');
    expect((error as ApplyError).failures[0]?.subject).toBe(`Deployment/${namespace}/broken`);
    expect(await live('ConfigMap', 'innocent')).toBeNull();
  });

  it('rejects documents that are not Kubernetes objects before contacting the apiserver for writes', async () => {
    const error = await manager.applyAllStaged([{ kind: 'ConfigMap' } as unknown as KubeObject]).catch((caught: unknown) => caught);
    expect((error as ApplyError).reason).toBe('InvalidObject');
    expect((error as ApplyError).message).toMatch(/apiVersion is missing/);
  });

  it('plans without writing in dry-run mode', async () => {
    const result = await manager.applyAllStaged(objects(configMap('planned', { a: '1' })), { dryRun: true });
    expect(result.entries.map((entry) => entry.action)).toEqual(['created']);
    expect(await live('ConfigMap', 'planned')).toBeNull();
  });

  it('deletes only objects that carry the owner labels', async () => {
    await manager.applyAllStaged(objects(configMap('owned', { a: '1' })));
    await cluster.kubectl(['create', 'configmap', 'foreign', '-n', namespace, '--from-literal=a=1']);
    const entries = await manager.deleteAll([
      { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'owned' },
      { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'foreign' },
    ]);
    expect(entries.map((entry) => [entry.subject, entry.action])).toEqual([
      [`ConfigMap/${namespace}/owned`, 'deleted'],
      [`ConfigMap/${namespace}/foreign`, 'skipped'],
    ]);
    expect(await live('ConfigMap', 'owned')).toBeNull();
    expect(await live('ConfigMap', 'foreign')).not.toBeNull();
  });

  it('does not mistake a write by another manager after the read for drift', async () => {
    const applied = await manager.applyAllStaged(objects(configMap('raced', { a: '1' })));
    const prepared = applied.objects[0]!.object;
    const stale = await live('ConfigMap', 'raced');
    await cluster.kubectl(['annotate', '-n', namespace, 'configmap/raced', 'controller.example/revision=2']);
    const { entry } = await diffObject(manager.context, prepared, stale!);
    expect(entry.action).toBe('unchanged');
  });

  it('reports StatefulSets, DaemonSets, Jobs and generic Ready conditions as they become healthy', async () => {
    const podTemplate = (app: string) =>
      `metadata: {labels: {app: ${app}}}\n    spec: {containers: [{name: main, image: registry.example/app:1}]}`;
    const result = await manager.applyAllStaged(
      objects(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: stateful, namespace: ${namespace}}
spec:
  replicas: 1
  serviceName: stateful
  selector: {matchLabels: {app: stateful}}
  template:
    ${podTemplate('stateful')}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: daemon, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: daemon}}
  template:
    ${podTemplate('daemon')}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: ${namespace}}
spec:
  template:
    metadata: {labels: {app: once}}
    spec: {restartPolicy: Never, containers: [{name: main, image: registry.example/app:1}]}
`),
    );
    const workloads = await manager.waitForSet(result.objects.map((applied) => refOf(applied.object)), { intervalMs: 500, timeoutMs: 60_000 });
    expect(workloads.objects.map((object) => [object.subject.split('/')[0], object.status])).toEqual([
      ['StatefulSet', 'Ready'],
      ['DaemonSet', 'Ready'],
      ['Job', 'Ready'],
    ]);

    // A custom resource reporting a Ready condition through its status subresource.
    const gadget = { apiVersion: `${group}/v1`, kind: 'Gadget', namespace, name: 'conditioned' };
    await manager.applyAllStaged([{ apiVersion: gadget.apiVersion, kind: 'Gadget', metadata: { name: 'conditioned', namespace }, spec: { size: 1 } }]);
    const setReady = (status: string) =>
      cluster.kubectl(['patch', '-n', namespace, `gadgets.${group}/conditioned`, '--subresource=status', '--type=merge', '-p',
        JSON.stringify({ status: { conditions: [{ type: 'Ready', status, message: `ready is ${status}` }] } })]);
    await setReady('False');
    expect((await manager.waitForSet([gadget], { timeoutMs: 0 })).objects[0]).toMatchObject({ status: 'Progressing', message: 'ready is False' });
    await setReady('True');
    expect((await manager.waitForSet([gadget], { timeoutMs: 0 })).status).toBe('Ready');
  }, 90_000);

  it('waits for a Deployment to become available on kwok nodes, and reports one that cannot', async () => {
    const deployment = (name: string, extra: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  replicas: 2
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${extra}      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers: [{name: main, image: registry.example/app:1}]
`;
    const result = await manager.applyAllStaged(
      objects(deployment('healthy', '') + '---' + deployment('unschedulable', '      nodeSelector: {no-such-node: "true"}\n')),
    );
    const [healthy, unschedulable] = result.objects.map((applied) => refOf(applied.object));
    const ready = await manager.waitForSet([healthy!], { intervalMs: 500, timeoutMs: 60_000 });
    expect(ready.status).toBe('Ready');
    const stuck = await manager.waitForSet([unschedulable!], { intervalMs: 500, timeoutMs: 30_000 });
    expect(stuck.status).toBe('Failed');
    expect(stuck.objects[0]?.message).toMatch(/progress/i);
  }, 120_000);

  it('dry-runs again only the objects whose live or desired content changed since they were last planned', async () => {
    const owner = { 'app.flotilla.dev/name': 'ssa-verified', 'app.flotilla.dev/managed-by': 'flotilla' };
    const verified = new VerifiedObjects();
    const remembering = new ResourceManager(cluster.client, { ownerLabels: owner, verified });
    const set = (changed = 'v1') =>
      objects(['a', 'b', 'c', 'd', 'e', 'f'].map((name) => configMap(`verified-${name}`, { value: name === 'f' ? changed : 'v1' })).join('---\n'));
    const dryRuns = vi.spyOn(cluster.client, 'apply');
    const dryRunCount = () => dryRuns.mock.calls.filter(([, options]) => options.dryRun).length;
    try {
      expect((await remembering.applyAllStaged(set())).entries.every((entry) => entry.action === 'created')).toBe(true);
      expect(verified.size).toBe(6);

      // Unchanged: the LIST shows every resourceVersion as last planned, so nothing is dry-run.
      dryRuns.mockClear();
      const again = await remembering.applyAllStaged(set());
      expect(again.entries.map((entry) => entry.action)).toEqual(Array(6).fill('unchanged'));
      expect(dryRunCount()).toBe(0);

      // Another manager applying the very same value moves the resourceVersion (managedFields) and
      // not the compared content, as a controller's status write does: still nothing to dry-run.
      const before = (await live('ConfigMap', 'verified-b'))?.metadata.resourceVersion;
      await cluster.kubectl(['apply', '--server-side', '--field-manager', 'co-owner', '-f', '-'], { input: configMap('verified-b', { value: 'v1' }) });
      expect((await live('ConfigMap', 'verified-b'))?.metadata.resourceVersion).not.toBe(before);
      dryRuns.mockClear();
      expect((await remembering.applyAllStaged(set())).entries.map((entry) => entry.action)).toEqual(Array(6).fill('unchanged'));
      expect(dryRunCount()).toBe(0);

      // A hand edit changes one resourceVersion: that object alone is dry-run, found drifted and reverted.
      await cluster.kubectl(['patch', '-n', namespace, 'configmap', 'verified-c', '--type', 'merge', '-p', '{"data":{"value":"edited"}}', '--field-manager', 'hand-edit']);
      dryRuns.mockClear();
      const reverted = await remembering.applyAllStaged(set());
      expect(reverted.entries.filter((entry) => entry.action !== 'unchanged').map((entry) => [entry.subject, entry.action])).toEqual([[`ConfigMap/${namespace}/verified-c`, 'configured']]);
      expect(dryRunCount()).toBe(1);
      expect((await live('ConfigMap', 'verified-c'))?.['data']).toEqual({ value: 'v1' });

      // A new desired content is planned again even though nothing live changed.
      dryRuns.mockClear();
      const updated = await remembering.applyAllStaged(set('v2'));
      expect(updated.entries.filter((entry) => entry.action !== 'unchanged').map((entry) => entry.subject)).toEqual([`ConfigMap/${namespace}/verified-f`]);
      expect(dryRunCount()).toBe(1);

      // Plan only (suspended): drift is found once and reported again, unchanged, without a new dry-run.
      await cluster.kubectl(['patch', '-n', namespace, 'configmap', 'verified-a', '--type', 'merge', '-p', '{"data":{"value":"edited"}}', '--field-manager', 'hand-edit']);
      const first = await remembering.applyAllStaged(set('v2'), { dryRun: true });
      dryRuns.mockClear();
      const second = await remembering.applyAllStaged(set('v2'), { dryRun: true });
      expect(dryRunCount()).toBe(0);
      const drifted = (result: typeof first) => result.entries.filter((entry) => entry.action === 'configured');
      expect(drifted(second)).toEqual(drifted(first));
      expect(drifted(second)[0]?.fields).toEqual([{ path: '/data/value', before: 'edited', after: 'v1' }]);
    } finally {
      dryRuns.mockRestore();
    }
  });
});
