// Progressive delivery: rollouts (read, pause, resume, abort), approvals and the org-wide freeze.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Approval, ApprovalInput, FreezeInput, FreezeState, Name, ReasonInput, Rollout, RolloutAction, Version, list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { approve, listApprovals } from '../domain/approvals.ts';
import { freeze, getFreeze, unfreeze } from '../domain/freeze.ts';
import { getRollout, listRollouts, parseRolloutId, setRolloutStatus } from '../domain/rollouts.ts';
import { badRequest } from '../errors.ts';
import { PageQuery, bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

/** A rollout id is `<environment>-<n>`. */
const RolloutParams = z.object({ app: Name, rollout: z.string().regex(/^[a-z0-9-]{1,63}-\d{1,10}$/, 'must be a rollout id such as prod-3') });
const parseId = (id: string) => {
  const parsed = parseRolloutId(id);
  if (!parsed) throw badRequest('param.rollout: must be a rollout id such as prod-3');
  return parsed;
};

const listRolloutsRoute = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/rollouts',
  tags: ['rollouts'],
  summary: 'The rollouts of an app, newest first',
  security: bearerSecurity,
  request: { params: z.object({ app: Name }), query: PageQuery.extend({ environment: Name.optional() }) },
  responses: { 200: jsonResponse(list(Rollout, 'RolloutList'), 'Rollouts'), ...errorResponses(404) },
});

const getRolloutRoute = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/rollouts/{rollout}',
  tags: ['rollouts'],
  summary: 'A rollout with its waves, gates and per-cluster progress (advanced when read)',
  security: bearerSecurity,
  request: { params: RolloutParams },
  responses: { 200: jsonResponse(Rollout, 'The rollout'), ...errorResponses(404) },
});

const rolloutActionRoute = (action: 'pause' | 'resume' | 'abort', summary: string) =>
  createRoute({
    method: 'post',
    path: `/v1/apps/{app}/rollouts/{rollout}/${action}`,
    tags: ['rollouts'],
    summary,
    security: bearerSecurity,
    request: { params: RolloutParams, body: jsonBody(RolloutAction) },
    responses: { 200: jsonResponse(Rollout, 'The rollout'), ...errorResponses(404, 409) },
  });
const pauseRoute = rolloutActionRoute('pause', 'Pause a rollout: no wave moves until resumed (promoter)');
const resumeRoute = rolloutActionRoute('resume', 'Resume a paused rollout (promoter)');
const abortRoute = rolloutActionRoute('abort', 'Abort a rollout: the waves it moved go back to the previous version (promoter)');

const approveRoute = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/releases/{version}/approvals',
  tags: ['rollouts'],
  summary: 'Approve a release for an environment (a promoter other than its publisher)',
  security: bearerSecurity,
  request: { params: z.object({ app: Name, version: Version }), body: jsonBody(ApprovalInput) },
  responses: { 201: jsonResponse(Approval, 'The approval (the same approver again: the first one)'), ...errorResponses(404) },
});

const listApprovalsRoute = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/releases/{version}/approvals',
  tags: ['rollouts'],
  summary: 'The approvals of a release for an environment',
  security: bearerSecurity,
  request: { params: z.object({ app: Name, version: Version }), query: PageQuery.extend({ environment: Name }) },
  responses: { 200: jsonResponse(list(Approval, 'ApprovalList'), 'Approvals'), ...errorResponses(404) },
});

const getFreezeRoute = createRoute({
  method: 'get',
  path: '/v1/freeze',
  tags: ['rollouts'],
  summary: 'The org-wide freeze, if one holds',
  security: bearerSecurity,
  responses: { 200: jsonResponse(FreezeState, 'The freeze'), ...errorResponses() },
});

const putFreezeRoute = createRoute({
  method: 'put',
  path: '/v1/freeze',
  tags: ['rollouts'],
  summary: 'Freeze every environment: no promotion or wave advance except by break-glass (admin or unscoped promoter)',
  security: bearerSecurity,
  request: { body: jsonBody(FreezeInput) },
  responses: { 200: jsonResponse(FreezeState, 'The freeze'), ...errorResponses() },
});

const liftFreezeRoute = createRoute({
  method: 'post',
  path: '/v1/freeze/lift',
  tags: ['rollouts'],
  summary: 'Lift the freeze (admin or unscoped promoter)',
  security: bearerSecurity,
  request: { body: jsonBody(ReasonInput) },
  responses: { 200: jsonResponse(FreezeState, 'No freeze'), ...errorResponses(409) },
});

/**
 * A page of a list read whole: an app's rollouts and a release's approvals are bounded by its
 * promotions and approvers, so they are paged by position (the cursor is the offset).
 */
function pageOf<T>(items: T[], query: { limit: number; cursor?: string }): { items: T[]; nextCursor: string | null } {
  const offset = query.cursor === undefined ? 0 : Number(Buffer.from(query.cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(offset) || offset < 0) throw badRequest('query.cursor: not a cursor of this API');
  const end = offset + query.limit;
  return { items: items.slice(offset, end), nextCursor: end < items.length ? Buffer.from(String(end)).toString('base64url') : null };
}

export function registerRolloutRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(listRolloutsRoute, async function listRolloutsHandler(c) {
    const { app: name } = c.req.valid('param');
    authorize(c, 'read');
    const query = c.req.valid('query');
    return c.json(pageOf(await listRollouts(c.get('services'), name, query.environment), query), 200);
  });

  app.openapi(getRolloutRoute, async function getRolloutHandler(c) {
    const { app: name, rollout: id } = c.req.valid('param');
    authorize(c, 'read');
    const { environment, seq } = parseId(id);
    return c.json(await getRollout(c.get('services'), name, environment, seq), 200);
  });

  for (const [route, action] of [[pauseRoute, 'pause'], [resumeRoute, 'resume'], [abortRoute, 'abort']] as const) {
    app.openapi(route, async function rolloutActionHandler(c) {
      const { app: name, rollout: id } = c.req.valid('param');
      const { environment, seq } = parseId(id);
      const actor = authorize(c, 'promote', { app: name, environment });
      return c.json(await setRolloutStatus(c.get('services'), actor, { app: name, environment, seq }, action, c.req.valid('json').reason), 200);
    });
  }

  app.openapi(approveRoute, async function approveHandler(c) {
    const { app: name, version } = c.req.valid('param');
    const input = c.req.valid('json');
    const actor = authorize(c, 'promote', { app: name, environment: input.environment });
    return c.json(await approve(c.get('services'), actor, name, version, input), 201);
  });

  app.openapi(listApprovalsRoute, async function listApprovalsHandler(c) {
    const { app: name, version } = c.req.valid('param');
    authorize(c, 'read');
    const query = c.req.valid('query');
    return c.json(pageOf(await listApprovals(c.get('services'), name, version, query.environment), query), 200);
  });

  app.openapi(getFreezeRoute, async function getFreezeHandler(c) {
    authorize(c, 'read');
    return c.json(await getFreeze(c.get('services')), 200);
  });

  app.openapi(putFreezeRoute, async function putFreezeHandler(c) {
    const actor = authorize(c, 'promote');
    return c.json(await freeze(c.get('services'), actor, c.req.valid('json')), 200);
  });

  app.openapi(liftFreezeRoute, async function liftFreezeHandler(c) {
    const actor = authorize(c, 'promote');
    return c.json(await unfreeze(c.get('services'), actor, c.req.valid('json').reason), 200);
  });
}
