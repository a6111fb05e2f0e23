// An app's variables per environment and per cluster (Flux postBuild.substitute values).
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { AppValues, AppValuesInput, Name } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { getValues, saveValues } from '../domain/values.ts';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const AppParams = z.object({ app: Name });

const putValues = createRoute({
  method: 'put',
  path: '/v1/apps/{app}/values',
  tags: ['apps'],
  summary:
    "Replace the app's variables per environment and per cluster (admin). Each cluster's agent substitutes `${name}` in the app's objects with them, over the cluster's own (cluster_name, cluster_environment, cluster_region, cluster_label_<key>); Secrets named by the app's valuesFrom override them in the cluster",
  security: bearerSecurity,
  request: { params: AppParams, body: jsonBody(AppValuesInput) },
  responses: { 200: jsonResponse(AppValues, 'The values now in force'), ...errorResponses(404) },
});

const readValues = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/values',
  tags: ['apps'],
  summary: "The app's variables per environment and per cluster",
  security: bearerSecurity,
  request: { params: AppParams },
  responses: { 200: jsonResponse(AppValues, 'The values'), ...errorResponses(404) },
});

export function registerValuesRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putValues, async function putValuesHandler(c) {
    const { app: name } = c.req.valid('param');
    const actor = authorize(c, 'admin', { app: name });
    return c.json(await saveValues(c.get('services'), actor, name, c.req.valid('json')), 200);
  });

  app.openapi(readValues, async function getValuesHandler(c) {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read', { app: name });
    return c.json(await getValues(c.get('services'), name), 200);
  });
}
