// Request signing for agents. An agent holds its own key pair (the control plane stores only the
// public key) and signs one short-lived JWT per request, bound to the method, path and body hash,
// so a captured token cannot be replayed against another route or with another body.
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

export const AGENT_TOKEN_TYPE = 'flotilla-agent+jwt';
export const REGISTRATION_TOKEN_TYPE = 'flotilla-registration+jwt';
/** Lifetime of one signed request; the control plane also bounds clock skew by it. */
export const AGENT_TOKEN_TTL_SECONDS = 60;
export const AGENT_KEY_ALG = 'EdDSA';

export interface AgentKeyPair {
  privateJwk: JWK;
  publicJwk: JWK;
  keyId: string;
}

export async function generateAgentKey(): Promise<AgentKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(AGENT_KEY_ALG, { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const keyId = await calculateJwkThumbprint(publicJwk);
  return { privateJwk: { ...privateJwk, kid: keyId }, publicJwk: { ...publicJwk, kid: keyId }, keyId };
}

/** base64url(sha256(body)); the empty body has a hash too, so "no body" is bound as well. */
export function bodyHash(body: string | Uint8Array = ''): string {
  return createHash('sha256').update(body).digest('base64url');
}

export interface SignedRequest {
  method: string;
  /** Path plus query string, exactly as sent. */
  path: string;
  body?: string | Uint8Array;
  /**
   * The request's place in the agent's own order (reports): a counter that only grows, also
   * across restarts (milliseconds since the epoch at least), so the control plane can refuse an
   * older report replayed within the same second. Signed as the `seq` claim.
   */
  seq?: number;
}

/** A strictly increasing counter of the agent's requests, never below the clock in milliseconds. */
export class RequestSequence {
  private last = 0;

  next(now = Date.now()): number {
    this.last = Math.max(this.last + 1, now);
    return this.last;
  }
}

export async function signAgentRequest(
  key: AgentKeyPair,
  cluster: string,
  audience: string,
  request: SignedRequest,
  now = Date.now(),
): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, AGENT_KEY_ALG);
  const iat = Math.floor(now / 1000);
  return new SignJWT({ htm: request.method.toUpperCase(), htu: request.path, bh: bodyHash(request.body), ...(request.seq === undefined ? {} : { seq: request.seq }) })
    .setProtectedHeader({ alg: AGENT_KEY_ALG, typ: AGENT_TOKEN_TYPE, kid: key.keyId })
    .setSubject(cluster)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + AGENT_TOKEN_TTL_SECONDS)
    .setJti(randomUUID())
    .sign(privateKey);
}
