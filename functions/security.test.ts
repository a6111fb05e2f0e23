// Every route × every way of getting in without the right: 401/403, and nothing changes.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../lib/agent-auth.ts';
import { TokenService, generateSigningKey } from './auth/tokens.ts';
import { digestOf, seedWorld, startFixture, type Fixture } from '../test/support/control-plane.ts';

let f: Fixture;
let agentA: AgentKeyPair;
let agentB: AgentKeyPair;
let unusedRegistrationToken: string;

/** A valid request body per route, so that only identity decides the outcome. */
const BODIES: Record<string, unknown> = {
  'PUT /v1/apps/{app}': { repository: 'registry.example.com/team/web' },
  'POST /v1/apps/{app}/releases': { version: '1.2.3', digest: digestOf(9) },
  'POST /v1/apps/{app}/releases/{version}/block': { reason: 'r' },
  'POST /v1/apps/{app}/releases/{version}/unblock': { reason: 'r' },
  'PUT /v1/environments/{env}': {},
  'PUT /v1/apps/{app}/environments/{env}': { track: '^2.0.0' },
  'PUT /v1/apps/{app}/values': { environments: { dev: { greeting: 'hello' } } },
  'POST /v1/apps/{app}/promotions': { environment: 'prod', version: '1.0.0', reason: 'r' },
  'POST /v1/apps/{app}/rollbacks': { environment: 'prod', reason: 'r' },
  'PUT /v1/clusters/{cluster}': { environment: 'dev', region: 'eu' },
  'POST /v1/clusters/{cluster}/revoke': { reason: 'r' },
  'POST /v1/clusters/{cluster}/suspend': { reason: 'r' },
  'POST /v1/clusters/{cluster}/resume': { reason: 'r' },
  'POST /v1/tokens': { subject: 'x', grants: [{ role: 'admin' }] },
  'POST /v1/tokens/{id}/revoke': { reason: 'r' },
  'POST /v1/agent/register': { publicKey: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' } },
  'POST /v1/agent/keys': { publicKey: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' } },
  'POST /v1/agent/reports': { apps: [] },
  'POST /v1/apps/{app}/rollouts/{rollout}/pause': { reason: 'r' },
  'POST /v1/apps/{app}/rollouts/{rollout}/resume': { reason: 'r' },
  'POST /v1/apps/{app}/rollouts/{rollout}/abort': { reason: 'r' },
  'POST /v1/apps/{app}/releases/{version}/approvals': { environment: 'prod', reason: 'r' },
  'PUT /v1/freeze': { reason: 'r' },
  'POST /v1/freeze/lift': { reason: 'r' },
  'POST /v1/notifications/subscriptions': { destination: { type: 'webhook', url: 'https://hooks.example.com/x' } },
  'POST /v1/notifications/subscriptions/{id}/rotate-secret': {},
};
const PARAMS: Record<string, string> = { app: 'web', version: '1.0.0', env: 'dev', cluster: 'cluster-a', id: '00000000-0000-0000-0000-000000000000', rollout: 'prod-1' };
const PUBLIC = new Set(['/healthz', '/.well-known/jwks.json', '/openapi.json']);

interface Route {
  key: string;
  hasBody: boolean;
  method: string;
  path: string;
  body?: string;
  kind: 'read' | 'write' | 'agent' | 'register';
}

async function snapshot() {
  const items = await f.dynamo.send(new ScanCommand({ TableName: 'flotilla' }));
  const objects = await f.s3.send(new ListObjectsV2Command({ Bucket: 'flotilla' }));
  return {
    items: (items.Items ?? []).map((item) => JSON.stringify(item)).sort(),
    objects: (objects.Contents ?? []).map((o) => o.Key).sort(),
  };
}

let routes: Route[] = [];

beforeAll(async () => {
  f = await startFixture();
  await seedWorld(f);
  await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
  for (const name of ['cluster-a', 'cluster-b']) await f.admin('PUT', `/v1/clusters/${name}`, { environment: 'dev', region: 'us' });
  const register = async (cluster: string) => {
    const { token } = (await f.admin('POST', `/v1/clusters/${cluster}/registration-tokens`)).body;
    const key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
    return key;
  };
  agentA = await register('cluster-a');
  agentB = await register('cluster-b');
  unusedRegistrationToken = (await f.admin('POST', '/v1/clusters/cluster-a/registration-tokens')).body.token;

  const spec = (await f.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  for (const [template, operations] of Object.entries(spec.paths)) {
    if (PUBLIC.has(template)) continue;
    for (const method of Object.keys(operations)) {
      const key = `${method.toUpperCase()} ${template}`;
      const path = template.replace(/\{(\w+)\}/g, (_, name: string) => PARAMS[name]!);
      const body = BODIES[key] === undefined ? undefined : JSON.stringify(BODIES[key]);
      const kind = template === '/v1/agent/register' ? 'register' : template.startsWith('/v1/agent/') ? 'agent' : method === 'get' ? 'read' : 'write';
      routes.push({ key, hasBody: !!operations[method]!.requestBody, method: method.toUpperCase(), path, body, kind });
    }
  }
});
afterAll(() => f.stop());

async function userToken(variant: 'bad-signature' | 'expired' | 'wrong-audience' | 'viewer') {
  const services = f.services;
  if (variant === 'viewer') return f.mint([{ role: 'viewer' }]);
  if (variant === 'expired') {
    return (await services.tokens.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: 60 }, Date.now() - 3600_000)).token;
  }
  const own = f.signingKey;
  const key = variant === 'bad-signature' ? { ...(await generateSigningKey()), kid: own.kid } : own;
  const other = await TokenService.create({
    signingKeys: [key],
    issuer: 'flotilla-test',
    audience: variant === 'wrong-audience' ? 'someone-else' : 'flotilla',
  });
  return (await other.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: 600 })).token;
}

