// Clusters: registration by admins, break-glass suspension, the API view and the drift view.
import type { AgentReport, Cluster, ClusterDrift, ClusterSpec, RegistrationToken } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { LIMITS } from '../../lib/limits.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { AppStatusRecord, ClusterRecord, ClusterState, Suspension } from '../model.ts';
import { collections } from '../storage/keys.ts';
import { contribution } from '../storage/fleet.ts';
import { newEventId, recordEvent } from './events.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';
import { isStale } from './fleet.ts';
import { isSuspensionActive, selectorMatches } from './resolve.ts';
import type { RolloutClusterView } from './waves.ts';

/** How far back the drift view lists drift events. */
const RECENT_DRIFT_MS = 7 * 86_400_000;
const RECENT_DRIFT_EVENTS = 50;

/** The API view of a stored cluster: no key material, no bookkeeping, staleness derived now. */
export function clusterView({ cluster, status, apps }: ClusterState, services: Services): Cluster {
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
    lastSeen: status.lastSeen,
    stale: isStale(cluster, status, services.now(), services.config.staleAfterSeconds),
    apps: Object.fromEntries(Object.values(apps).map(({ driftDigest: _d, app, cluster: _c, region: _r, ...summary }) => [app, summary])),
  };
}

export async function requireCluster(services: Services, name: string): Promise<ClusterRecord> {
  const cluster = await services.storage.clusters.get(name, true);
  if (!cluster) throw notFound(`cluster ${name}`);
  return cluster;
}

export async function getCluster(services: Services, name: string): Promise<Cluster> {
  const state = await services.storage.clusters.state(name, true);
  if (!state) throw notFound(`cluster ${name}`);
  return clusterView(state, services);
}

/** A page of clusters with their status: one query per cluster of the page, a few at a time. */
export async function listClusters(services: Services, query: PageRequest & { environment?: string; region?: string }): Promise<Page<Cluster>> {
  const start = decodeCursor(query.cursor, collections.clusters);
  const { items, next } = await services.storage.clusters.listPage({ limit: query.limit, start, environment: query.environment, region: query.region });
  const states = await mapLimit(items, 16, (cluster) => services.storage.clusters.state(cluster.name, false));
  return { items: states.flatMap((state) => (state ? [clusterView(state, services)] : [])), nextCursor: encodeCursor(next) };
}

export async function saveCluster(services: Services, actor: string, name: string, spec: ClusterSpec): Promise<{ cluster: Cluster; created: boolean }> {
  const { storage } = services;
  if (!(await storage.environments.get(spec.environment))) throw notFound(`environment ${spec.environment}`);
  const { cluster, created, previous } = await storage.clusters.put(name, spec, services.now().toISOString());
  await countMove(services, previous, cluster);
  await recordEvent(services, {
    type: created ? 'cluster.created' : 'cluster.updated',
    actor,
    cluster: name,
    environment: spec.environment,
    region: spec.region,
    message: `${actor} ${created ? 'created' : 'updated'} cluster ${name} (${spec.environment}/${spec.region})`,
  });
  return { cluster: await getCluster(services, name), created };
}

/**
 * A cluster created, or moved to another environment or region: the fleet cells it leaves and
 * joins count it at once (the clock's scan keeps them exact), and statuses it reported where it
 * was are dropped (its agent reports them again where it is).
 */
async function countMove(services: Services, previous: ClusterRecord | null, cluster: ClusterRecord): Promise<void> {
  const { storage } = services;
  const moved = previous && (previous.environment !== cluster.environment || previous.region !== cluster.region);
  if (previous && !moved && JSON.stringify(previous.labels) === JSON.stringify(cluster.labels)) return;
  const entries = new Map(await Promise.all([...new Set([previous?.environment, cluster.environment].filter((env) => env !== undefined))].map(async (env) => [env, await storage.desired.list(env)] as const)));
  const cells = (record: ClusterRecord) => entries.get(record.environment)!.filter((entry) => selectorMatches(entry.spec.clusterSelector, record.labels)).map((entry) => entry.app);
  const [left, joined] = [previous ? cells(previous) : [], cells(cluster)];
  await Promise.all([
    ...left.filter((app) => moved || !joined.includes(app)).map((app) => storage.fleet.addClusters(previous!.environment, app, previous!.region, -1)),
    ...joined.filter((app) => moved || !left.includes(app)).map((app) => storage.fleet.addClusters(cluster.environment, app, cluster.region, 1)),
  ]);
  if (moved) {
    const state = await storage.clusters.state(cluster.name, true);
    const now = services.now().getTime();
    await Promise.all(
      Object.values(state?.apps ?? {}).map(async (status) => {
        await storage.fleet.move(previous.environment, status.app, status.region, contribution(status), null, now);
        await storage.clusters.deleteAppStatus(cluster.name, status.app);
      }),
    );
  }
}

/** `fn` over the items, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
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
  return getCluster(services, name);
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
  if (!input.suspend && !active) return getCluster(services, cluster.name);
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
  await requireCluster(services, name);
  const status = await storage.clusters.status(name, true);
  const until = services.now();
  const [report, { events }] = await Promise.all([
    status.reportKey ? storage.reports.get<AgentReport>(status.reportKey) : null,
    storage.events.query({
      cluster: name,
      typePrefix: 'drift.',
      since: new Date(until.getTime() - RECENT_DRIFT_MS).toISOString(),
      until: until.toISOString(),
      limit: RECENT_DRIFT_EVENTS,
      order: 'desc',
    }),
  ]);
  return { cluster: name, reportedAt: status.reportedAt, apps: report?.apps ?? [], events };
}

/**
 * The clusters of an environment that run the app (its selector) and how the app runs on each, as
 * the gates and waves see them: the environment's clusters, and the app's status items in it (one
 * query of the index). Costs what the environment's size is; plain promotions do not call it.
 */
export async function appOnClusters(services: Services, environment: string, app: string, selector: Record<string, string> | undefined): Promise<RolloutClusterView[]> {
  const [clusters, statuses] = await Promise.all([services.storage.clusters.allIn(environment), services.storage.clusters.appStatuses(environment, app)]);
  const byCluster = new Map(statuses.map((status) => [status.cluster, status]));
  return clusters.filter((cluster) => selectorMatches(selector, cluster.labels)).map((cluster) => statusView(cluster, byCluster.get(cluster.name)));
}

/** A cluster as the gates and waves see it: where it is and how the app runs on it. */
export function statusView(cluster: ClusterRecord, status: AppStatusRecord | undefined): RolloutClusterView {
  return {
    name: cluster.name,
    region: cluster.region,
    labels: cluster.labels,
    version: status?.version ?? null,
    phase: status?.phase ?? 'Pending',
    ...(status?.readySince ? { readySince: status.readySince } : {}),
  };
}
