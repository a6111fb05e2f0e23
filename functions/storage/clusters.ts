// Clusters (CLUSTER#<name> / #CLUSTER): spec, agent key, suspension, heartbeat and status summary.
import type { JWK } from 'jose';
import { newClusterRecord, type ClusterRecord, type ClusterSpec, type ClusterStatus, type Suspension } from '../model.ts';
import { collections, keys } from './keys.ts';
import type { Table } from './table.ts';

export class ClusterStorage {
  constructor(private readonly table: Table) {}

  /** Creates the cluster, or updates the spec of an existing one; says whether it is new. */
  async put(name: string, spec: ClusterSpec, now: string): Promise<{ cluster: ClusterRecord; created: boolean }> {
    const fresh = newClusterRecord(name, spec, now);
    if (await this.table.create({ ...keys.cluster(name), type: 'cluster', gsi1pk: collections.clusters, gsi1sk: name, ...fresh })) {
      return { cluster: fresh, created: true };
    }
    await this.table.set(keys.cluster(name), { ...spec });
    return { cluster: (await this.get(name, true))!, created: false };
  }

  get(name: string, consistent = false) {
    return this.table.get<ClusterRecord>(keys.cluster(name), consistent);
  }

  list() {
    return this.table.collection<ClusterRecord>(collections.clusters);
  }

  /** Installs an agent key. With `expectedKeyId`, only if that key is still current (rotation). */
  setKey(name: string, publicKey: JWK, keyId: string, expectedKeyId?: string): Promise<boolean> {
    if (!expectedKeyId) return this.table.set(keys.cluster(name), { publicKey, keyId, revoked: false });
    return this.table.set(keys.cluster(name), { publicKey, keyId }, '#keyId = :old AND #revoked = :false', {
      values: { ':old': expectedKeyId, ':false': false },
      names: { '#keyId': 'keyId', '#revoked': 'revoked' },
    });
  }

  revoke(name: string, at: Date): Promise<boolean> {
    return this.table.set(keys.cluster(name), { revoked: true, revokedAt: Math.floor(at.getTime() / 1000), publicKey: null, keyId: null });
  }

  /** Suspends (or with null resumes) the whole cluster, or one app on it. */
  setSuspension(name: string, app: string | undefined, suspension: Suspension | null): Promise<boolean> {
    const key = keys.cluster(name);
    if (!app) return this.table.set(key, { suspended: suspension });
    // suspendedApps always exists (created with the cluster), so a nested path can be set or removed.
    const names = { '#apps': 'suspendedApps', '#app': app };
    return suspension
      ? this.table.update(key, 'SET #apps.#app = :s', names, { ':s': suspension }, 'attribute_exists(pk)')
      : this.table.update(key, 'REMOVE #apps.#app', names, {}, 'attribute_exists(pk)');
  }

  recordHeartbeat(name: string, at: string): Promise<boolean> {
    return this.table.set(keys.cluster(name), { lastSeen: at });
  }

  recordStatus(name: string, status: ClusterStatus): Promise<boolean> {
    return this.table.set(keys.cluster(name), {
      apps: status.apps,
      statusHash: status.statusHash,
      reportKey: status.reportKey,
      reportedAt: status.at,
      reportIssuedAt: status.issuedAt,
      lastSeen: status.at,
    });
  }
}
