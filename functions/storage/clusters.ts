// Clusters (CLUSTER#<name> / #CLUSTER): spec, agent key, suspension, heartbeat and status summary.
import type { JWK } from 'jose';
import { newClusterRecord, type ClusterRecord, type ClusterSpec, type ClusterStatus, type Suspension } from '../model.ts';

/** Who revoked a cluster, when and why, and the id of the revocation's event. */
export interface Revocation {
  by: string;
  reason: string;
  at: Date;
  eventId: string;
}
import { collections, keys } from './keys.ts';
import { attributeFilter, type CollectionPage, type Table } from './table.ts';

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

  /** Every cluster (the fleet view needs them all). */
  list() {
    return this.table.collection<ClusterRecord>(collections.clusters);
  }

  /** A page of clusters, optionally of one environment and region. */
  listPage(page: CollectionPage & { environment?: string; region?: string }) {
    return this.table.collectionPage<ClusterRecord>(collections.clusters, { ...page, filter: attributeFilter({ environment: page.environment, region: page.region }) });
  }

  /**
   * Installs the key of a registering agent, whose registration token was issued at `tokenIssuedAt`
   * (seconds): only if the cluster was not revoked since, so a revocation racing a registration
   * with an older token always wins.
   */
  register(name: string, publicKey: JWK, keyId: string, tokenIssuedAt: number): Promise<boolean> {
    return this.table.set(keys.cluster(name), { publicKey, keyId, revoked: false }, 'attribute_exists(pk) AND (attribute_not_exists(#revokedAt) OR #revokedAt < :issuedAt)', {
      values: { ':issuedAt': tokenIssuedAt },
      names: { '#revokedAt': 'revokedAt' },
    });
  }

  /** Replaces the agent key, only if `expectedKeyId` is still current and the cluster is not revoked. */
  rotateKey(name: string, publicKey: JWK, keyId: string, expectedKeyId: string): Promise<boolean> {
    return this.table.set(keys.cluster(name), { publicKey, keyId }, '#keyId = :old AND #revoked = :false', {
      values: { ':old': expectedKeyId, ':false': false },
      names: { '#keyId': 'keyId', '#revoked': 'revoked' },
    });
  }

  /**
   * Revokes the cluster: its agent is refused from now on, and registration tokens issued up to
   * `at` are void. The key stays on the item (flagged revoked) so an agent that still signs with it
   * can be told plainly that it is revoked; nobody else learns it. A repeated revocation keeps the
   * first time (idempotent); false if the cluster does not exist.
   */
  async revoke(name: string, revocation: Revocation): Promise<ClusterRecord | null> {
    const first = await this.table.set(keys.cluster(name), { revoked: true, revokedAt: Math.floor(revocation.at.getTime() / 1000), revocation: { ...revocation, at: revocation.at.toISOString() } }, 'attribute_exists(pk) AND #revoked = :false', {
      values: { ':false': false },
      names: { '#revoked': 'revoked' },
    });
    // Not first: already revoked (the first time stands), or absent (null).
    return first || (await this.table.get<ClusterRecord>(keys.cluster(name), true)) ? this.get(name, true) : null;
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
    return this.table.set(keys.cluster(name), { lastSeen: at }, 'attribute_exists(pk) AND #revoked = :false', { values: { ':false': false }, names: { '#revoked': 'revoked' } });
  }

  /**
   * Stores a report's status, only if the cluster is not revoked and the report is newer than the
   * stored one: by the agent's counter when both have one, else by the second it was signed.
   */
  recordStatus(name: string, status: ClusterStatus): Promise<boolean> {
    const order =
      status.seq === undefined
        ? '(attribute_not_exists(#reportIssuedAt) OR #reportIssuedAt <= :issuedAt)'
        : '(attribute_not_exists(#reportSeq) OR #reportSeq < :seq)';
    const condition = `attribute_exists(pk) AND #revoked = :false AND ${order}`;
    const extra = {
      values: { ':false': false, ...(status.seq === undefined ? { ':issuedAt': status.issuedAt } : { ':seq': status.seq }) },
      names: { '#revoked': 'revoked', ...(status.seq === undefined ? { '#reportIssuedAt': 'reportIssuedAt' } : { '#reportSeq': 'reportSeq' }) },
    };
    return this.table.set(keys.cluster(name), {
      apps: status.apps,
      statusHash: status.statusHash,
      reportKey: status.reportKey,
      reportedAt: status.at,
      reportIssuedAt: status.issuedAt,
      ...(status.seq === undefined ? {} : { reportSeq: status.seq }),
      pendingEvents: status.pendingEvents,
      lastSeen: status.at,
    }, condition, extra);
  }

  /** Empties the outbox once its events are in the table, unless a newer report filled it again. */
  clearPendingEvents(name: string, key: string): Promise<boolean> {
    return this.table.set(keys.cluster(name), { pendingEvents: null }, '#pending = :key', { values: { ':key': key }, names: { '#pending': 'pendingEvents' } });
  }
}
