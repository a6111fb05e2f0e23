// The benchmarks' admin client of a local control plane: JSON in, JSON out, a failure thrown.
import type { LocalControlPlane } from '../../functions/local-server.ts';

export function adminCaller(plane: Pick<LocalControlPlane, 'url' | 'adminToken'>) {
  return async function admin(method: string, path: string, body?: unknown) {
    const res = await fetch(`${plane.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${plane.adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
}
