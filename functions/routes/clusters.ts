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
} from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import {
  clusterDrift,
  getCluster,
  issueRegistrationToken,
  listClusters,
  requireCluster,
  revokeCluster,
  saveCluster,
  setSuspension,
} from '../domain/clusters.ts';
import { PageQuery, bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const ClusterParams = z.object({ cluster: Name });

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

const listClustersRoute = createRoute({
  method: 'get',
  path: '/v1/clusters',
  tags: ['clusters'],
  summary: 'List clusters with their status',
  security: bearerSecurity,
  request: { query: PageQuery.extend({ environment: Name.optional(), region: Name.optional() }) },
  responses: { 200: jsonResponse(list(Cluster, 'ClusterList'), 'Clusters'), ...errorResponses() },
});

const getClusterRoute = createRoute({
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

const revokeClusterRoute = createRoute({
  method: 'post',
  path: '/v1/clusters/{cluster}/revoke',
  tags: ['clusters'],
  summary: "Revoke the cluster's agent key; its agent is cut off until registered again (admin)",
  security: bearerSecurity,
  request: { params: ClusterParams, body: jsonBody(ReasonInput) },
  responses: { 200: jsonResponse(Cluster, 'The cluster'), ...errorResponses(404) },
});

const suspendRoute = createRoute({
  method: 'post',
  path: '/v1/clusters/{cluster}/suspend',
  tags: ['clusters'],
  summary: 'Break-glass: stop correcting drift on the cluster or one app; drift is still reported (promoter)',
  security: bearerSecurity,
  request: { params: ClusterParams, body: jsonBody(SuspendInput) },
  responses: { 200: jsonResponse(Cluster, 'The cluster'), ...errorResponses(404) },
});

const resumeRoute = createRoute({
  method: 'post',
  path: '/v1/clusters/{cluster}/resume',
  tags: ['clusters'],
  summary: 'Resume reconciliation of the cluster or one app (promoter)',
  security: bearerSecurity,
  request: { params: ClusterParams, body: jsonBody(SuspendInput.omit({ until: true })) },
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

export function registerClusterRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putCluster, async function putClusterHandler(c) {
    const { cluster: name } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const { cluster, created } = await saveCluster(c.get('services'), actor, name, c.req.valid('json'));
    return c.json(cluster, created ? 201 : 200);
  });

  app.openapi(listClustersRoute, async function listClustersHandler(c) {
    authorize(c, 'read');
    return c.json(await listClusters(c.get('services'), c.req.valid('query')), 200);
  });

  app.openapi(getClusterRoute, async function getClusterHandler(c) {
    const { cluster: name } = c.req.valid('param');
    authorize(c, 'read');
    return c.json(await getCluster(c.get('services'), name), 200);
  });

  app.openapi(createRegistrationToken, async function createRegistrationTokenHandler(c) {
    const { cluster: name } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    return c.json(await issueRegistrationToken(c.get('services'), actor, name), 201);
  });

  app.openapi(revokeClusterRoute, async function revokeClusterHandler(c) {
    const { cluster: name } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    return c.json(await revokeCluster(c.get('services'), actor, name, c.req.valid('json').reason), 200);
  });

  app.openapi(suspendRoute, async function suspendHandler(c) {
    const { cluster: name } = c.req.valid('param');
    const input = c.req.valid('json');
    const services = c.get('services');
    const cluster = await requireCluster(services, name);
    const actor = authorize(c, 'promote', { environment: cluster.environment, app: input.app });
    return c.json(await setSuspension(services, actor, cluster, { suspend: true, ...input }), 200);
  });

  app.openapi(resumeRoute, async function resumeHandler(c) {
    const { cluster: name } = c.req.valid('param');
    const input = c.req.valid('json');
    const services = c.get('services');
    const cluster = await requireCluster(services, name);
    const actor = authorize(c, 'promote', { environment: cluster.environment, app: input.app });
    return c.json(await setSuspension(services, actor, cluster, { suspend: false, ...input }), 200);
  });

  app.openapi(getDrift, async function getDriftHandler(c) {
    const { cluster: name } = c.req.valid('param');
    authorize(c, 'read');
    return c.json(await clusterDrift(c.get('services'), name), 200);
  });
}
