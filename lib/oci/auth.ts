// Registry authentication without the HTTP plumbing: credentials, parsing the
// WWW-Authenticate challenge, and the per-scope token cache. The client
// (client.ts) drives the flow: anonymous first, then whatever the challenge asks.

/** Basic credentials (also used to obtain bearer tokens), or a ready-made bearer token. */
export type RegistryCredentials = { username: string; password: string } | { token: string };

/** Credentials per registry host (`host[:port]`), e.g. from Docker's config.json. */
export type CredentialResolver = (registry: string) => RegistryCredentials | undefined;

export interface AuthChallenge {
  /** Lower-cased: `basic`, `bearer`, … */
  scheme: string;
  /** Parameter names lower-cased: realm, service, scope, error… */
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 9110 §11.6.1), which may carry
 * several challenges: `Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull", Basic realm="x"`.
 */
export function parseChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let position = 0;
  const skipSpaces = () => {
    while (position < header.length && /[\s,]/.test(header[position] ?? '')) position++;
  };
  const readToken = () => {
    const match = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(header.slice(position));
    if (!match) return '';
    position += match[0].length;
    return match[0];
  };
  // Strictly a token, but registries write bare URLs (with ':' and '/') too.
  const readBareValue = () => {
    const match = /^[^,\s]*/.exec(header.slice(position))?.[0] ?? '';
    position += match.length;
    return match;
  };
  const readQuoted = () => {
    let value = '';
    position++; // opening quote
    while (position < header.length && header[position] !== '"') {
      if (header[position] === '\\') position++;
      value += header[position] ?? '';
      position++;
    }
    position++; // closing quote
    return value;
  };

  while (true) {
    skipSpaces();
    const scheme = readToken();
    if (!scheme) break;
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    while (true) {
      const beforeParam = position;
      skipSpaces();
      const name = readToken();
      while (header[position] === ' ') position++;
      if (!name || header[position] !== '=') {
        // Not `name=`: this token starts the next challenge.
        position = beforeParam;
        break;
      }
      position++;
      while (header[position] === ' ') position++;
      challenge.params[name.toLowerCase()] = header[position] === '"' ? readQuoted() : readBareValue();
    }
  }
  return challenges;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The scope a token must grant for an operation on a repository. */
export function repositoryScope(repositoryName: string, push: boolean): string {
  return `repository:${repositoryName}:${push ? 'pull,push' : 'pull'}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Bearer tokens per (registry, scope), dropped shortly before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  constructor(private readonly now: () => number = Date.now) {}

  get(registry: string, scope: string): string | undefined {
    const key = `${registry} ${scope}`;
    const cached = this.tokens.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return cached.token;
  }

  /**
   * `expiresInSeconds` as the token service said (60 s when it did not, per
   * the distribution token spec); kept for that minus a safety margin so a
   * token never expires between our check and the registry's.
   */
  set(registry: string, scope: string, token: string, expiresInSeconds = 60): void {
    const lifetimeMs = expiresInSeconds * 1000;
    const marginMs = Math.min(30_000, lifetimeMs / 4);
    this.tokens.set(`${registry} ${scope}`, { token, expiresAt: this.now() + lifetimeMs - marginMs });
  }

  delete(registry: string, scope: string): void {
    this.tokens.delete(`${registry} ${scope}`);
  }
}
