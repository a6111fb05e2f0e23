// A minimal Docker/OCI registry token server (the "realm" of distribution's `auth: token`) for the
// test environment: it checks a username/password and issues a short-lived ES256 JWT granting
// every action asked for in the requested scopes. The registry trusts the key through a JWKS
// file, matched on the token header's `kid`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export interface RegistryTokenServerOptions {
  /** The `issuer` the registry is configured to trust. */
  issuer: string;
  /** The registry's `service` name: the token's audience. */
  service: string;
  username: string;
  password: string;
  /** Where to write the JWKS the registry's `auth.token.jwks` points at. */
  jwksPath: string;
  tokenLifetimeSeconds?: number;
}

export interface RegistryTokenServer {
  /** http://127.0.0.1:PORT/token: the registry's `auth.token.realm`. */
  realm: string;
  close(): Promise<void>;
}

interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

/** Parses `repository:team/app:pull,push` (names may contain ':' only before a port, so split from both ends). */
export function parseScope(scope: string): ResourceAccess | undefined {
  const firstColon = scope.indexOf(':');
  const lastColon = scope.lastIndexOf(':');
  if (firstColon < 0 || lastColon <= firstColon) return undefined;
  const actions = scope
    .slice(lastColon + 1)
    .split(',')
    .filter((action) => action !== '');
  return { type: scope.slice(0, firstColon), name: scope.slice(firstColon + 1, lastColon), actions };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startRegistryTokenServer(options: RegistryTokenServerOptions): Promise<RegistryTokenServer> {
  const lifetime = options.tokenLifetimeSeconds ?? 300;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const keyId = await calculateJwkThumbprint(publicJwk);
  await writeFile(options.jwksPath, JSON.stringify({ keys: [{ ...publicJwk, kid: keyId, alg: 'ES256', use: 'sig' }] }));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://token-server');
    if (url.pathname !== '/token') {
      response.writeHead(404).end();
      return;
    }
    // GET with Basic credentials is the Docker token flow; POST with a form is the OAuth2
    // password grant some clients use instead. Both carry the same facts.
    let username: string | undefined;
    let password: string | undefined;
    let service = url.searchParams.get('service');
    let scopes = url.searchParams.getAll('scope');
    if (request.method === 'POST') {
      const form = new URLSearchParams(await readBody(request));
      username = form.get('username') ?? undefined;
      password = form.get('password') ?? undefined;
      service = form.get('service') ?? service;
      scopes = form.getAll('scope').length > 0 ? form.getAll('scope') : scopes;
    }
    const authorization = request.headers.authorization;
    if (authorization?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (username === undefined || password === undefined || !sameSecret(username, options.username) || !sameSecret(password, options.password)) {
      response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="flotilla-test-registry"' });
      response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    if (service !== null && service !== options.service) {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message: `unknown service ${service}` }] }));
      return;
    }
    // Scopes are space-separated inside one parameter as well as repeated parameters.
    const access = scopes
      .flatMap((scope) => scope.split(' '))
      .map(parseScope)
      .filter((item): item is ResourceAccess => item !== undefined);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: keyId })
      .setIssuer(options.issuer)
      .setSubject(username)
      .setAudience(options.service)
      .setIssuedAt(now)
      .setNotBefore(now - 1)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(privateKey);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ token, access_token: token, expires_in: lifetime, issued_at: new Date(now * 1000).toISOString() }),
    );
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
