// The agent's side of the control plane's REST API: registration with a one-time token, then one
// signed JWT per request (bound to method, path and body hash; lib/agent-auth.ts).
import type { z } from 'zod';
import { AgentIdentity, DesiredState, type AgentReport } from '../lib/api/schemas.ts';
import { RequestSequence, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';

export type Identity = z.infer<typeof AgentIdentity>;

export class ControlPlaneError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the control plane could not be reached at all. */
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ControlPlaneError';
  }

  /** The control plane refused because the cluster was revoked: the agent must stop. */
  get revoked(): boolean {
    return (this.status === 401 || this.status === 403) && /revoked/i.test(this.message);
  }

  /** Worth trying again later: unreachable, throttled or a server-side failure. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export type DesiredStateResult = { changed: false } | { changed: true; state: DesiredState; etag: string | null };

const REQUEST_TIMEOUT_MS = 15_000;

export class ControlPlaneClient {
  /** Orders this agent's reports, also within one second and across restarts. */
  private readonly reportSequence = new RequestSequence();
  private readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async register(registrationToken: string, publicKey: object): Promise<Identity> {
    const body = JSON.stringify({ publicKey });
    const response = await this.send('POST', '/v1/agent/register', body, { Authorization: `Bearer ${registrationToken}` });
    return AgentIdentity.parse(await response.json());
  }

  /** Rotation is signed with the current (old) key; afterwards only the new key is accepted. */
  async rotateKey(identity: Identity, currentKey: AgentKeyPair, nextPublicKey: object): Promise<Identity> {
    const response = await this.signed(identity, currentKey, 'POST', '/v1/agent/keys', JSON.stringify({ publicKey: nextPublicKey }));
    return AgentIdentity.parse(await response.json());
  }

  /** The desired state; `heartbeat` asks the control plane to record that this cluster is alive. */
  async desiredState(identity: Identity, key: AgentKeyPair, etag: string | null, heartbeat = false): Promise<DesiredStateResult> {
    const headers: Record<string, string> = etag ? { 'If-None-Match': etag } : {};
    const response = await this.signed(identity, key, 'GET', `/v1/agent/desired-state${heartbeat ? '?heartbeat=1' : ''}`, undefined, headers);
    if (response.status === 304) return { changed: false };
    return { changed: true, state: DesiredState.parse(await response.json()), etag: response.headers.get('etag') };
  }

  async report(identity: Identity, key: AgentKeyPair, report: AgentReport): Promise<void> {
    const response = await this.signed(identity, key, 'POST', '/v1/agent/reports', JSON.stringify(report), {}, this.reportSequence.next());
    await response.body?.cancel();
  }

  private async signed(
    identity: Identity,
    key: AgentKeyPair,
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    seq?: number,
  ): Promise<Response> {
    const jwt = await signAgentRequest(key, identity.cluster, identity.audience, { method, path, body, seq });
    return this.send(method, path, body, { ...headers, Authorization: `Bearer ${jwt}` });
  }

  private async send(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        body,
        headers: { Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      throw new ControlPlaneError(`${method} ${path}: control plane unreachable (${String(error)}${cause})`, 0, 'unreachable');
    }
    if (response.ok || response.status === 304) return response;
    const text = await response.text();
    let code = 'http_' + response.status;
    let message = text.slice(0, 500);
    try {
      const envelope = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = envelope.error?.code ?? code;
      message = envelope.error?.message ?? message;
    } catch {
      // Not the API's envelope (a proxy in between); keep the raw text.
    }
    throw new ControlPlaneError(`${method} ${path}: ${response.status} ${message}`, response.status, code);
  }
}
