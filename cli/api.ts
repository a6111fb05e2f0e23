// A small client of the control plane's REST API for the CLI: failures are CliErrors carrying the envelope.
import { CliError } from './errors.ts';

const EXIT_BY_STATUS: Record<number, number> = { 400: 2, 401: 3, 403: 3, 404: 4, 409: 5, 413: 2, 503: 6 };

export interface ApiClient {
  get<T = any>(path: string): Promise<T>;
  post<T = any>(path: string, body?: unknown): Promise<T>;
  put<T = any>(path: string, body: unknown): Promise<T>;
  /** GET that answers null for 404 instead of failing. */
  find<T = any>(path: string): Promise<T | null>;
}

export function createApiClient(baseUrl: string, token: string | undefined): ApiClient {
  async function request<T>(method: string, path: string, body?: unknown, allowMissing = false): Promise<T | null> {
    let response: Response;
    try {
      response = await fetch(new URL(path, baseUrl), {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          'user-agent': 'flotilla-cli',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new CliError(`cannot reach the control plane at ${baseUrl}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    if (allowMissing && response.status === 404) return null;
    const text = await response.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // a proxy's HTML error page, say: reported by status below
    }
    if (!response.ok) {
      const retry = response.headers.get('retry-after');
      const message = (json?.error?.message ?? `${response.status} ${response.statusText}`) + (retry ? ` (retry after ${retry}s)` : '');
      throw new CliError(`${method} ${path}: ${message}`, EXIT_BY_STATUS[response.status] ?? 1);
    }
    return json as T;
  }
  return {
    get: (path) => request('GET', path) as Promise<any>,
    post: (path, body = {}) => request('POST', path, body) as Promise<any>,
    put: (path, body) => request('PUT', path, body) as Promise<any>,
    find: (path) => request('GET', path, undefined, true),
  };
}
