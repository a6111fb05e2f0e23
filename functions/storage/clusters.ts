// Clusters, as three kinds of item in the cluster's partition (CLUSTER#<name>): the cluster itself
// (#CLUSTER: spec, agent key, revocation, suspension), its heartbeat and report bookkeeping
// (#STATUS), and one item per app it runs (STATUS#<app>). Each is written on its own occasion, so
// none grows with what the others hold: a check-in reads one small item, a heartbeat writes one.
import type { JWK } from 'jose';
import {
  EMPTY_STATUS,
  newClusterRecord,
  type AppStatusRecord,
  type ClusterRecord,
  type ClusterSpec,
  type ClusterState,
  type ClusterStatusRecord,
  type ReportClaim,
  type ReportOrder,
  type Suspension,
} from '../model.ts';
import { clusterPartition, collections, keys, prefixes } from './keys.ts';
import { attributeFilter, strip, type CollectionPage, type Item, type Table } from './table.ts';

/** Who revoked a cluster, when and why, and the id of the revocation's event. */
export interface Revocation {
  by: string;
  reason: string;
  at: Date;
  eventId: string;
}

/** What a stored report writes on #STATUS once the app statuses are in place. */
export interface StoredReport {
  statusHash: string;
  reportKey: string;
  at: string;
  order: ReportOrder;
  pendingEvents: string | null;
}

const CLUSTER_FIELDS = ['name', 'environment', 'region', 'labels', 'createdAt', 'publicKey', 'keyId', 'revoked', 'revokedAt', 'revocation', 'suspended', 'suspendedApps'] as const;

/** The cluster's own fields (items written by older releases also carried the status here). */
function clusterOf(item: Item | null): ClusterRecord | null {
  if (!item) return null;
  return Object.fromEntries(CLUSTER_FIELDS.filter((field) => field in item).map((field) => [field, item[field]])) as unknown as ClusterRecord;
}

/** The condition that a report comes after the last stored one. */
function orderCondition(order: ReportOrder): { expression: string; names: Record<string, string>; values: Item } {
  return order.seq === undefined
    ? { expression: '(attribute_not_exists(#reportIssuedAt) OR #reportIssuedAt <= :issuedAt)', names: { '#reportIssuedAt': 'reportIssuedAt' }, values: { ':issuedAt': order.issuedAt } }
    : { expression: '(attribute_not_exists(#reportSeq) OR #reportSeq < :seq)', names: { '#reportSeq': 'reportSeq' }, values: { ':seq': order.seq } };
}

export class ClusterStorage {
  /**
   * Clusters as agents' requests last read them, per process (a warm Lambda keeps them): a check-in
   * then reads nothing. Writes through this process drop the entry; another process's show within
   * the age its reader allows. Only clusters that exist are kept, at most MAX_CACHED.
   */
  private readonly cache = new Map<string, { cluster: ClusterRecord; readAt: number }>();
  private static readonly MAX_CACHED = 50_000;

  constructor(private readonly table: Table) {}

