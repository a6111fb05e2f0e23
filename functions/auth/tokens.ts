// Token crypto, apart from any HTTP glue: the control plane's own signed tokens, OIDC federation
// and agent request tokens. Every verification failure is an AuthError with a one-line reason.
import { hkdfSync, randomUUID } from 'node:crypto';
import {
  SignJWT,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  calculateJwkThumbprint,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type CryptoKey,
} from 'jose';
import { AGENT_KEY_ALG, AGENT_TOKEN_TTL_SECONDS, AGENT_TOKEN_TYPE, REGISTRATION_TOKEN_TYPE, bodyHash } from '../../lib/agent-auth.ts';
import { Grant, type Grant as GrantType } from '../../lib/api/schemas.ts';

export const USER_TOKEN_TYPE = 'flotilla+jwt';
const SIGNING_ALG = 'EdDSA';
const CLOCK_TOLERANCE_SECONDS = 30;
/** Asymmetric algorithms only: an issuer's JWKS never verifies an HMAC or `none` token. */
const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export class AuthError extends Error {
  constructor(
    message: string,
    /** 401: who you are is not established; 403: established, but not allowed in. */
    readonly status: 401 | 403 = 401,
  ) {
    super(message);
  }
}

export interface Principal {
  subject: string;
  grants: GrantType[];
  /** Token id for control-plane tokens (revocable); absent for OIDC tokens. */
  tokenId?: string;
  issuer: string;
}

export interface OidcRule {
  /** Every listed claim must equal the value (or one of the values); `*` at the end matches a prefix. */
  claims: Record<string, string | string[]>;
  grants: GrantType[];
}

export interface OidcIssuer {
  issuer: string;
  audience: string;
  /** Defaults to <issuer>/.well-known/jwks.json. */
  jwksUri?: string;
  /** Claim used as the actor name; defaults to `sub`. */
  subjectClaim?: string;
  rules: OidcRule[];
}

export interface TokenServiceOptions {
  /** Private Ed25519 JWKs; the first signs, all verify (key rotation). */
  signingKeys: JWK[];
  issuer: string;
  audience: string;
  oidc?: OidcIssuer[];
  /** The clock tokens are minted and verified by; tests move it. */
  now?: () => Date;
}

/** A new Ed25519 signing key as a private JWK with its thumbprint as `kid`. */
export async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...publicPart } = jwk;
  return { ...jwk, kid: await calculateJwkThumbprint(publicPart), alg: SIGNING_ALG, use: 'sig' };
}

export class TokenService {
  private constructor(
    private readonly options: TokenServiceOptions,
    private readonly signingKey: CryptoKey,
    private readonly signingKid: string,
    readonly publicJwks: { keys: JWK[] },
    private readonly ownKeys: JWTVerifyGetKey,
    private readonly federated: Map<string, { config: OidcIssuer; keys: JWTVerifyGetKey }>,
  ) {}

  /** Checks the options now, so a misconfigured deployment fails at start, not on the first request. */
  static async create(options: TokenServiceOptions): Promise<TokenService> {
    const [first] = options.signingKeys;
    if (!first?.d || !first.kid) throw new Error('TokenService: the first signing key must be a private JWK with a kid');
    if (!options.audience || !options.issuer) throw new Error('TokenService: issuer and audience are required');
    const publicKeys = options.signingKeys.map(({ d: _d, ...publicPart }) => ({ ...publicPart, alg: SIGNING_ALG, use: 'sig' }));
    const federated = new Map<string, { config: OidcIssuer; keys: JWTVerifyGetKey }>();
    for (const config of options.oidc ?? []) {
      if (!config.issuer || !config.audience || !Array.isArray(config.rules)) {
        throw new Error(`TokenService: OIDC issuer ${JSON.stringify(config.issuer)} needs issuer, audience and rules`);
      }
      for (const rule of config.rules) for (const grant of rule.grants) Grant.parse(grant);
      const jwksUri = new URL(config.jwksUri ?? `${config.issuer.replace(/\/$/, '')}/.well-known/jwks.json`);
      federated.set(config.issuer, { config, keys: createRemoteJWKSet(jwksUri, { cooldownDuration: 30_000 }) });
    }
    return new TokenService(
      options,
      (await importJWK(first, SIGNING_ALG)) as CryptoKey,
      first.kid,
      { keys: publicKeys },
      createLocalJWKSet({ keys: publicKeys }),
      federated,
    );
  }

