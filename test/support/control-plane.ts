// Test fixture: the real app over real DynamoDB- and S3-compatible servers (dynalite in memory,
// s3rver in a temp dir), driven in-process with app.request(). Each call gets fresh storage.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Grant } from '../../lib/api/schemas.ts';
import { createApp } from '../../functions/app.ts';
import { generateSigningKey, type OidcIssuer } from '../../functions/auth/tokens.ts';
import type { Config } from '../../functions/context.ts';
import { connectStorage, startEmbeddedStorage } from '../../functions/embedded-storage.ts';
import { buildServices } from '../../functions/services.ts';
import { requireTestEnv } from '../env/inject.ts';

export interface FixtureOptions {
  config?: Partial<Config>;
  oidc?: OidcIssuer[];
  now?: () => Date;
  /** Run against moto's server (higher fidelity) instead of dynalite and s3rver. */
  moto?: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
}

async function embeddedServers() {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-test-'));
  const storage = await startEmbeddedStorage(dir, { persist: false });
  return {
    endpoints: storage.endpoints,
    async stop() {
      await storage.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let fixtureCount = 0;

export async function startFixture(options: FixtureOptions = {}) {
  const { moto } = options;
  const servers = moto
    ? {
        endpoints: {
          region: moto.region,
          dynamoEndpoint: moto.endpoint,
          s3Endpoint: moto.endpoint,
          credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
        },
        stop: async () => {},
      }
    : await embeddedServers();
  // moto is shared by the whole run: every fixture gets its own table and bucket there.
  const name = moto ? `flotilla-${process.pid}-${++fixtureCount}` : 'flotilla';
  const { dynamo, s3 } = await connectStorage(servers.endpoints, name, name);

  // Counts DynamoDB requests by operation, as the check-in cost tests need.
  const dynamoCalls: string[] = [];
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      dynamoCalls.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );

  const signingKey = await generateSigningKey();
  const services = await buildServices({
    dynamo,
    s3,
    tableName: name,
    bucket: name,
    signingKeys: [signingKey],
    issuer: 'flotilla-test',
    audience: 'flotilla',
    oidc: options.oidc,
    config: options.config,
    now: options.now,
  });
  const app = createApp(services);
  const mint = async (grants: Grant[], subject = 'tester', ttlSeconds = 3600) =>
    (await services.tokens.mintUserToken({ subject, grants, ttlSeconds })).token;
  const adminToken = await mint([{ role: 'admin' }], 'admin');

  /** JSON request helper: returns status, parsed body and headers. */
  async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await app.request(path, { method, headers, body });
    const text = await response.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: response.status, body: json, headers: response.headers };
  }

  const admin = (method: string, path: string, body?: unknown) => call(method, path, { token: adminToken, body });

  return {
    app,
    services,
    signingKey,
    adminToken,
    mint,
    call,
    admin,
    dynamoCalls,
    /** The raw storage clients, for tests that inspect the table and bucket directly. */
    dynamo,
    s3,
    tableName: name,
    async stop() {
      dynamo.destroy();
      s3.destroy();
      await servers.stop();
    },
  };
}

export type Fixture = Awaited<ReturnType<typeof startFixture>>;

export const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

/** A standard small world: environments dev → prod, one app with dev tracking ^1.0.0. */
export async function seedWorld(f: Fixture, app = 'web') {
  await f.admin('PUT', '/v1/environments/dev', {});
  await f.admin('PUT', '/v1/environments/prod', { upstream: 'dev' });
  await f.admin('PUT', `/v1/apps/${app}`, { repository: '127.0.0.1:5000/team/web', namespace: 'web' });
  await f.admin('PUT', `/v1/apps/${app}/environments/dev`, { track: '^1.0.0' });
  await f.admin('PUT', `/v1/apps/${app}/environments/prod`, { track: null });
}

/** The storage backends the API suites run against: the embedded default, and moto for fidelity. */
export const BACKENDS = ['embedded', 'moto'] as const;

export function backendOptions(backend: (typeof BACKENDS)[number]): FixtureOptions {
  return backend === 'moto' ? { moto: requireTestEnv().moto } : {};
}