type Attempt = { name: string; token: (route: Route) => Promise<string | undefined>; expect: (route: Route) => number[] };

const sign = (key: AgentKeyPair, cluster: string, route: Route, options: { audience?: string; now?: number; path?: string } = {}) =>
  signAgentRequest(key, cluster, options.audience ?? 'flotilla', { method: route.method, path: options.path ?? route.path, body: route.body ?? '' }, options.now);

const ATTEMPTS: Attempt[] = [
  { name: 'no token', token: async () => undefined, expect: () => [401] },
  {
    name: 'bad signature',
    token: async (r) => (r.kind === 'agent' ? sign({ ...(await generateAgentKey()), keyId: agentA.keyId }, 'cluster-a', r) : userToken('bad-signature')),
    expect: () => [401],
  },
  {
    name: 'expired',
    token: async (r) => (r.kind === 'agent' ? sign(agentA, 'cluster-a', r, { now: Date.now() - 600_000 }) : userToken('expired')),
    expect: () => [401],
  },
  {
    name: 'wrong audience',
    token: async (r) => (r.kind === 'agent' ? sign(agentA, 'cluster-a', r, { audience: 'someone-else' }) : userToken('wrong-audience')),
    expect: () => [401],
  },
  {
    name: 'wrong role',
    // a viewer on a write route; a user token where an agent or registration token is required
    token: async (r) => (r.kind === 'write' ? userToken('viewer') : r.kind === 'read' ? sign(agentA, 'cluster-a', r) : f.adminToken),
    expect: (r) => (r.kind === 'write' ? [403] : [401]),
  },
  {
    name: "another cluster's agent",
    // cluster B's agent claiming to be cluster A, and any agent token on user routes
    token: async (r) => sign(agentB, 'cluster-a', r),
    expect: () => [401],
  },
  {
    name: 'replayed request for another path',
    token: async (r) => sign(agentA, 'cluster-a', r, { path: '/v1/agent/desired-state?other' }),
    expect: () => [401],
  },
];

describe('security matrix', () => {
  it('covers every route of the API', () => {
    expect(routes.length).toBeGreaterThanOrEqual(30);
    for (const route of routes) if (route.hasBody) expect(route.body, route.key).toBeDefined();
  });

  it('answers 401/403 with the error envelope to every attempt and changes nothing', async () => {
    const before = await snapshot();
    const failures: string[] = [];
    for (const route of routes) {
      for (const attempt of ATTEMPTS) {
        const token = await attempt.token(route);
        const res = await f.call(route.method, route.path, { token, body: route.body });
        if (!attempt.expect(route).includes(res.status) || !res.body?.error?.code) {
          failures.push(`${route.key} × ${attempt.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a registration token that was already used, or used for a user route', async () => {
    const key = await generateAgentKey();
    const first = await f.call('POST', '/v1/agent/register', { token: unusedRegistrationToken, body: { publicKey: key.publicJwk } });
    expect(first.status).toBe(200);
    const before = await snapshot();
    // the same registration again (a retry whose answer was lost) is answered the same, and changes nothing
    const again = await f.call('POST', '/v1/agent/register', { token: unusedRegistrationToken, body: { publicKey: key.publicJwk } });
    expect([again.status, again.body]).toEqual([200, first.body]);
    const other = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token: unusedRegistrationToken, body: { publicKey: other.publicJwk } })).status).toBe(401);
    expect((await f.call('GET', '/v1/apps', { token: unusedRegistrationToken })).status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a revoked API token', async () => {
    const issued = (await f.admin('POST', '/v1/tokens', { subject: 'ci', grants: [{ role: 'publisher', apps: ['web'] }] })).body;
    expect((await f.call('GET', '/v1/apps', { token: issued.token })).status).toBe(200);
    const listed = (await f.admin('GET', '/v1/tokens')).body.items.find((t: { id: string }) => t.id === issued.id);
    expect(listed).toMatchObject({ subject: 'ci', revoked: false, expiresAt: issued.expiresAt });
    await f.admin('POST', `/v1/tokens/${issued.id}/revoke`, { reason: 'leaked' });
    const res = await f.call('GET', '/v1/apps', { token: issued.token });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/revoked/);
  });

  it('keeps scoped publishers and promoters inside their scope', async () => {
    const publisher = await f.mint([{ role: 'publisher', apps: ['other'] }]);
    expect((await f.call('POST', '/v1/apps/web/releases', { token: publisher, body: BODIES['POST /v1/apps/{app}/releases'] })).status).toBe(403);
    const devPromoter = await f.mint([{ role: 'promoter', environments: ['dev'] }]);
    const toProd = await f.call('POST', '/v1/apps/web/promotions', { token: devPromoter, body: BODIES['POST /v1/apps/{app}/promotions'] });
    expect(toProd.status).toBe(403);
    expect(toProd.body.error.message).toMatch(/may not promote app web in environment prod/);
    const publisherPromoting = await f.mint([{ role: 'publisher' }]);
    expect((await f.call('POST', '/v1/apps/web/promotions', { token: publisherPromoting, body: BODIES['POST /v1/apps/{app}/promotions'] })).status).toBe(403);
  });
});
