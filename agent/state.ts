// What the agent keeps in its own namespace so a restart needs nothing but the cluster: its key pair
// and identity (a Secret; the control plane never sees the private key), and the last desired state
// it received (a ConfigMap), so reconciling goes on while the control plane is unreachable.
import { KubeApiError, type KubeClient } from './kube/client.ts';
import type { AgentKeyPair } from '../lib/agent-auth.ts';
import { AgentIdentity, DesiredState } from '../lib/api/schemas.ts';
import type { Identity } from './control-plane.ts';
import { FIELD_MANAGER } from './ownership.ts';

export const IDENTITY_SECRET = 'flotilla-agent-identity';
export const DESIRED_STATE_CONFIGMAP = 'flotilla-agent-desired-state';

export interface StoredIdentity {
  key: AgentKeyPair;
  /** Absent between generating the key and the control plane accepting it. */
  identity: Identity | null;
  /** A rotation in flight: the new key, kept until the control plane confirmed it. */
  nextKey: AgentKeyPair | null;
}

export interface StoredDesiredState {
  state: DesiredState;
  etag: string | null;
}

/** The agent's namespace is missing and its credentials may not create it. */
export class NamespaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NamespaceError';
  }
}

export class AgentStateStore {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
  ) {}

  /**
   * Creates the agent's namespace when it is missing — run from a laptop with a kubeconfig nobody
   * installed anything with — labelled as agent/deploy/namespace.yaml labels it. Several agents
   * starting at once are fine: one create wins, the others see AlreadyExists. Credentials that may
   * not read Namespaces (an install that created it) are left to find out on first use.
   */
  async ensureNamespace(): Promise<'exists' | 'created'> {
    const path = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}`;
    try {
      if (await this.client.request('GET', path, { allowStatus: [404] })) return 'exists';
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 403) return 'exists';
      throw error;
    }
    const namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: this.namespace, labels: { 'app.kubernetes.io/name': 'flotilla-agent', 'app.kubernetes.io/part-of': 'flotilla' } },
    };
    try {
      await this.client.request('POST', '/api/v1/namespaces', { body: namespace });
      return 'created';
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) return 'exists';
      if (error instanceof KubeApiError && error.status === 403) {
        throw new NamespaceError(
          `namespace "${this.namespace}" does not exist and the agent's credentials may not create it: grant "create" on namespaces, create it (kubectl create namespace ${this.namespace}), or set FLOTILLA_NAMESPACE to one that exists`,
        );
      }
      throw error;
    }
  }

  async loadIdentity(): Promise<StoredIdentity | null> {
    const secret = await this.client.get({ apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: IDENTITY_SECRET });
    const data = secret?.['data'] as Record<string, string> | undefined;
    if (!data?.['key']) return null;
    const decode = (name: string): unknown => {
      const value = data[name];
      return value ? JSON.parse(Buffer.from(value, 'base64').toString('utf8')) : null;
    };
    const identity = decode('identity');
    return {
      key: decode('key') as AgentKeyPair,
      identity: identity ? AgentIdentity.parse(identity) : null,
      nextKey: (decode('nextKey') as AgentKeyPair | null) ?? null,
    };
  }

  async saveIdentity(stored: StoredIdentity): Promise<void> {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
    const data: Record<string, string> = { key: encode(stored.key) };
    if (stored.identity) data['identity'] = encode(stored.identity);
    if (stored.nextKey) data['nextKey'] = encode(stored.nextKey);
    await this.client.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: IDENTITY_SECRET, namespace: this.namespace, labels: { 'app.kubernetes.io/name': 'flotilla-agent' } },
        type: 'Opaque',
        data,
      },
      { fieldManager: FIELD_MANAGER, force: true },
    );
  }

  async loadDesiredState(): Promise<StoredDesiredState | null> {
    const configMap = await this.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name: DESIRED_STATE_CONFIGMAP });
    const data = configMap?.['data'] as Record<string, string> | undefined;
    if (!data?.['state']) return null;
    return { state: DesiredState.parse(JSON.parse(data['state'])), etag: data['etag'] || null };
  }

  async saveDesiredState(stored: StoredDesiredState): Promise<void> {
    await this.client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: DESIRED_STATE_CONFIGMAP, namespace: this.namespace, labels: { 'app.kubernetes.io/name': 'flotilla-agent' } },
        data: { state: JSON.stringify(stored.state), etag: stored.etag ?? '' },
      },
      { fieldManager: FIELD_MANAGER, force: true },
    );
  }
}