  /**
   * A 32-byte key for another purpose (the dashboard's CSRF tokens and sign-in state), derived
   * from the signing key: no second secret to deploy; rotating the signing key rotates it too.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', Buffer.from(this.options.signingKeys[0]!.d!, 'base64url'), 'flotilla', purpose, 32));
  }

  get audience() {
    return this.options.audience;
  }

  private now(): number {
    return (this.options.now?.() ?? new Date()).getTime();
  }

  private sign(payload: JWTPayload, type: string, ttlSeconds: number, now: number) {
    const iat = Math.floor(now / 1000);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: SIGNING_ALG, typ: type, kid: this.signingKid })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(this.signingKey);
  }

  async mintUserToken(input: { subject: string; grants: GrantType[]; ttlSeconds: number; id?: string }, now = this.now()) {
    const id = input.id ?? randomUUID();
    const token = await this.sign(
      { sub: input.subject, grants: input.grants, jti: id },
      USER_TOKEN_TYPE,
      input.ttlSeconds,
      now,
    );
    return { id, token, expiresAt: new Date(now + input.ttlSeconds * 1000) };
  }

  async mintRegistrationToken(cluster: string, ttlSeconds: number, now = this.now()) {
    const id = randomUUID();
    const token = await this.sign({ sub: cluster, jti: id }, REGISTRATION_TOKEN_TYPE, ttlSeconds, now);
    return { id, token, expiresAt: new Date(now + ttlSeconds * 1000) };
  }

  /** A control-plane token or a federated OIDC token, mapped to grants. Revocation is the caller's check. */
  async verifyUserToken(token: string): Promise<Principal> {
    const claims = decodeUnverified(token);
    const federated = typeof claims.iss === 'string' ? this.federated.get(claims.iss) : undefined;
    if (federated) return this.verifyFederated(token, federated.config, federated.keys);
    const { payload } = await verify(token, this.ownKeys, {
      currentDate: new Date(this.now()),
      issuer: this.options.issuer,
      audience: this.options.audience,
      typ: USER_TOKEN_TYPE,
      algorithms: [SIGNING_ALG],
    });
    const grants = Grant.array().safeParse(payload.grants);
    if (!grants.success || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
      throw new AuthError('token has no valid subject, id or grants');
    }
    return { subject: payload.sub, grants: grants.data, tokenId: payload.jti, issuer: this.options.issuer };
  }

  private async verifyFederated(token: string, config: OidcIssuer, keys: JWTVerifyGetKey): Promise<Principal> {
    const { payload } = await verify(token, keys, {
      currentDate: new Date(this.now()),
      issuer: config.issuer,
      audience: config.audience,
      algorithms: OIDC_ALGORITHMS,
      requiredClaims: ['exp', 'iat'],
    });
    const grants = config.rules.filter((rule) => ruleMatches(rule, payload)).flatMap((rule) => rule.grants);
    if (grants.length === 0) throw new AuthError(`no rule of issuer ${config.issuer} grants this identity a role`, 403);
    const subject = payload[config.subjectClaim ?? 'sub'];
    if (typeof subject !== 'string') throw new AuthError('token has no subject claim');
    return { subject: `${subject}`, grants, issuer: config.issuer };
  }

  async verifyRegistrationToken(token: string): Promise<{ cluster: string; id: string; issuedAt: number }> {
    const { payload } = await verify(token, this.ownKeys, {
      currentDate: new Date(this.now()),
      issuer: this.options.issuer,
      audience: this.options.audience,
      typ: REGISTRATION_TOKEN_TYPE,
      algorithms: [SIGNING_ALG],
    });
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.iat !== 'number') {
      throw new AuthError('malformed registration token');
    }
    return { cluster: payload.sub, id: payload.jti, issuedAt: payload.iat };
  }
}

/** The key id an agent token names (unverified), to tell a cached key from the one it was signed with. */
export function tokenKeyId(token: string): string | undefined {
  const { kid } = decodeHeader(token);
  return typeof kid === 'string' ? kid : undefined;
}

/** The cluster an agent token claims to be, read before verification to find its key. */
export function agentTokenSubject(token: string): string {
  const header = decodeHeader(token);
  if (header.typ !== AGENT_TOKEN_TYPE) throw new AuthError('an agent request token is required');
  const { sub } = decodeUnverified(token);
  if (typeof sub !== 'string') throw new AuthError('agent token has no subject');
  return sub;
}

