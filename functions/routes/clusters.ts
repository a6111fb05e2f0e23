// Clusters: registration, suspension (break-glass), drift.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  Cluster,
  ClusterDrift,
  ClusterSpec,
  Name,
  ReasonInput,
  RegistrationToken,
  SuspendInput,
  list,
  type AgentReport,
} from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv, Services } from '../context.ts';
import { recordEvent } from '../domain/events.ts';
import { isStale } from '../domain/fleet.ts';
import { badRequest, notFound } from '../errors.ts';
import type { ClusterRecord } from '../storage/store.ts';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const ClusterParams = z.object({ cluster: Name });
const RECENT_DRIFT_MS = 7 * 86_400_000;

const putCluster = createRoute({
  method: 'put',
  path: '/v1/clusters/{cluster}',
  tags: ['clusters'],
  summary: 'Create or update a cluster (admin)',
  security: bearerSecurity,
  request: { params: ClusterParams, body: jsonBody(ClusterSpec) },
  responses: {
    200: jsonResponse(Cluster, 'Updated'),
    201: jsonResponse(Cluster, 'Created'),
    ...errorResponses(404),
  },
});

const listClusters = createRoute({
  method: 'get',
  path: '/v1/clusters',
  tags: ['clusters'],
  summary: 'List clusters with their status',
  security: bearerSecurity,
  request: { query: z.object({ environment: Name.optional(), region: Name.optional() }) },
  responses: { 200: jsonResponse(list(Cluster, 'ClusterList'), 'Clusters'), ...errorResponses() },
});

const getCluster = createRoute({
  method: 'get',
  path: '/v1/clusters/{cluster}',
  tags: ['clusters'],
  summary: 'Get a cluster with its status',
  security: bearerSecurity,
  request: { params: ClusterParams },
  responses: { 200: jsonResponse(Cluster, 'The cluster'), ...errorResponses(404) },
});

const createRegistrationToken = createRoute({
  method: 'post',
  path: '/v1/clusters/{cluster}/registration-tokens',
  tags: ['clusters'],
  summary: 'Issue a one-time, short-lived token that bootstraps the cluster agent (admin)',
  security: bearerSecurity,
  request: { params: ClusterParams },
  responses: { 201: jsonResponse(RegistrationToken, 'The token; shown once'), ...errorResponses(404) },
});

const revokeCluster = createRoute({
  method: 'post',
  path: '/v1/clusters/{cluster}/revoke',
  tags: ['clusters'],
  summary: "Revoke the cluster's agent key; its agent is cut off until registered again (admin)",
  security: bearerSecurity,
  request: { params: ClusterParams, body: jsonBody(ReasonInput) },
  responses: { 200: jsonResponse(Cluster, 'The cluster'), ...errorResponses(404) },
});

const suspensionRoute = (action: 'suspend' | 'resume') =>
  createRoute({
    method: 'post',
    path: `/v1/clusters/{cluster}/${action}`,
    tags: ['clusters'],
    summary:
      action === 'suspend'
        ? 'Break-glass: stop correcting drift on the cluster or one app; drift is still reported (promoter)'
        : 'Resume reconciliation of the cluster or one app (promoter)',
    security: bearerSecurity,
    request: { params: ClusterParams, body: jsonBody(action === 'suspend' ? SuspendInput : SuspendInput.omit({ until: true })) },
    responses: { 200: jsonResponse(Cluster, 'The cluster'), ...errorResponses(404) },
  });

const getDrift = createRoute({
  method: 'get',
  path: '/v1/clusters/{cluster}/drift',
  tags: ['clusters'],
  summary: 'The latest full report of the cluster: per app phase, conditions and drift (which fields, before/after)',
  security: bearerSecurity,
  request: { params: ClusterParams },
  responses: { 200: jsonResponse(ClusterDrift, 'Drift'), ...errorResponses(404) },
});

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
    apps: Object.fromEntries(
      Object.entries(cluster.apps).map(([name, { driftDigest: _driftDigest, ...summary }]) => [name, summary]),
    ),
  };
}

async function requireCluster(services: Services, name: string) {
  const cluster = await services.store.getCluster(name, true);
  if (!cluster) throw notFound(`cluster ${name}`);
  return cluster;
}

