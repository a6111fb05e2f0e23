// Read-only overviews: the fleet matrix and the audit log.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Event, Fleet, Name, list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import { buildFleet, isStale } from '../domain/fleet.ts';
import { badRequest } from '../errors.ts';
import { bearerSecurity, errorResponses, jsonResponse } from './openapi.ts';

const fleet = createRoute({
  method: 'get',
  path: '/v1/fleet',
  tags: ['overview'],
  summary: 'The app × environment × region matrix: desired version, clusters by phase, drifted, stale',
  security: bearerSecurity,
  responses: { 200: jsonResponse(Fleet, 'The fleet'), ...errorResponses() },
});

const DAY_MS = 86_400_000;
const MAX_WINDOW_DAYS = 92;

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
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      order: z.enum(['asc', 'desc']).default('desc'),
      cursor: z
        .string()
        .max(200)
        .optional()
        .openapi({ description: 'nextCursor of the previous page (same filters and order)' }),
    }),
  },
  responses: { 200: jsonResponse(list(Event, 'EventList'), 'Events'), ...errorResponses() },
});

/** A cursor is the position `<at>#<id>` of the last event of a page, base64url-encoded. */
function decodeCursor(cursor: string): string {
  const position = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{4}-\d{2}-\d{2}T[\d:.]+Z#[0-9a-f]{12,40}$/.test(position)) throw badRequest('query.cursor: not a cursor of this API');
  return position;
}

export function registerOverviewRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(fleet, async (c) => {
    authorize(c, 'read');
    const services = c.get('services');
    const [environments, clusters] = await Promise.all([services.store.listEnvironments(), services.store.listClusters()]);
    const entries = new Map(
      await Promise.all(
        environments.map(async (env) => [env.name, await services.store.listDesiredEntries(env.name)] as const),
      ),
    );
    const now = services.now();
    const cells = buildFleet(entries, clusters, (cluster) => isStale(cluster, now, services.config.staleAfterSeconds));
    return c.json({ cells, generatedAt: services.now().toISOString() }, 200);
  });

  app.openapi(events, async (c) => {
    authorize(c, 'read');
    const query = c.req.valid('query');
    const services = c.get('services');
    const until = query.until ? new Date(query.until) : services.now();
    const since = query.since ? new Date(query.since) : new Date(until.getTime() - 7 * DAY_MS);
    if (since > until) throw badRequest('query.since: must not be after until');
    if (until.getTime() - since.getTime() > MAX_WINDOW_DAYS * DAY_MS) {
      throw badRequest(`query.since: the window may span at most ${MAX_WINDOW_DAYS} days`);
    }
    const { events, next } = await services.store.queryEvents({
      ...query,
      since: since.toISOString(),
      until: until.toISOString(),
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
    });
    return c.json({ items: events, nextCursor: next === null ? null : Buffer.from(next).toString('base64url') }, 200);
  });
}