/**
 * Imported agent keys by their `x` (an Ed25519 public key is its own identity): importing is a
 * good part of a check-in's CPU. Bounded; holds public keys only, so nothing to revoke here.
 */
const importedAgentKeys = new Map<string, Promise<unknown>>();

function agentPublicKey(jwk: JWK): Promise<unknown> {
  const id = `${jwk.crv}:${jwk.x}`;
  let imported = importedAgentKeys.get(id);
  if (!imported) {
    imported = importJWK(jwk, AGENT_KEY_ALG).catch(() => {
      importedAgentKeys.delete(id);
      throw new AuthError('the cluster key cannot be used');
    });
    if (importedAgentKeys.size >= 50_000) importedAgentKeys.clear();
    importedAgentKeys.set(id, imported);
  }
  return imported;
}

/** Verifies a per-request agent token against the cluster's registered key and the request itself. */
export async function verifyAgentToken(
  token: string,
  key: { publicKey: JWK; keyId: string },
  expected: { cluster: string; audience: string; method: string; path: string; body: Uint8Array; now: Date },
): Promise<{ issuedAt: number; seq?: number }> {
  if (decodeHeader(token).kid !== key.keyId) throw new AuthError('invalid agent token');
  const publicKey = await agentPublicKey(key.publicKey);
  // A signature that does not verify gets the same answer as an unknown cluster.
  const { payload } = await verify(token, publicKey as CryptoKey, {
    unverifiedAs: 'invalid agent token',
    currentDate: expected.now,
    audience: expected.audience,
    subject: expected.cluster,
    typ: AGENT_TOKEN_TYPE,
    algorithms: [AGENT_KEY_ALG],
    maxTokenAge: AGENT_TOKEN_TTL_SECONDS,
    // the agent's clock signs every request, so a replay window is its lifetime and no more
    clockTolerance: 5,
  });
  if (payload.htm !== expected.method || payload.htu !== expected.path) {
    throw new AuthError('agent token was signed for another request');
  }
  if (payload.bh !== bodyHash(expected.body)) throw new AuthError('agent token does not match the request body');
  const seq = typeof payload.seq === 'number' && Number.isSafeInteger(payload.seq) && payload.seq >= 0 ? payload.seq : undefined;
  return { issuedAt: payload.iat as number, seq };
}

async function verify(
  token: string,
  key: JWTVerifyGetKey | CryptoKey,
  { unverifiedAs, ...options }: NonNullable<Parameters<typeof jwtVerify>[2]> & { unverifiedAs?: string },
): Promise<{ payload: JWTPayload }> {
  try {
    return await jwtVerify(token, key as JWTVerifyGetKey, { clockTolerance: CLOCK_TOLERANCE_SECONDS, ...options });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    // Failures before the signature is known good: the caller may want one answer for all of them.
    if (unverifiedAs && !code.startsWith('ERR_JWT_')) throw new AuthError(unverifiedAs);
    const reason =
      code === 'ERR_JWT_EXPIRED'
        ? 'token has expired'
        : code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
          ? 'token signature is invalid'
          : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
            ? `token claim ${(err as { claim?: string }).claim ?? ''} is not acceptable`.replace('  ', ' ')
            : code === 'ERR_JWKS_NO_MATCHING_KEY'
              ? 'token is signed with an unknown key'
              : code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JOSE_GENERIC'
                ? 'token issuer keys are unavailable'
                : 'token is invalid';
    throw new AuthError(reason);
  }
}

function decodeHeader(token: string) {
  try {
    return decodeProtectedHeader(token);
  } catch {
    throw new AuthError('token is not a JWT');
  }
}

function decodeUnverified(token: string): JWTPayload {
  try {
    return decodeJwt(token);
  } catch {
    throw new AuthError('token is not a JWT');
  }
}

function ruleMatches(rule: OidcRule, payload: JWTPayload): boolean {
  return Object.entries(rule.claims).every(([claim, expected]) => {
    const actual = payload[claim];
    if (typeof actual !== 'string') return false;
    return (Array.isArray(expected) ? expected : [expected]).some((pattern) =>
      pattern.endsWith('*') ? actual.startsWith(pattern.slice(0, -1)) : actual === pattern,
    );
  });
}
