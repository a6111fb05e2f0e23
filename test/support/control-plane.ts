// Test fixture: the real app over real DynamoDB- and S3-compatible servers (dynalite in memory,
// s3rver in a temp dir), driven in-process with app.request(). Each call gets fresh storage.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import type { Grant } from '../../lib/api/schemas.ts';
import { createApp } from '../../functions/app.ts';
import type { OidcSignInConfig } from '../../functions/auth/oidc-client.ts';
import { generateSigningKey, type OidcIssuer } from '../../functions/auth/tokens.ts';
import type { Config } from '../../functions/context.ts';
import { connectStorage, startEmbeddedStorage } from '../../functions/embedded-storage.ts';
import { buildServices, type ConfigOverrides } from '../../functions/services.ts';
import { requireTestEnv } from '../env/inject.ts';

export interface FixtureOptions {
  config?: ConfigOverrides;
  oidc?: OidcIssuer[];
  /** The dashboard's OIDC sign-in (a client of one of `oidc`'s issuers). */
  signIn?: OidcSignInConfig;
  now?: () => Date;
  /** Kill the control plane at a write boundary (see CrashPlan). */
  crash?: CrashPlan;
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

/** What a crashed control plane throws from then on: it is dead, nothing more reaches storage. */
export class CrashError extends Error {
  override readonly name = 'CrashError';
}

/**
 * A crash at a write boundary, for the crash-point tests: `crashAt: n` kills the control plane just
 * before its n-th write (DynamoDB or S3) since it was armed. After that every storage call of that
 * instance fails, as a killed process's would; `restart()` starts a fresh one on the same storage,
 * under the same plan (disarm it with `crashAt: undefined`).
 */
export interface CrashPlan {
  crashAt?: number;
  writes: number;
  crashed: boolean;
}

const WRITES = /^(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems|PutObject|DeleteObject|CopyObject)Command$/;

/** Storage middleware of a test's own clients: counts writes and kills the instance where the plan says. */
function instrumentCrashes(clients: { dynamo: DynamoDBClient; s3: S3Client }, plan: CrashPlan) {
  // This instance only: a restarted one (new clients) lives on under the same plan.
  let dead = false;
  const crashPoint = <Input extends object, Output extends object>(
    next: (args: { input: Input }) => Promise<Output>,
    context: { commandName?: string },
  ) =>
    async (args: { input: Input }): Promise<Output> => {
      if (dead) throw new CrashError('the control plane was killed');
      if (WRITES.test(String(context.commandName))) {
        plan.writes++;
        if (plan.crashAt !== undefined && plan.writes >= plan.crashAt) {
          dead = plan.crashed = true;
          throw new CrashError(`killed before write ${plan.writes} (${context.commandName})`);
        }
      }
      return next(args);
    };
  clients.dynamo.middlewareStack.add((next, context) => crashPoint(next, context), { step: 'initialize', name: 'crashPoints' });
  clients.s3.middlewareStack.add((next, context) => crashPoint(next, context), { step: 'initialize', name: 'crashPoints' });
}

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
  const build = (clients: { dynamo: DynamoDBClient; s3: S3Client }) =>
    buildServices({
      ...clients,
      tableName: name,
      bucket: name,
      signingKeys: [signingKey],
      issuer: 'flotilla-test',
      audience: 'flotilla',
      oidc: options.oidc,
      signIn: options.signIn,
      config: options.config,
      now: options.now,
    });
  if (options.crash) instrumentCrashes({ dynamo, s3 }, options.crash);
  let services = await build({ dynamo, s3 });
  let app = createApp(services);
  const restarted: { dynamo: DynamoDBClient; s3: S3Client }[] = [];
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
    get app() {
      return app;
    },
    get services() {
      return services;
    },
    /**
     * A fresh control plane (new clients, services and app) on the same storage and signing key,
     * as after a crash and restart; the old instance stays dead. The new one has no crash plan.
     */
    async restart() {
      const clients = await connectStorage(servers.endpoints, name, name);
      if (options.crash) instrumentCrashes(clients, options.crash);
      restarted.push(clients);
      services = await build(clients);
      app = createApp(services);
    },
    /**
     * A second control plane on the same storage and key, as a second Lambda container: its own
     * process-held caches. Returns a request function like `call`.
     */
    async sibling() {
      const other = createApp(await build({ dynamo, s3 }));
      return async (method: string, path: string, options: { token?: string; body?: string; headers?: Record<string, string> } = {}) => {
        const headers: Record<string, string> = { ...options.headers, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
        if (options.body !== undefined) headers['content-type'] ??= 'application/json';
        const response = await other.request(path, { method, headers, body: options.body });
        const text = await response.text();
        return { status: response.status, body: text ? JSON.parse(text) : null };
      };
    },
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
      for (const clients of [{ dynamo, s3 }, ...restarted]) {
        clients.dynamo.destroy();
        clients.s3.destroy();
      }
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

/**
 * What a cluster's agent does: reads its desired state and reports every app of it in `phase`
 * (signed with `seq`, at `now`). Returns the report's status and app → version of the state.
 */
export async function reportEveryApp(f: Fixture, name: string, key: AgentKeyPair, phase: string, seq: number, now: number) {
  const get = await signAgentRequest(key, name, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' }, now);
  const state = (await f.call('GET', '/v1/agent/desired-state', { token: get })).body;
  const apps = state.apps.map((app: { name: string; version: string; digest: string }) => ({ name: app.name, version: app.version, digest: app.digest, phase, drift: [], conditions: [], counts: {} }));
  const body = JSON.stringify({ apps });
  const jwt = await signAgentRequest(key, name, 'flotilla', { method: 'POST', path: '/v1/agent/reports', body, seq }, now);
  const { status } = await f.call('POST', '/v1/agent/reports', { token: jwt, body });
  return { status, versions: Object.fromEntries(state.apps.map((app: { name: string; version: string }) => [app.name, app.version])) as Record<string, string> };
}
