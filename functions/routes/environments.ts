// Environments, an app's policy in an environment, promotions and rollbacks.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  Environment,
  EnvironmentSpec,
  Name,
  PolicySpec,
  PolicyView,
  PromotionInput,
  PromotionRecord,
  RollbackInput,
  Rollout,
  list,
} from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { getPolicy, listEnvironments, saveEnvironment, setPolicy } from '../domain/environments.ts';
import { listPromotions, promote, rollback } from '../domain/promotions.ts';
import { PageQuery, bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const putEnvironment = createRoute({
  method: 'put',
  path: '/v1/environments/{env}',
  tags: ['environments'],
  summary: 'Create or update an environment (admin)',
  security: bearerSecurity,
  request: { params: z.object({ env: Name }), body: jsonBody(EnvironmentSpec) },
  responses: {
    200: jsonResponse(Environment, 'Updated'),
    201: jsonResponse(Environment, 'Created'),
    ...errorResponses(404),
  },
});

const listEnvironmentsRoute = createRoute({
  method: 'get',
  path: '/v1/environments',
  tags: ['environments'],
  summary: 'List environments',
  security: bearerSecurity,
  request: { query: PageQuery },
  responses: { 200: jsonResponse(list(Environment, 'EnvironmentList'), 'Environments'), ...errorResponses() },
});

/** A retried promotion or rollback with the same key gets the record the first attempt wrote. */
const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[A-Za-z0-9._:-]{8,128}$/, 'must be 8 to 128 of A-Z, a-z, 0-9, . _ : -')
    .optional()
    .openapi({ description: 'Makes a retry of this request return the record of its first attempt' }),
});

const PolicyParams = z.object({ app: Name, env: Name });

const putPolicy = createRoute({
  method: 'put',
  path: '/v1/apps/{app}/environments/{env}',
  tags: ['policies'],
  summary: 'Set the policy of an app in an environment: track a semver range, or manual (admin)',
  security: bearerSecurity,
  request: { params: PolicyParams, body: jsonBody(PolicySpec) },
  responses: { 200: jsonResponse(PolicyView, 'The policy, pins and resolved versions'), ...errorResponses(404) },
});

const getPolicyRoute = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/environments/{env}',
  tags: ['policies'],
  summary: 'The policy, pins and resolved versions of an app in an environment',
  security: bearerSecurity,
  request: { params: PolicyParams },
  responses: { 200: jsonResponse(PolicyView, 'The policy'), ...errorResponses(404) },
});

const promoteRoute = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/promotions',
  tags: ['promotions'],
  summary: 'Promote a version to an environment or one of its regions (promoter)',
  security: bearerSecurity,
  request: { params: z.object({ app: Name }), headers: IdempotencyHeaders, body: jsonBody(PromotionInput) },
  responses: {
    201: jsonResponse(PromotionRecord, 'The accepted promotion record'),
    202: jsonResponse(Rollout, 'Into an environment with waves: the rollout started'),
    ...errorResponses(404, 409),
  },
});

const listPromotionsRoute = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/promotions',
  tags: ['promotions'],
  summary: 'The promotion history of an app, oldest first',
  security: bearerSecurity,
  request: {
    params: z.object({ app: Name }),
    query: PageQuery.extend({ environment: Name.optional(), region: Name.optional() }),
  },
  responses: { 200: jsonResponse(list(PromotionRecord, 'PromotionList'), 'Promotion records'), ...errorResponses(404) },
});

const rollbackRoute = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/rollbacks',
  tags: ['promotions'],
  summary: 'Move a pin back to the version it replaced (promoter)',
  security: bearerSecurity,
  request: { params: z.object({ app: Name }), headers: IdempotencyHeaders, body: jsonBody(RollbackInput) },
  responses: { 201: jsonResponse(PromotionRecord, 'The rollback record'), ...errorResponses(404, 409) },
});

export function registerEnvironmentRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putEnvironment, async function putEnvironmentHandler(c) {
    const { env } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const { environment, created } = await saveEnvironment(c.get('services'), actor, env, c.req.valid('json'));
    return c.json(environment, created ? 201 : 200);
  });

  app.openapi(listEnvironmentsRoute, async function listEnvironmentsHandler(c) {
    authorize(c, 'read');
    return c.json(await listEnvironments(c.get('services'), c.req.valid('query')), 200);
  });

  app.openapi(putPolicy, async function putPolicyHandler(c) {
    const { app: name, env } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const spec = c.req.valid('json');
    return c.json(await setPolicy(c.get('services'), actor, name, env, spec.track, spec.verify ?? null), 200);
  });

  app.openapi(getPolicyRoute, async function getPolicyHandler(c) {
    const { app: name, env } = c.req.valid('param');
    authorize(c, 'read');
    return c.json(await getPolicy(c.get('services'), name, env), 200);
  });

  app.openapi(promoteRoute, async function promoteHandler(c) {
    const { app: name } = c.req.valid('param');
    const input = c.req.valid('json');
    const actor = authorize(c, 'promote', { app: name, environment: input.environment });
    const { 'idempotency-key': idempotencyKey } = c.req.valid('header');
    const result = await promote(c.get('services'), { actor, idempotencyKey }, name, input);
    return 'rollout' in result ? c.json(result.rollout, 202) : c.json(result.record, 201);
  });

  app.openapi(listPromotionsRoute, async function listPromotionsHandler(c) {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read');
    return c.json(await listPromotions(c.get('services'), name, c.req.valid('query')), 200);
  });

  app.openapi(rollbackRoute, async function rollbackHandler(c) {
    const { app: name } = c.req.valid('param');
    const input = c.req.valid('json');
    const actor = authorize(c, 'promote', { app: name, environment: input.environment });
    const { 'idempotency-key': idempotencyKey } = c.req.valid('header');
    return c.json(await rollback(c.get('services'), { actor, idempotencyKey }, name, input), 201);
  });
}
