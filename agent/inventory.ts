// Inventory per app, kept in the cluster as a ConfigMap in the agent's namespace: which objects the
// app's last apply owned (stable ids plus API version, for prune), and a hash of each object as
// applied, so a later difference on an object whose desired content did not change is drift.
import { createHash } from 'node:crypto';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { FIELD_MANAGER } from './ownership.ts';
import { inventoryIdOf, type ObjectRef } from './ssa/objects.ts';

export interface InventoryEntry {
  /** `<ns>_<name>_<group>_<kind>` */
  id: string;
  /** API version the object was applied with, e.g. `apps/v1` (needed to address it for prune). */
  v: string;
  /** sha256 of the object as applied. */
  h: string;
}

export interface Inventory {
  app: string;
  version: string;
  digest: string;
  entries: InventoryEntry[];
  /** The app's `prune` setting when this was recorded: false leaves its objects in place when the app goes. */
  prune: boolean;
}

export const INVENTORY_LABEL = 'app.flotilla.dev/inventory-of';

/** Stable across key order, so the same manifest always hashes the same. */
export function hashObject(object: KubeObject): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return createHash('sha256').update(JSON.stringify(canonical(object))).digest('hex').slice(0, 32);
}

export function entryOf(object: KubeObject): InventoryEntry {
  return { id: inventoryIdOf(object), v: object.apiVersion, h: hashObject(object) };
}

export function refOfEntry(entry: InventoryEntry): ObjectRef {
  const [namespace = '', name = '', , kind = ''] = entry.id.split('_');
  return { apiVersion: entry.v, kind, namespace, name };
}

/** Entries of `previous` that are not in `next`: what prune deletes. */
export function staleEntries(previous: InventoryEntry[], next: InventoryEntry[]): InventoryEntry[] {
  const kept = new Set(next.map((entry) => entry.id));
  return previous.filter((entry) => !kept.has(entry.id));
}

export class InventoryStore {
  constructor(
    private readonly client: KubeClient,
    /** The agent's own namespace: its inventories, identity and desired state live here. */
    readonly namespace: string,
  ) {}

  private nameOf(app: string): string {
    return `flotilla-inventory-${app}`;
  }

  async get(app: string): Promise<Inventory | null> {
    const configMap = await this.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name: this.nameOf(app) });
    const data = configMap?.['data'] as Record<string, string> | undefined;
    if (!data?.['entries']) return null;
    return {
      app,
      version: data['version'] ?? '',
      digest: data['digest'] ?? '',
      entries: JSON.parse(data['entries']) as InventoryEntry[],
      prune: data['prune'] !== 'false',
    };
  }

  async put(inventory: Inventory): Promise<void> {
    await this.client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: this.nameOf(inventory.app), namespace: this.namespace, labels: { [INVENTORY_LABEL]: inventory.app } },
        data: {
          version: inventory.version,
          digest: inventory.digest,
          entries: JSON.stringify(inventory.entries),
          prune: String(inventory.prune),
        },
      },
      { fieldManager: FIELD_MANAGER, force: true },
    );
  }

  async delete(app: string): Promise<void> {
    await this.client.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name: this.nameOf(app) });
  }

  /** Apps that have an inventory in this cluster, including ones no longer desired. */
  async apps(): Promise<string[]> {
    const list = await this.client.request<{ items: KubeObject[] }>('GET', `/api/v1/namespaces/${this.namespace}/configmaps`, {
      query: { labelSelector: INVENTORY_LABEL },
    });
    return (list?.items ?? []).map((item) => item.metadata.labels?.[INVENTORY_LABEL] ?? '').filter(Boolean).sort();
  }
}
