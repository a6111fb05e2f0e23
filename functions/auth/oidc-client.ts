// The dashboard's OpenID Connect sign-in (authorization code with PKCE, RFC 7636): discovery, the
// authorization URL and the code exchange. The id token it gets back is then verified like any
// bearer token, by the OIDC federation (tokens.ts), whose claim rules decide the grants.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { AuthError } from './tokens.ts';

export interface OidcSignInConfig {
  /** One of the federation's issuers (FLOTILLA_OIDC); its audience is this client's id. */
  issuer: string;
  clientId: string;
  /** A confidential client's secret (sent as client_secret_basic); without one the client is public (PKCE only). */
  clientSecret?: string;
  /** Default: <the request's origin>/ui/callback. */
  redirectUri?: string;
  /** Space-separated; `openid` is always asked for. */
  scopes?: string;
}

/** What the browser holds (sealed) between leaving for the issuer and coming back. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  next: string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

const TIMEOUT_MS = 5_000;
const random = () => randomBytes(32).toString('base64url');

export class OidcSignIn {
  private discovery: Promise<Discovery> | null = null;

  constructor(readonly config: OidcSignInConfig) {}

  /** The issuer's endpoints, read once per process (again after a failure). */
  private endpoints(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!response.ok) throw new AuthError(`the sign-in issuer answered ${response.status} for its configuration`);
      const document = (await response.json()) as Partial<Discovery> & { issuer?: string };
      if (document.issuer !== this.config.issuer || !document.authorization_endpoint || !document.token_endpoint) {
        throw new AuthError('the sign-in issuer published an unusable configuration');
      }
      return { authorization_endpoint: document.authorization_endpoint, token_endpoint: document.token_endpoint };
    })();
    this.discovery.catch(() => (this.discovery = null));
    return this.discovery;
  }

  /** Where to send the browser, and what to keep until it comes back. */
  async start(redirectUri: string, next: string): Promise<{ url: string; pending: PendingSignIn }> {
    const { authorization_endpoint } = await this.endpoints();
    const pending: PendingSignIn = { state: random(), nonce: random(), verifier: random(), redirectUri, next };
    const scopes = new Set(['openid', ...(this.config.scopes ?? '').split(/\s+/).filter(Boolean)]);
    const url = new URL(authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.config.clientId,
      redirect_uri: redirectUri,
      scope: [...scopes].join(' '),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return { url: url.toString(), pending };
  }

  /** Trades the code for the id token; checks the nonce (the signature, issuer and audience are the federation's check). */
  async finish(code: string, pending: PendingSignIn): Promise<string> {
    const { token_endpoint } = await this.endpoints();
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier });
    if (this.config.clientSecret) {
      const basic = `${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(this.config.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    } else body.set('client_id', this.config.clientId);
    const response = await fetch(token_endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const answer = (await response.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown; error_description?: unknown };
    if (!response.ok || typeof answer.id_token !== 'string') {
      const why = typeof answer.error_description === 'string' ? answer.error_description : typeof answer.error === 'string' ? answer.error : `status ${response.status}`;
      throw new AuthError(`the sign-in issuer refused the code: ${why.slice(0, 200)}`);
    }
    let nonce: unknown;
    try {
      nonce = decodeJwt(answer.id_token).nonce;
    } catch {
      throw new AuthError('the sign-in issuer returned no valid id token');
    }
    if (nonce !== pending.nonce) throw new AuthError('the id token is not the one this sign-in asked for (nonce)');
    return answer.id_token;
  }
}
