// API tokens issued by the control plane, and their revocation.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Grant, IssuedToken, ReasonInput, TokenInput, list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { issueToken, listIssuedTokens, revokeToken } from '../domain/tokens.ts';
import { PageQuery, bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const TokenInfo = z
  .object({
    id: z.string(),
    subject: z.string(),
    grants: z.array(Grant),
    issuedAt: z.string(),
    expiresAt: z.string(),
    issuedBy: z.string(),
    revoked: z.boolean(),
  })
  .openapi('TokenInfo');

const createToken = createRoute({
  method: 'post',
  path: '/v1/tokens',
  tags: ['tokens'],
  summary: 'Issue an API token with roles, optionally scoped to apps and environments (admin)',
  security: bearerSecurity,
  request: { body: jsonBody(TokenInput) },
  responses: { 201: jsonResponse(IssuedToken, 'The token; shown once'), ...errorResponses() },
});

const listTokens = createRoute({
  method: 'get',
  path: '/v1/tokens',
  tags: ['tokens'],
  summary: 'List issued tokens (admin)',
  security: bearerSecurity,
  request: { query: PageQuery },
  responses: { 200: jsonResponse(list(TokenInfo, 'TokenList'), 'Tokens'), ...errorResponses() },
});

const revokeTokenRoute = createRoute({
  method: 'post',
  path: '/v1/tokens/{id}/revoke',
  tags: ['tokens'],
  summary: 'Revoke a token by id (admin)',
  security: bearerSecurity,
  request: {
    params: z.object({ id: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'must be a token id') }),
    body: jsonBody(ReasonInput),
  },
  responses: { 200: jsonResponse(z.object({ id: z.string(), revoked: z.literal(true) }), 'Revoked'), ...errorResponses() },
});

export function registerTokenRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(createToken, async function createTokenHandler(c) {
    const actor = authorize(c, 'admin');
    return c.json(await issueToken(c.get('services'), actor, c.req.valid('json')), 201);
  });

  app.openapi(listTokens, async function listTokensHandler(c) {
    authorize(c, 'admin');
    return c.json(await listIssuedTokens(c.get('services'), c.req.valid('query')), 200);
  });

  app.openapi(revokeTokenRoute, async function revokeTokenHandler(c) {
    const actor = authorize(c, 'admin');
    const { id } = c.req.valid('param');
    await revokeToken(c.get('services'), actor, id, c.req.valid('json').reason);
    return c.json({ id, revoked: true as const }, 200);
  });
}
