// Clusters: registration by admins, break-glass suspension, the API view and the drift view.
import type { AgentReport, Cluster, ClusterDrift, ClusterSpec, RegistrationToken } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { LIMITS } from '../../lib/limits.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { ClusterRecord, Suspension } from '../model.ts';
import { collections } from '../storage/keys.ts';
import { newEventId, recordEvent } from './events.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';
import { isStale } from './fleet.ts';
import { isSuspensionActive, selectorMatches } from './resolve.ts';
import type { RolloutClusterView } from './waves.ts';

/** How far back the drift view lists drift events. */
const RECENT_DRIFT_MS = 7 * 86_400_000;
const RECENT_DRIFT_EVENTS = 50;

/** The API view of a stored cluster: no key material, no bookkeeping, staleness derived now. */
export function clusterView(cluster: ClusterRecord, services: Services): Cluster {
  return {
    name: cluster.name,
    environment: cluster.environment,
    region: cluster.region,
    labels: cluster.labels,
    createdAt: cluster.createdAt,
    registered: cluster.keyId !== null,
    revoked: cluster.revoked,
    keyId: cluster.keyId,
    suspended: cluster.suspended,
    suspendedApps: cluster.suspendedApps,
    lastSeen: cluster.lastSeen,
    stale: isStale(cluster, services.now(), services.config.staleAfterSeconds),
    apps: Object.fromEntries(Object.entries(cluster.apps).map(([name, { driftDigest: _driftDigest, ...summary }]) => [name, summary])),
  };
}

export async function requireCluster(services: Services, name: string): Promise<ClusterRecord> {
  const cluster = await services.storage.clusters.get(name, true);
  if (!cluster) throw notFound(`cluster ${name}`);
  return cluster;
}

export async function getCluster(services: Services, name: string): Promise<Cluster> {
  return clusterView(await requireCluster(services, name), services);
}

export async function listClusters(services: Services, query: PageRequest & { environment?: string; region?: string }): Promise<Page<Cluster>> {
  const start = decodeCursor(query.cursor, collections.clusters);
  const { items, next } = await services.storage.clusters.listPage({ limit: query.limit, start, environment: query.environment, region: query.region });
  return { items: items.map((cluster) => clusterView(cluster, services)), nextCursor: encodeCursor(next) };
}

export async function saveCluster(services: Services, actor: string, name: string, spec: ClusterSpec): Promise<{ cluster: Cluster; created: boolean }> {
  const { storage } = services;
  if (!(await storage.environments.get(spec.environment))) throw notFound(`environment ${spec.environment}`);
  const { cluster, created } = await storage.clusters.put(name, spec, services.now().toISOString());
  await recordEvent(services, {
    type: created ? 'cluster.created' : 'cluster.updated',
    actor,
    cluster: name,
    environment: spec.environment,
    region: spec.region,
    message: `${actor} ${created ? 'created' : 'updated'} cluster ${name} (${spec.environment}/${spec.region})`,
  });
  return { cluster: clusterView(cluster, services), created };
}

/** A one-time, short-lived token the cluster's agent exchanges for its own key. */
export async function issueRegistrationToken(services: Services, actor: string, name: string): Promise<RegistrationToken> {
  const cluster = await requireCluster(services, name);
  const minted = await services.tokens.mintRegistrationToken(name, services.config.registrationTokenTtlSeconds);
  await services.storage.tokens.putRegistrationToken(minted.id, name, minted.expiresAt);
  await recordEvent(services, {
    type: 'cluster.registration-token-issued',
    actor,
    cluster: name,
    environment: cluster.environment,
    message: `${actor} issued a registration token for cluster ${name}`,
  });
  return { token: minted.token, expiresAt: minted.expiresAt.toISOString(), cluster: name };
}

/** Removes the agent key and voids registration tokens issued before now. */
export async function revokeCluster(services: Services, actor: string, name: string, reason: string): Promise<Cluster> {
  const now = services.now();
  const cluster = await services.storage.clusters.revoke(name, { by: actor, reason, at: now, eventId: newEventId(now) });
  if (!cluster) throw notFound(`cluster ${name}`);
  // Revoking again changes nothing and repairs the event of the revocation that stands.
  const revocation = cluster.revocation;
  if (cluster.revoked && revocation) {
    await recordEvent(
      services,
      {
        type: 'cluster.revoked',
        actor: revocation.by,
        cluster: name,
        environment: cluster.environment,
        message: `${revocation.by} revoked cluster ${name}: ${revocation.reason}`,
        at: revocation.at,
      },
      revocation.eventId,
    );
  }
  return clusterView(cluster, services);
}

