// One error contract: a closed set of codes, one error class, one handler, one envelope.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../lib/api/schemas.ts';

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unavailable: 503,
  internal: 500,
};

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

export const badRequest = (message: string) => new ApiError('bad_request', message);
export const notFound = (what: string) => new ApiError('not_found', `${what} not found`);
export const conflict = (message: string) => new ApiError('conflict', message);
export const unauthorized = (message = 'a valid token is required') => new ApiError('unauthorized', message);
export const forbidden = (message: string) => new ApiError('forbidden', message);

export function errorResponse(c: Context, error: ApiError): Response {
  const requestId = (c.get('requestId' as never) as string | undefined) ?? 'unknown';
  if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds));
  if (error.code === 'unauthorized') c.header('WWW-Authenticate', 'Bearer');
  return c.json({ error: { code: error.code, message: error.message, requestId } }, error.status);
}

/** Maps anything thrown by a handler to the envelope; only our own bugs become a 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new ApiError('payload_too_large', 'request body is too large');
    if (err.status === 400) return new ApiError('bad_request', err.message || 'malformed request');
    if (err.status === 401) return unauthorized();
    return new ApiError(err.status >= 500 ? 'unavailable' : 'bad_request', err.message);
  }
  const name = (err as { name?: string } | null)?.name ?? '';
  // The storage services shedding load is the client's cue to retry, not our failure.
  if (/Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|ServiceUnavailable|SlowDown/.test(name)) {
    return new ApiError('unavailable', 'storage is busy, retry shortly', 2);
  }
  return new ApiError('internal', 'internal error');
}
