// Read-only overviews: the fleet matrix and the audit log.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Event, Fleet, Name, list } from '../../lib/api/schemas.ts';
import { LIMITS } from '../../lib/limits.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { listEvents } from '../domain/events.ts';
import { fleetView } from '../domain/fleet.ts';
import { Cursor, bearerSecurity, errorResponses, jsonResponse } from './openapi.ts';

const fleet = createRoute({
  method: 'get',
  path: '/v1/fleet',
  tags: ['overview'],
  summary: 'The app × environment × region matrix: desired version, clusters by phase, drifted, stale',
  security: bearerSecurity,
  responses: { 200: jsonResponse(Fleet, 'The fleet'), ...errorResponses() },
});

const events = createRoute({
  method: 'get',
  path: '/v1/events',
  tags: ['overview'],
  summary: 'The audit log, filtered by app, environment, cluster, type and time',
  security: bearerSecurity,
  request: {
    query: z.object({
      app: Name.optional(),
      environment: Name.optional(),
      cluster: Name.optional(),
      type: z.string().max(64).optional(),
      since: z.iso.datetime().optional().openapi({ description: 'Default: 7 days before `until`' }),
      until: z.iso.datetime().optional().openapi({ description: 'Default: now' }),
      limit: z.coerce.number().int().min(1).max(LIMITS.maxEventsPerPage).default(100),
      order: z.enum(['asc', 'desc']).default('desc'),
      cursor: Cursor.max(200).optional().openapi({ description: 'nextCursor of the previous page (same filters and order)' }),
    }),
  },
  responses: { 200: jsonResponse(list(Event, 'EventList'), 'Events'), ...errorResponses() },
});

export function registerOverviewRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(fleet, async function fleetHandler(c) {
    authorize(c, 'read');
    return c.json(await fleetView(c.get('services')), 200);
  });

  app.openapi(events, async function eventsHandler(c) {
    authorize(c, 'read');
    return c.json(await listEvents(c.get('services'), c.req.valid('query')), 200);
  });
}