export function registerClusterRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putCluster, async (c) => {
    const { cluster: name } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const services = c.get('services');
    const spec = c.req.valid('json');
    if (!(await services.store.getEnvironment(spec.environment))) throw notFound(`environment ${spec.environment}`);
    const { cluster, created } = await services.store.putCluster(name, spec, services.now().toISOString());
    await recordEvent(services, {
      type: created ? 'cluster.created' : 'cluster.updated',
      actor,
      cluster: name,
      environment: spec.environment,
      region: spec.region,
      message: `${actor} ${created ? 'created' : 'updated'} cluster ${name} (${spec.environment}/${spec.region})`,
    });
    return c.json(clusterView(cluster, services), created ? 201 : 200);
  });

  app.openapi(listClusters, async (c) => {
    authorize(c, 'read');
    const { environment, region } = c.req.valid('query');
    const services = c.get('services');
    const clusters = (await services.store.listClusters()).filter(
      (cluster) => (!environment || cluster.environment === environment) && (!region || cluster.region === region),
    );
    return c.json({ items: clusters.map((cluster) => clusterView(cluster, services)), nextCursor: null }, 200);
  });

  app.openapi(getCluster, async (c) => {
    const { cluster: name } = c.req.valid('param');
    authorize(c, 'read');
    const services = c.get('services');
    return c.json(clusterView(await requireCluster(services, name), services), 200);
  });

  app.openapi(createRegistrationToken, async (c) => {
    const { cluster: name } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const services = c.get('services');
    const cluster = await requireCluster(services, name);
    const minted = await services.tokens.mintRegistrationToken(name, services.config.registrationTokenTtlSeconds);
    await services.store.putRegistrationToken(minted.id, name, minted.expiresAt);
    await recordEvent(services, {
      type: 'cluster.registration-token-issued',
      actor,
      cluster: name,
      environment: cluster.environment,
      message: `${actor} issued a registration token for cluster ${name}`,
    });
    return c.json({ token: minted.token, expiresAt: minted.expiresAt.toISOString(), cluster: name }, 201);
  });

  app.openapi(revokeCluster, async (c) => {
    const { cluster: name } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const services = c.get('services');
    const { reason } = c.req.valid('json');
    if (!(await services.store.revokeCluster(name, services.now()))) throw notFound(`cluster ${name}`);
    const cluster = await requireCluster(services, name);
    await recordEvent(services, {
      type: 'cluster.revoked',
      actor,
      cluster: name,
      environment: cluster.environment,
      message: `${actor} revoked cluster ${name}: ${reason}`,
    });
    return c.json(clusterView(cluster, services), 200);
  });

  for (const action of ['suspend', 'resume'] as const) {
    app.openapi(suspensionRoute(action), async (c) => {
      const { cluster: name } = c.req.valid('param');
      const services = c.get('services');
      const existing = await requireCluster(services, name);
      const input = c.req.valid('json') as z.infer<typeof SuspendInput>;
      const actor = authorize(c, 'promote', { environment: existing.environment, app: input.app });
      const now = services.now();
      if (input.until && !(Date.parse(input.until) > now.getTime())) {
        throw badRequest('body.until: must be a time in the future');
      }
      const suspension =
        action === 'suspend' ? { by: actor, reason: input.reason, at: now.toISOString(), until: input.until ?? null } : null;
      await services.store.setSuspension(name, input.app, suspension);
      const target = input.app ? `app ${input.app} on cluster ${name}` : `cluster ${name}`;
      await recordEvent(services, {
        type: action === 'suspend' ? 'cluster.suspended' : 'cluster.resumed',
        actor,
        cluster: name,
        app: input.app,
        environment: existing.environment,
        region: existing.region,
        message: `${actor} ${action === 'suspend' ? 'suspended' : 'resumed'} ${target}: ${input.reason}`,
        data: { until: input.until ?? null },
      });
      return c.json(clusterView(await requireCluster(services, name), services), 200);
    });
  }

  app.openapi(getDrift, async (c) => {
    const { cluster: name } = c.req.valid('param');
    authorize(c, 'read');
    const services = c.get('services');
    const cluster = await requireCluster(services, name);
    const until = services.now();
    const [report, { events }] = await Promise.all([
      cluster.reportKey ? services.blobs.getJson<AgentReport>(cluster.reportKey) : null,
      services.store.queryEvents({
        cluster: name,
        typePrefix: 'drift.',
        since: new Date(until.getTime() - RECENT_DRIFT_MS).toISOString(),
        until: until.toISOString(),
        limit: 50,
        order: 'desc',
      }),
    ]);
    return c.json(
      {
        cluster: name,
        reportedAt: cluster.reportedAt,
        apps: report?.apps ?? [],
        events,
      },
      200,
    );
  });
}
