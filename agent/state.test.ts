// The agent's own namespace, against a real kube-apiserver: created when missing (a kubeconfig run
// from a laptop), once when several agents start together, and refused in one sentence by RBAC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, type KubeObject } from './kube/client.ts';
import { kubeconfigConnection } from './kube/config.ts';
import { AgentStateStore, NamespaceError } from './state.ts';
import { connectTestCluster, createNamespace, deleteNamespace, uniqueName, type AgentTestCluster } from '../test/support/cluster.ts';

let cluster: AgentTestCluster;
const created: string[] = [];
const home = uniqueName('agent-ns-home');
const readerRole = uniqueName('agent-ns-reader');

function missingNamespace(): string {
  const name = uniqueName('agent-ns');
  created.push(name);
  return name;
}

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  await createNamespace(cluster, home);
});

afterAll(async () => {
  for (const name of [...created, home]) await deleteNamespace(cluster, name);
  await cluster.kubectl(['delete', 'clusterrole,clusterrolebinding', readerRole, '--ignore-not-found']);
  cluster.client.close();
});

describe('the agent namespace', () => {
  it('is created, labelled like the install manifests, when it is missing; an existing one is left alone', async () => {
    const namespace = missingNamespace();
    const store = new AgentStateStore(cluster.client, namespace);
    expect(await store.ensureNamespace()).toBe('created');
    const live = await cluster.client.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
    expect(live?.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'flotilla-agent', 'app.kubernetes.io/part-of': 'flotilla' });
    expect(await store.ensureNamespace()).toBe('exists');
    // What bootstrap writes first now has somewhere to go.
    await store.saveIdentity({ key: { keyId: 'k', privateJwk: {}, publicJwk: {} } as never, identity: null, nextKey: null });
    expect((await store.loadIdentity())?.identity).toBeNull();
  });

  it('is created once when several agents start at the same moment, and none of them fails', async () => {
    const namespace = missingNamespace();
    const results = await Promise.all(Array.from({ length: 6 }, () => new AgentStateStore(cluster.client, namespace).ensureNamespace()));
    expect(results.filter((result) => result === 'created')).toHaveLength(1);
    expect(results.filter((result) => result === 'exists')).toHaveLength(5);
  });

  it('fails in one sentence naming the namespace and the permission when RBAC forbids creating it', async () => {
    // A service account that may read Namespaces but not create them.
    await cluster.client.request('POST', `/api/v1/namespaces/${home}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'agent' } } });
    const role: KubeObject = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: readerRole }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }] };
    const binding: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: readerRole },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: readerRole },
      subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: home }],
    };
    for (const object of [role, binding]) await cluster.client.apply(object, { fieldManager: 'flotilla-test', force: true });
    const tokenRequest = await cluster.client.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${home}/serviceaccounts/agent/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    });
    // The cluster's address and CA from the kubeconfig, the service account's token instead of the admin's.
    const asAgent = new KubeClient({
      ...(await kubeconfigConnection(cluster.kubeconfigPath)),
      credentials: async () => ({ headers: { Authorization: `Bearer ${tokenRequest!.status.token}` } }),
    });
    try {
      const namespace = missingNamespace();
      const store = new AgentStateStore(asAgent, namespace);
      // RBAC is eventually consistent in the apiserver's cache: the reader role may take a moment.
      let failure: unknown;
      for (let attempt = 0; attempt < 20; attempt++) {
        failure = await store.ensureNamespace().catch((error: unknown) => error);
        if (failure instanceof NamespaceError) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(failure).toBeInstanceOf(NamespaceError);
      expect((failure as Error).message).toBe(
        `namespace "${namespace}" does not exist and the agent's credentials may not create it: grant "create" on namespaces, create it (kubectl create namespace ${namespace}), or set FLOTILLA_NAMESPACE to one that exists`,
      );
      expect(await cluster.client.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace })).toBeNull();
    } finally {
      asAgent.close();
    }
  });
});