/**
 * Break-glass: suspend (drift is reported, not corrected) or resume the cluster or one app on it.
 * Idempotent: a suspension again with the same reason and end keeps the one in force (and its
 * event); resuming what is not suspended changes nothing.
 */
export async function setSuspension(
  services: Services,
  actor: string,
  cluster: ClusterRecord,
  input: { suspend: boolean; reason: string; app?: string; until?: string },
): Promise<Cluster> {
  const now = services.now();
  if (input.until && !(Date.parse(input.until) > now.getTime())) throw badRequest('body.until: must be a time in the future');
  if (input.app) {
    if (!(await services.storage.apps.get(input.app))) throw notFound(`app ${input.app}`);
    if (input.suspend && !Object.hasOwn(cluster.suspendedApps, input.app) && Object.keys(cluster.suspendedApps).length >= LIMITS.maxSuspendedApps) {
      throw conflict(`at most ${LIMITS.maxSuspendedApps} apps of one cluster may be suspended one by one; suspend the cluster`);
    }
  }
  const current = input.app ? (Object.hasOwn(cluster.suspendedApps, input.app) ? cluster.suspendedApps[input.app]! : null) : cluster.suspended;
  const active = isSuspensionActive(current, now) ? current : null;
  const same = input.suspend && active && active.reason === input.reason && active.until === (input.until ?? null);
  if (!input.suspend && !active) return clusterView(cluster, services);
  const suspension: Suspension | null = same
    ? active
    : input.suspend
      ? { by: actor, reason: input.reason, at: now.toISOString(), until: input.until ?? null, eventId: newEventId(now) }
      : null;
  if (!same) await services.storage.clusters.setSuspension(cluster.name, input.app, suspension);
  const target = input.app ? `app ${input.app} on cluster ${cluster.name}` : `cluster ${cluster.name}`;
  const event = {
    type: input.suspend ? 'cluster.suspended' : 'cluster.resumed',
    actor: suspension?.by ?? actor,
    cluster: cluster.name,
    app: input.app,
    environment: cluster.environment,
    region: cluster.region,
    message: `${suspension?.by ?? actor} ${input.suspend ? 'suspended' : 'resumed'} ${target}: ${suspension?.reason ?? input.reason}`,
    data: { until: suspension?.until ?? null },
  };
  if (suspension?.eventId) await recordEvent(services, { ...event, at: suspension.at }, suspension.eventId);
  else await recordEvent(services, event);
  return getCluster(services, cluster.name);
}

/** The latest full report (from S3) and the recent drift events of the cluster. */
export async function clusterDrift(services: Services, name: string): Promise<ClusterDrift> {
  const { storage } = services;
  const cluster = await requireCluster(services, name);
  const until = services.now();
  const [report, { events }] = await Promise.all([
    cluster.reportKey ? storage.reports.get<AgentReport>(cluster.reportKey) : null,
    storage.events.query({
      cluster: name,
      typePrefix: 'drift.',
      since: new Date(until.getTime() - RECENT_DRIFT_MS).toISOString(),
      until: until.toISOString(),
      limit: RECENT_DRIFT_EVENTS,
      order: 'desc',
    }),
  ]);
  return { cluster: name, reportedAt: cluster.reportedAt, apps: report?.apps ?? [], events };
}

/** The clusters of an environment that run the app (its selector), every page. */
export async function clustersRunning(services: Services, environment: string, selector: Record<string, string> | undefined): Promise<ClusterRecord[]> {
  const clusters: ClusterRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await services.storage.clusters.listPage({ limit: 1000, start, environment });
    clusters.push(...page.items);
    start = page.next ?? undefined;
  } while (start);
  return clusters.filter((cluster) => selectorMatches(selector, cluster.labels));
}

/** A cluster as the gates and waves see it: where it is and how the app runs on it. */
export function statusView(cluster: ClusterRecord, app: string): RolloutClusterView {
  const status = cluster.apps[app];
  return {
    name: cluster.name,
    region: cluster.region,
    labels: cluster.labels,
    version: status?.version ?? null,
    phase: status?.phase ?? 'Pending',
    ...(status?.readySince ? { readySince: status.readySince } : {}),
  };
}

