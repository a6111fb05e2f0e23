// Shared by the agent's end-to-end tests: calls to the local control plane's admin API.
import type { LocalControlPlane } from '../../functions/local-server.ts';

/**
 * An admin API caller for the control plane `controlPlane()` returns (read at each call, so a
 * restarted control plane is used). Responses are only inspected through assertions, so they stay untyped.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function adminClient(controlPlane: () => LocalControlPlane): (method: string, path: string, body?: unknown) => Promise<any> {
  return async (method, path, body) => {
    const { url, adminToken } = controlPlane();
    const response = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}
