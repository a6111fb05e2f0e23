// The agent protocol: registration, key rotation, cheap check-ins and reports.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { etag } from 'hono/etag';
import { AgentIdentity, AgentRegistration, AgentReport, DesiredState } from '../../lib/api/schemas.ts';
import { bearer } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { acceptReport, checkIn, registerAgent, rotateAgentKey } from '../domain/agent.ts';
import { errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const agentSecurity = [{ agent: [] }];

const register = createRoute({
  method: 'post',
  path: '/v1/agent/register',
  tags: ['agent'],
  summary: "Exchange a one-time registration token for the agent's own public key",
  security: [{ registration: [] }],
  request: { body: jsonBody(AgentRegistration) },
  responses: { 200: jsonResponse(AgentIdentity, 'Registered'), ...errorResponses(404) },
});

const rotateKey = createRoute({
  method: 'post',
  path: '/v1/agent/keys',
  tags: ['agent'],
  summary: 'Replace the agent key; the request is signed with the old key',
  security: agentSecurity,
  request: { body: jsonBody(AgentRegistration) },
  responses: { 200: jsonResponse(AgentIdentity, 'Rotated'), ...errorResponses(409) },
});

const desiredState = createRoute({
  method: 'get',
  path: '/v1/agent/desired-state',
  tags: ['agent'],
  summary: "The cluster's desired state; answers 304 to a matching If-None-Match",
  security: agentSecurity,
  request: {
    headers: z.object({ 'if-none-match': z.string().optional() }),
    query: z.object({ heartbeat: z.enum(['0', '1']).optional().openapi({ description: "1: the agent's heartbeat is due; the check-in records it (one small write)" }) }),
  },
  responses: {
    200: { ...jsonResponse(DesiredState, 'Desired state'), headers: { ETag: { schema: { type: 'string' } } } },
    304: { description: 'Unchanged since the ETag given' },
    ...errorResponses(),
  },
});

const report = createRoute({
  method: 'post',
  path: '/v1/agent/reports',
  tags: ['agent'],
  summary: 'Report per-app status and drift; unchanged reports write nothing until the heartbeat is due',
  security: agentSecurity,
  request: { body: jsonBody(AgentReport) },
  responses: { 202: jsonResponse(z.object({ accepted: z.boolean(), stored: z.boolean() }), 'Accepted'), ...errorResponses() },
});

export function registerAgentRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(register, async function registerAgentHandler(c) {
    return c.json(await registerAgent(c.get('services'), bearer(c), c.req.valid('json').publicKey), 200);
  });

  app.openapi(rotateKey, async function rotateAgentKeyHandler(c) {
    return c.json(await rotateAgentKey(c.get('services'), c.get('cluster'), c.req.valid('json').publicKey), 200);
  });

  // Hono's etag middleware tags the document (a hash of its canonical JSON) and answers a
  // matching If-None-Match, weak or in a list, with 304.
  app.use(desiredState.path, etag());
  app.openapi(desiredState, async function checkInHandler(c) {
    const state = await checkIn(c.get('services'), c.get('cluster'), { heartbeat: c.req.valid('query').heartbeat === '1' });
    c.header('Cache-Control', 'private, no-cache');
    return c.json(state, 200);
  });

  app.openapi(report, async function reportHandler(c) {
    const order = { issuedAt: c.get('agentTokenIssuedAt'), seq: c.get('agentRequestSeq') };
    const { stored } = await acceptReport(c.get('services'), c.get('cluster'), c.req.valid('json'), order);
    return c.json({ accepted: true, stored }, 202);
  });
}
