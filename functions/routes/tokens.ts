// API tokens issued by the control plane, and their revocation.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Grant, IssuedToken, ReasonInput, list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { recordEvent } from '../domain/events.ts';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';
import { TokenInput } from '../../lib/api/schemas.ts';

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
  responses: { 200: jsonResponse(list(TokenInfo, 'TokenList'), 'Tokens'), ...errorResponses() },
});

const revokeToken = createRoute({
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
  app.openapi(createToken, async (c) => {
    const actor = authorize(c, 'admin');
    const services = c.get('services');
    const input = c.req.valid('json');
    const minted = await services.tokens.mintUserToken(input);
    await services.store.putToken({
      id: minted.id,
      subject: input.subject,
      grants: input.grants,
      issuedAt: services.now().toISOString(),
      expiresAt: minted.expiresAt.toISOString(),
      issuedBy: actor,
      revoked: false,
    });
    await recordEvent(services, {
      type: 'token.issued',
      actor,
      message: `${actor} issued token ${minted.id} for ${input.subject} (${input.grants.map((grant) => grant.role).join(', ')})`,
      data: { id: minted.id, subject: input.subject, grants: input.grants },
    });
    return c.json(
      { id: minted.id, token: minted.token, subject: input.subject, grants: input.grants, expiresAt: minted.expiresAt.toISOString() },
      201,
    );
  });

  app.openapi(listTokens, async (c) => {
    authorize(c, 'admin');
    // revoking an offline-minted token leaves a bare deny-list entry; only issued tokens are listed
    const issued = (await c.get('services').store.listTokens()).filter((token) => token.subject);
    return c.json({ items: issued, nextCursor: null }, 200);
  });

  app.openapi(revokeToken, async (c) => {
    const actor = authorize(c, 'admin');
    const { id } = c.req.valid('param');
    const { reason } = c.req.valid('json');
    const services = c.get('services');
    await services.store.revokeToken(id, services.now().toISOString());
    await recordEvent(services, { type: 'token.revoked', actor, message: `${actor} revoked token ${id}: ${reason}`, data: { id } });
    return c.json({ id, revoked: true as const }, 200);
  });
}
