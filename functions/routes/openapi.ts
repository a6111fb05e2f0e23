// Small helpers so every route declares its body and the shared error responses the same way.
import { z } from '@hono/zod-openapi';
import { ErrorEnvelope } from '../../lib/api/schemas.ts';

const ERROR_DESCRIPTIONS = {
  400: 'Invalid input; the message names the field',
  401: 'Missing, invalid, expired or revoked token',
  403: 'The token lacks the permission for this target',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  431: 'Request line or headers too large (the server refuses them before routing)',
} as const;

type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** The shared error responses; every route declares 400, 401, 403, 413 and 431, plus any it names. */
export function errorResponses(...extra: ErrorStatus[]) {
  const statuses = new Set<ErrorStatus>([400, 401, 403, 413, 431, ...extra]);
  return Object.fromEntries(
    [...statuses].map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: { 'application/json': { schema: ErrorEnvelope } } },
    ]),
  ) as Record<ErrorStatus, { description: string; content: { 'application/json': { schema: typeof ErrorEnvelope } } }>;
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { 'application/json': { schema } } } as const;
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

export const bearerSecurity = [{ bearer: [] }];

/** A cursor as the API hands them out: base64url text. */
export const Cursor = z.string().max(2048).regex(/^[A-Za-z0-9_-]+$/, 'not a cursor of this API');

/** The query of every list: a page size and the `nextCursor` of the previous page. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: 'Items per page (default 100, at most 1000)' }),
  cursor: Cursor.optional().openapi({ description: 'nextCursor of the previous page (same filters)' }),
});
