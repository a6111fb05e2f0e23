// Authentication middleware: establishes who is calling; handlers then call `authorize`.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, Services } from '../context.ts';
import { ApiError, forbidden, unauthorized } from '../errors.ts';
import { isAllowed, type Permission, type Scope } from './authorize.ts';
import { AuthError, agentTokenSubject, tokenKeyId, verifyAgentToken, type Principal } from './tokens.ts';

export function bearer(c: Context): string {
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthorized(header ? 'Authorization must be "Bearer <token>"' : 'a bearer token is required');
  return match[1]!;
}

const asApiError = (err: unknown) =>
  err instanceof AuthError ? new ApiError(err.status === 403 ? 'forbidden' : 'unauthorized', err.message) : err;

/** Who a user token names: a control-plane or OIDC token, verified and not revoked (the API's bearer and the dashboard's session alike). */
export async function authenticateToken(services: Services, token: string): Promise<Principal> {
  let principal: Principal;
  try {
    principal = await services.tokens.verifyUserToken(token);
  } catch (err) {
    throw asApiError(err);
  }
  if (principal.tokenId && (await services.storage.tokens.get(principal.tokenId))?.revoked) {
    throw unauthorized('token has been revoked');
  }
  return principal;
}

/** Users, scripts and federated identities: a control-plane or OIDC token that is not revoked. */
export const authenticateUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c);
  c.set('principal', await authenticateToken(c.get('services'), token));
  await next();
};

/**
 * Agents: a per-request token signed by the cluster's registered key and bound to this exact
 * method, path and body. The raw body is read here, before any parsing, so its hash is exact.
 */
export const authenticateAgent: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { storage, tokens } = c.get('services');
  try {
    const token = bearer(c);
    const name = agentTokenSubject(token);
    const { config, now } = c.get('services');
    const valid = /^[a-z0-9-]{1,63}$/.test(name);
    // The cluster as this process read it a few seconds ago at most (agentCacheSeconds): a check-in
    // reads nothing. A key that does not match the token (rotated or registered since) is read again.
    const held = () => storage.clusters.getCached(name, now().getTime(), config.agentCacheSeconds * 1000);
    let cluster = valid ? await held() : null;
    if (cluster && cluster.keyId !== tokenKeyId(token)) {
      storage.clusters.forget(name);
      cluster = await held();
    }
    // One vague 401 for every failure, so the answer does not tell a stranger which clusters
    // exist or are revoked; only an agent whose signature verifies is told plainly it is revoked.
    if (!cluster?.publicKey || !cluster.keyId) throw new AuthError('invalid agent token');
    const rawBody = new Uint8Array(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const { issuedAt, seq } = await verifyAgentToken(
      token,
      { publicKey: cluster.publicKey, keyId: cluster.keyId },
      { cluster: name, audience: tokens.audience, method: c.req.method, path: url.pathname + url.search, body: rawBody, now: now() },
    );
    if (cluster.revoked) throw new AuthError(`cluster ${name} has been revoked`, 403);
    c.set('cluster', cluster);
    c.set('rawBody', rawBody);
    c.set('agentTokenIssuedAt', issuedAt);
    c.set('agentRequestSeq', seq);
  } catch (err) {
    throw asApiError(err);
  }
  await next();
};

/** The authorization call at the top of each user handler; returns the actor name for the audit trail. */
export function authorize(c: Context<AppEnv>, permission: Permission, scope: Scope = {}): string {
  const principal = c.get('principal');
  if (!isAllowed(principal.grants, permission, scope)) {
    const target = [scope.app && `app ${scope.app}`, scope.environment && `environment ${scope.environment}`]
      .filter(Boolean)
      .join(' in ');
    throw forbidden(`${principal.subject} may not ${permission}${target ? ` ${target}` : ''}`);
  }
  return principal.subject;
}
