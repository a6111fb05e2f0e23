// Apps and their releases.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { App, AppSpec, BlockInput, Name, ReasonInput, Release, ReleaseInput, Version, list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import {
  listApps as allApps,
  listReleases as releasesNewestFirst,
  registerRelease,
  requireApp,
  requireRelease,
  saveApp,
  setReleaseBlocked,
} from '../domain/apps.ts';
import { PageQuery, bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const AppParams = z.object({ app: Name });
const ReleaseParams = z.object({ app: Name, version: Version });

const putApp = createRoute({
  method: 'put',
  path: '/v1/apps/{app}',
  tags: ['apps'],
  summary: 'Create or update an app (admin)',
  security: bearerSecurity,
  request: { params: AppParams, body: jsonBody(AppSpec) },
  responses: {
    200: jsonResponse(App, 'Updated'),
    201: jsonResponse(App, 'Created'),
    ...errorResponses(),
  },
});

const listApps = createRoute({
  method: 'get',
  path: '/v1/apps',
  tags: ['apps'],
  summary: 'List apps',
  security: bearerSecurity,
  request: { query: PageQuery },
  responses: { 200: jsonResponse(list(App, 'AppList'), 'Apps'), ...errorResponses() },
});

const getApp = createRoute({
  method: 'get',
  path: '/v1/apps/{app}',
  tags: ['apps'],
  summary: 'Get an app',
  security: bearerSecurity,
  request: { params: AppParams },
  responses: { 200: jsonResponse(App, 'The app'), ...errorResponses(404) },
});

const createRelease = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/releases',
  tags: ['releases'],
  summary: 'Register a release (publisher); idempotent for the same version and digest',
  security: bearerSecurity,
  request: { params: AppParams, body: jsonBody(ReleaseInput) },
  responses: {
    200: jsonResponse(Release, 'Already registered with this digest'),
    201: jsonResponse(Release, 'Registered'),
    ...errorResponses(404, 409),
  },
});

const listReleases = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/releases',
  tags: ['releases'],
  summary: 'List releases, newest version first',
  security: bearerSecurity,
  request: { params: AppParams, query: PageQuery },
  responses: { 200: jsonResponse(list(Release, 'ReleaseList'), 'Releases'), ...errorResponses(404) },
});

const getRelease = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/releases/{version}',
  tags: ['releases'],
  summary: 'Get one release',
  security: bearerSecurity,
  request: { params: ReleaseParams },
  responses: { 200: jsonResponse(Release, 'The release'), ...errorResponses(404) },
});

const blockReleaseRoute = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/releases/{version}/block',
  tags: ['releases'],
  summary: 'Block a release: tracking skips it, it cannot be promoted, pins fall back from it; with recall, every pin holding it moves back (promoter)',
  security: bearerSecurity,
  request: { params: ReleaseParams, body: jsonBody(BlockInput) },
  responses: { 200: jsonResponse(Release, 'The release'), ...errorResponses(404) },
});

const unblockReleaseRoute = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/releases/{version}/unblock',
  tags: ['releases'],
  summary: 'Unblock a release (promoter)',
  security: bearerSecurity,
  request: { params: ReleaseParams, body: jsonBody(ReasonInput) },
  responses: { 200: jsonResponse(Release, 'The release'), ...errorResponses(404) },
});

export function registerAppRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putApp, async function putAppHandler(c) {
    const { app: name } = c.req.valid('param');
    const actor = authorize(c, 'admin', { app: name });
    const { app: saved, created } = await saveApp(c.get('services'), actor, name, c.req.valid('json'));
    return c.json(saved, created ? 201 : 200);
  });

  app.openapi(listApps, async function listAppsHandler(c) {
    authorize(c, 'read');
    return c.json(await allApps(c.get('services'), c.req.valid('query')), 200);
  });

  app.openapi(getApp, async function getAppHandler(c) {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    return c.json(await requireApp(c.get('services'), name), 200);
  });

  app.openapi(createRelease, async function createReleaseHandler(c) {
    const { app: name } = c.req.valid('param');
    const actor = authorize(c, 'publish', { app: name });
    const { release, created } = await registerRelease(c.get('services'), actor, name, c.req.valid('json'));
    return c.json(release, created ? 201 : 200);
  });

  app.openapi(listReleases, async function listReleasesHandler(c) {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    return c.json(await releasesNewestFirst(c.get('services'), name, c.req.valid('query')), 200);
  });

  app.openapi(getRelease, async function getReleaseHandler(c) {
    const { app: name, version } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    return c.json(await requireRelease(c.get('services'), name, version), 200);
  });

  app.openapi(blockReleaseRoute, async function blockReleaseHandler(c) {
    const target = c.req.valid('param');
    const actor = authorize(c, 'promote', { app: target.app });
    const { reason, recall } = c.req.valid('json');
    return c.json(await setReleaseBlocked(c.get('services'), actor, target, true, reason, recall), 200);
  });

  app.openapi(unblockReleaseRoute, async function unblockReleaseHandler(c) {
    const target = c.req.valid('param');
    const actor = authorize(c, 'promote', { app: target.app });
    return c.json(await setReleaseBlocked(c.get('services'), actor, target, false, c.req.valid('json').reason), 200);
  });
}
