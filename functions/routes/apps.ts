// Apps and their releases.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { App, AppSpec, Name, ReasonInput, Release, ReleaseInput, Version, list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { refreshDesired } from '../domain/desired.ts';
import { recordEvent } from '../domain/events.ts';
import { conflict, notFound } from '../errors.ts';
import { ConflictError } from '../storage/store.ts';
import { compareVersions } from '../../lib/semver.ts';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

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
  request: { params: AppParams },
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

const blockRoute = (action: 'block' | 'unblock') =>
  createRoute({
    method: 'post',
    path: `/v1/apps/{app}/releases/{version}/${action}`,
    tags: ['releases'],
    summary:
      action === 'block'
        ? 'Block a release: tracking skips it and it cannot be promoted (promoter)'
        : 'Unblock a release (promoter)',
    security: bearerSecurity,
    request: { params: ReleaseParams, body: jsonBody(ReasonInput) },
    responses: { 200: jsonResponse(Release, 'The release'), ...errorResponses(404) },
  });

export function registerAppRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putApp, async (c) => {
    const { app: name } = c.req.valid('param');
    const actor = authorize(c, 'admin', { app: name });
    const services = c.get('services');
    const { app: saved, created } = await services.store.putApp(name, c.req.valid('json'), services.now().toISOString());
    await refreshDesired(services.store, name);
    await recordEvent(services, {
      type: created ? 'app.created' : 'app.updated',
      actor,
      app: name,
      message: `${actor} ${created ? 'created' : 'updated'} app ${name}`,
    });
    return c.json(saved, created ? 201 : 200);
  });

  app.openapi(listApps, async (c) => {
    authorize(c, 'read');
    return c.json({ items: await c.get('services').store.listApps(), nextCursor: null }, 200);
  });

  app.openapi(getApp, async (c) => {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    const found = await c.get('services').store.getApp(name);
    if (!found) throw notFound(`app ${name}`);
    return c.json(found, 200);
  });

  app.openapi(createRelease, async (c) => {
    const { app: name } = c.req.valid('param');
    const actor = authorize(c, 'publish', { app: name });
    const services = c.get('services');
    if (!(await services.store.getApp(name))) throw notFound(`app ${name}`);
    const input = c.req.valid('json');
    let result;
    try {
      result = await services.store.createRelease(name, input, actor, services.now().toISOString());
    } catch (err) {
      if (err instanceof ConflictError) throw conflict(err.message);
      throw err;
    }
    // Also on the idempotent path: a retry after a failed rebuild repairs the desired state.
    await refreshDesired(services.store, name);
    if (result.created) {
      await recordEvent(services, {
        type: 'release.published',
        actor,
        app: name,
        message: `${actor} published ${name}@${input.version} (${input.digest})`,
        data: { version: input.version, digest: input.digest },
      });
    }
    return c.json(result.release, result.created ? 201 : 200);
  });

  app.openapi(listReleases, async (c) => {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    const { store } = c.get('services');
    if (!(await store.getApp(name))) throw notFound(`app ${name}`);
    const releases = await store.listReleases(name);
    releases.sort((a, b) => compareVersions(b.version, a.version));
    return c.json({ items: releases, nextCursor: null }, 200);
  });

  app.openapi(getRelease, async (c) => {
    const { app: name, version } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    const release = await c.get('services').store.getRelease(name, version);
    if (!release) throw notFound(`release ${name}@${version}`);
    return c.json(release, 200);
  });

  for (const action of ['block', 'unblock'] as const) {
    app.openapi(blockRoute(action), async (c) => {
      const { app: name, version } = c.req.valid('param');
      const actor = authorize(c, 'promote', { app: name });
      const services = c.get('services');
      const { reason } = c.req.valid('json');
      const now = services.now().toISOString();
      const release = await services.store.setReleaseBlock(
        name,
        version,
        action === 'block' ? { reason, by: actor, at: now } : null,
      );
      if (!release) throw notFound(`release ${name}@${version}`);
      await refreshDesired(services.store, name);
      await recordEvent(services, {
        type: action === 'block' ? 'release.blocked' : 'release.unblocked',
        actor,
        app: name,
        message: `${actor} ${action}ed ${name}@${version}: ${reason}`,
        data: { version, reason },
      });
      return c.json(release, 200);
    });
  }
}
