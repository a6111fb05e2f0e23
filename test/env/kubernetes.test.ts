// Proof that each of the three clusters is a working Kubernetes: Deployments become Available
// (scheduler + controller-manager + kwok), server-side apply works, and the clusters do not see
// each other's objects even though they share one etcd.
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, VersionApi, type V1ConfigMap, type V1Deployment } from '@kubernetes/client-node';
import { requireTestEnv } from './inject.ts';
import { sleep } from '../../lib/sleep.ts';

const env = requireTestEnv();
const runId = randomBytes(3).toString('hex');

function clientsFor(kubeconfigPath: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    version: kc.makeApiClient(VersionApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

async function poll<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

test('the environment has dev, prod-us and prod-eu in that order', () => {
  expect(env.clusters.map((c) => c.name)).toEqual(['dev', 'prod-us', 'prod-eu']);
  expect(new Set(env.clusters.map((c) => c.server)).size).toBe(3);
});

describe.each(env.clusters.map((cluster) => [cluster.name, cluster] as const))('cluster %s', (name, cluster) => {
  const { apps, core, version, objects } = clientsFor(cluster.kubeconfigPath);
  const namespace = `env-proof-${runId}`;

  test('serves the pinned Kubernetes version', async () => {
    const info = await version.getCode();
    expect(info.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(info.major).toBe('1');
  });

  test('a Deployment becomes Available', { timeout: 90_000 }, async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const deployment: V1Deployment = {
      metadata: { name: 'proof', namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'proof' } },
        template: {
          metadata: { labels: { app: 'proof' } },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/proof:1' }] },
        },
      },
    };
    await apps.createNamespacedDeployment({ namespace, body: deployment });
    const available = await poll(`${name}: Deployment proof Available`, async () => {
      const current = await apps.readNamespacedDeployment({ name: 'proof', namespace });
      const condition = current.status?.conditions?.find((c) => c.type === 'Available');
      return condition?.status === 'True' && current.status?.availableReplicas === 2 ? current : undefined;
    });
    expect(available.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=proof' });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).toBe('kwok-node-0');
      expect(pod.status?.phase).toBe('Running');
    }
  });

  test('server-side apply dry-run answers without persisting', async () => {
    const configMap: V1ConfigMap & { apiVersion: string; kind: string } = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `ssa-dry-run-${runId}`, namespace: 'default' },
      data: { cluster: name },
    };
    const applied = await objects.patch(configMap, undefined, 'All', 'flotilla-env-proof', true, PatchStrategy.ServerSideApply);
    expect(applied.metadata?.uid).toBeTruthy();
    expect((applied as V1ConfigMap).data).toEqual({ cluster: name });
    expect(applied.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toContainEqual(['flotilla-env-proof', 'Apply']);
    await expect(core.readNamespacedConfigMap({ name: configMap.metadata!.name!, namespace: 'default' })).rejects.toMatchObject({ code: 404 });
  });

  test('objects are not visible in the other clusters', async () => {
    const marker = `only-in-${name}-${runId}`;
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: marker }, data: { owner: name } } });
    expect((await core.readNamespacedConfigMap({ name: marker, namespace: 'default' })).data).toEqual({ owner: name });
    for (const other of env.clusters.filter((c) => c.name !== name)) {
      await expect(clientsFor(other.kubeconfigPath).core.readNamespacedConfigMap({ name: marker, namespace: 'default' })).rejects.toMatchObject({
        code: 404,
      });
    }
  });
});