  /** The cluster as read at most `maxAgeMs` ago by this process (0: read now). */
  async getCached(name: string, now: number, maxAgeMs: number): Promise<ClusterRecord | null> {
    const cached = this.cache.get(name);
    if (cached && now - cached.readAt < maxAgeMs && now >= cached.readAt) return cached.cluster;
    const cluster = await this.get(name);
    this.cache.delete(name);
    if (cluster && maxAgeMs > 0) {
      if (this.cache.size >= ClusterStorage.MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(name, { cluster, readAt: now });
    }
    return cluster;
  }

  /** Drops what this process holds of the cluster (it was written, or a request proved it stale). */
  forget(name: string): void {
    this.cache.delete(name);
  }

  /** Creates the cluster, or updates the spec of an existing one; says whether it is new and what it was. */
  async put(name: string, spec: ClusterSpec, now: string): Promise<{ cluster: ClusterRecord; created: boolean; previous: ClusterRecord | null }> {
    this.forget(name);
    const fresh = newClusterRecord(name, spec, now);
    if (await this.table.create({ ...keys.cluster(name), type: 'cluster', gsi1pk: collections.clusters, gsi1sk: name, ...fresh })) {
      return { cluster: fresh, created: true, previous: null };
    }
    const previous = await this.get(name, true);
    await this.table.set(keys.cluster(name), { ...spec });
    return { cluster: (await this.get(name, true))!, created: false, previous };
  }

  async get(name: string, consistent = false): Promise<ClusterRecord | null> {
    return clusterOf(await this.table.get<Item>(keys.cluster(name), consistent));
  }

  /** The cluster, its status and its apps' statuses: one query of its partition. */
  async state(name: string, consistent = true): Promise<ClusterState | null> {
    const items = await this.table.query({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': clusterPartition(name) }, ConsistentRead: consistent });
    const cluster = clusterOf(items.find((item) => item.sk === keys.cluster(name).sk) ?? null);
    if (!cluster) return null;
    const status = items.find((item) => item.sk === keys.clusterStatus(name).sk);
    const apps = items.filter((item) => String(item.sk).startsWith(prefixes.appStatus)).map((item) => strip<AppStatusRecord>(item));
    return { cluster, status: status ? { ...EMPTY_STATUS, ...strip<ClusterStatusRecord>(status) } : { ...EMPTY_STATUS }, apps: Object.fromEntries(apps.map((app) => [app.app, app])) };
  }

  /** A page of clusters, optionally of one environment and region. */
  async listPage(page: CollectionPage & { environment?: string; region?: string }): Promise<{ items: ClusterRecord[]; next: (Item & { pk: string; sk: string }) | null }> {
    const { items, next } = await this.table.collectionPage<Item>(collections.clusters, { ...page, filter: attributeFilter({ environment: page.environment, region: page.region }) });
    return { items: items.map((item) => clusterOf(item)!), next };
  }

  /** Every cluster of an environment, page by page. */
  async allIn(environment: string): Promise<ClusterRecord[]> {
    const clusters: ClusterRecord[] = [];
    let start: Item | undefined;
    do {
      const page = await this.listPage({ limit: 1000, start, environment });
      clusters.push(...page.items);
      start = page.next ?? undefined;
    } while (start);
    return clusters;
  }

  status(name: string, consistent = false): Promise<ClusterStatusRecord> {
    return this.table.get<ClusterStatusRecord>(keys.clusterStatus(name), consistent).then((status) => ({ ...EMPTY_STATUS, ...status }));
  }

  /** The #STATUS items of many clusters (BatchGetItem, 100 at a time). */
  async statuses(names: string[]): Promise<Map<string, ClusterStatusRecord>> {
    const items = await this.table.getMany(names.map((name) => keys.clusterStatus(name)));
    return new Map(items.map((item) => [String(item.pk).slice('CLUSTER#'.length), { ...EMPTY_STATUS, ...strip<ClusterStatusRecord>(item) }]));
  }

  /** One app's status item on each of the named clusters that reported it (BatchGetItem, 100 at a time). */
  async appStatusesOf(names: string[], app: string): Promise<Map<string, AppStatusRecord>> {
    const items = await this.table.getMany(names.map((name) => keys.appStatus(name, app)));
    return new Map(items.map((item) => strip<AppStatusRecord>(item)).map((status) => [status.cluster, status]));
  }

  /** The status of one app on every cluster of an environment that reported it (optionally one region). */
  async appStatuses(environment: string, app: string, region?: string): Promise<AppStatusRecord[]> {
    const items = await this.table.query({
      IndexName: 'byCollection',
      KeyConditionExpression: region ? 'gsi1pk = :pk AND begins_with(gsi1sk, :region)' : 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': collections.appStatuses(environment, app), ...(region ? { ':region': `${region}#` } : {}) },
    });
    return items.map((item) => strip<AppStatusRecord>(item));
  }

  /**
   * Installs the key of a registering agent, whose registration token was issued at `tokenIssuedAt`
   * (seconds): only if the cluster was not revoked since, so a revocation racing a registration
   * with an older token always wins.
   */
  register(name: string, publicKey: JWK, keyId: string, tokenIssuedAt: number): Promise<boolean> {
    this.forget(name);
    return this.table.set(keys.cluster(name), { publicKey, keyId, revoked: false }, 'attribute_exists(pk) AND (attribute_not_exists(#revokedAt) OR #revokedAt < :issuedAt)', {
      values: { ':issuedAt': tokenIssuedAt },
      names: { '#revokedAt': 'revokedAt' },
    });
  }

  /** Replaces the agent key, only if `expectedKeyId` is still current and the cluster is not revoked. */
  rotateKey(name: string, publicKey: JWK, keyId: string, expectedKeyId: string): Promise<boolean> {
    this.forget(name);
    return this.table.set(keys.cluster(name), { publicKey, keyId }, '#keyId = :old AND #revoked = :false', {
      values: { ':old': expectedKeyId, ':false': false },
      names: { '#keyId': 'keyId', '#revoked': 'revoked' },
    });
  }

  /**
   * Revokes the cluster: its agent is refused from now on, and registration tokens issued up to
   * `at` are void. The key stays on the item (flagged revoked) so an agent that still signs with it
   * can be told plainly that it is revoked; nobody else learns it. A repeated revocation keeps the
   * first time (idempotent); null if the cluster does not exist.
   */
  async revoke(name: string, revocation: Revocation): Promise<ClusterRecord | null> {
    this.forget(name);
    await this.table.set(keys.cluster(name), { revoked: true, revokedAt: Math.floor(revocation.at.getTime() / 1000), revocation: { ...revocation, at: revocation.at.toISOString() } }, 'attribute_exists(pk) AND #revoked = :false', {
      values: { ':false': false },
      names: { '#revoked': 'revoked' },
    });
    // Not written: already revoked (the first time stands), or absent (null).
    return this.get(name, true);
  }

  /** Suspends (or with null resumes) the whole cluster, or one app on it. */
  setSuspension(name: string, app: string | undefined, suspension: Suspension | null): Promise<boolean> {
    this.forget(name);
    const key = keys.cluster(name);
    if (!app) return this.table.set(key, { suspended: suspension });
    // suspendedApps always exists (created with the cluster), so a nested path can be set or removed.
    const names = { '#apps': 'suspendedApps', '#app': app };
    return suspension
      ? this.table.update(key, 'SET #apps.#app = :s', names, { ':s': suspension }, 'attribute_exists(pk)')
      : this.table.update(key, 'REMOVE #apps.#app', names, {}, 'attribute_exists(pk)');
  }

  /** The heartbeat: one small item, one write unit. */
  async recordHeartbeat(name: string, at: string): Promise<void> {
    await this.table.set(keys.clusterStatus(name), { lastSeen: at }, null);
  }

  /**
   * Claims the right to store a report: only if it is newer than the stored one and no other report
   * is being stored — unless that one has the same content (this is its retry) or its claim lapsed
   * (its writer died) — and only if no report was stored since `seenHash` was read. Claims
   * serialize the writes of a cluster's app statuses without a lock table.
   */
  claimReport(name: string, claim: ReportClaim, order: ReportOrder, seenHash: string | null, now: number): Promise<boolean> {
    const ordered = orderCondition(order);
    const unchanged = seenHash === null ? '(attribute_not_exists(#statusHash) OR #statusHash = :null)' : '#statusHash = :seen';
    return this.table.set(keys.clusterStatus(name), { claim }, `${ordered.expression} AND ${unchanged} AND (attribute_not_exists(#claim) OR #claim.#until < :now OR #claim.#hash = :hash)`, {
      values: { ...ordered.values, ':now': now, ':hash': claim.hash, ...(seenHash === null ? { ':null': null } : { ':seen': seenHash }) },
      names: { ...ordered.names, '#claim': 'claim', '#until': 'until', '#hash': 'hash', '#statusHash': 'statusHash' },
    });
  }

  putAppStatus(environment: string, status: AppStatusRecord): Promise<void> {
    return this.table.put({
      ...keys.appStatus(status.cluster, status.app),
      type: 'app-status',
      gsi1pk: collections.appStatuses(environment, status.app),
      gsi1sk: `${status.region}#${status.cluster}`,
      ...status,
    });
  }

  deleteAppStatus(name: string, app: string): Promise<void> {
    return this.table.delete(keys.appStatus(name, app));
  }

  /** Records the stored report (its outbox to flush) and releases the claim, if the claim is still this report's. */
  finishReport(name: string, claimId: string, report: StoredReport): Promise<boolean> {
    const names = { '#claim': 'claim', '#id': 'id' };
    const values: Item = {
      ':statusHash': report.statusHash,
      ':reportKey': report.reportKey,
      ':at': report.at,
      ':issuedAt': report.order.issuedAt,
      ':pending': report.pendingEvents,
      ':claimId': claimId,
      ...(report.order.seq === undefined ? {} : { ':seq': report.order.seq }),
    };
    const sets = ['statusHash = :statusHash', 'reportKey = :reportKey', 'reportedAt = :at', 'lastSeen = :at', 'reportIssuedAt = :issuedAt', 'pendingEvents = :pending', ...(report.order.seq === undefined ? [] : ['reportSeq = :seq'])];
    return this.table.update(keys.clusterStatus(name), `SET ${sets.join(', ')} REMOVE #claim`, names, values, '#claim.#id = :claimId');
  }

  /** Empties the outbox once its events are in the table, unless a newer report filled it again. */
  clearPendingEvents(name: string, key: string): Promise<boolean> {
    return this.table.set(keys.clusterStatus(name), { pendingEvents: null }, '#pending = :key', { values: { ':key': key }, names: { '#pending': 'pendingEvents' } });
  }
}
