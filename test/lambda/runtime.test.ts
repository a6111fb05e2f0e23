// The shipped Lambda bundle (scripts/build.ts, built fresh here) run as the nodejs24.x runtime runs
// it: AWS's Runtime Interface Emulator with the Runtime Interface Client on Node 24, the function's
// environment as infra/ sets it, the signing keys read from an SSM SecureString at cold start and
// storage on moto. Requests arrive as Function URL events (payload format 2.0) and the checks are
// on what a client of the Function URL would see. One cold start; every other invoke is warm.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import { buildLambda } from '../../scripts/build.ts';
import { Webhook } from 'standardwebhooks';
import { requireTestEnv } from '../env/inject.ts';
import { startReceiver } from '../support/receiver.ts';
import { deployOnMoto, type Deployment } from './deployment.ts';
import { asHttpResponse, functionUrlEvent, startEmulator, type Emulator, type FunctionUrlRequest, type FunctionUrlResult } from './emulator.ts';

const moto = requireTestEnv().moto;
const stage = `rt-${process.pid}`;
let dir: string;
let deployment: Deployment;
let emulator: Emulator;
let adminToken: string;
/** Notification receivers of these tests listen on loopback, which the SSRF rule refuses unless allowed. */
const NOTIFY_LOOPBACK = { FLOTILLA_NOTIFY_ALLOW_CIDRS: '127.0.0.0/8' };

/** One HTTP request to the Function URL, through the emulator. */
async function request(req: FunctionUrlRequest) {
  const { payload } = await emulator.invoke<FunctionUrlResult>(functionUrlEvent(req));
  const response = asHttpResponse(payload);
  let json: any = null;
  try {
    json = response.text ? JSON.parse(response.text) : null;
  } catch {
    json = undefined;
  }
  return { ...response, json, raw: payload };
}

const admin = (method: string, path: string, body?: unknown) =>
  request({
    method,
    path,
    headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function agent(cluster: string, key: AgentKeyPair, method: string, path: string, options: { body?: string; headers?: Record<string, string>; seq?: number } = {}) {
  const jwt = await signAgentRequest(key, cluster, 'flotilla', { method, path, body: options.body ?? '', seq: options.seq });
  return request({
    method,
    path,
    headers: { authorization: `Bearer ${jwt}`, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    body: options.body,
  });
}

/** The shared error envelope (functions/errors.ts), as JSON. */
function expectEnvelope(res: Awaited<ReturnType<typeof request>>, status: number, code: string, message: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.json).toEqual({ error: { code, message: expect.stringMatching(message), requestId: expect.any(String) } });
  expect(res.headers.get('x-request-id')).toBe(res.json.error.requestId);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-lambda-'));
  const [, deployed] = await Promise.all([buildLambda(join(dir, 'task')), deployOnMoto(moto, stage)]);
  deployment = deployed;
  adminToken = await deployment.adminToken();
  emulator = await startEmulator({ taskRoot: join(dir, 'task'), environment: { ...deployment.environment, ...NOTIFY_LOOPBACK } });
});

afterAll(async () => {
  await emulator?.stop();
  await deployment?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the Lambda bundle in the runtime emulator, through Function URL events', () => {
  it('cold-starts once, with the signing keys from SSM, and answers GET /healthz', async () => {
    const res = await request({ method: 'GET', path: '/healthz' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toEqual({ ok: true });
    expect(res.raw).toMatchObject({ isBase64Encoded: false });
    // The public half of the key in the SecureString is what the function publishes.
    const jwks = await request({ method: 'GET', path: '/.well-known/jwks.json' });
    expect(jwks.json.keys.map((key: { kid: string }) => key.kid)).toEqual([deployment.signingKey.kid]);
    expect(jwks.json.keys[0]).not.toHaveProperty('d');
    expect(emulator.initDurations()).toHaveLength(1);
  });

  it('serves the dashboard and the API docs with their own assets from the bundle', async () => {
    const signin = await request({ method: 'GET', path: '/ui/signin' });
    expect(signin.status).toBe(200);
    expect(signin.headers.get('content-security-policy')).toContain("default-src 'none'");
    // a Function URL response carries its cookies apart from the headers
    expect(JSON.stringify(signin.raw)).toMatch(/__Host-flotilla-pre=[^"]*Secure/);
    const bundle = await request({ method: 'GET', path: '/docs/assets/swagger-ui-bundle.js' });
    expect(bundle.status).toBe(200);
    expect(bundle.text).toContain('SwaggerUIBundle');
  });

  it('takes an authenticated write and reads it back from moto', async () => {
    const unauthenticated = await request({ method: 'PUT', path: '/v1/environments/dev', headers: { 'content-type': 'application/json' }, body: '{}' });
    expectEnvelope(unauthenticated, 401, 'unauthorized', /token/);
    expect(unauthenticated.headers.get('www-authenticate')).toBe('Bearer');

    const created = await admin('PUT', '/v1/environments/dev', {});
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await admin('PUT', '/v1/apps/web', { repository: '127.0.0.1:5000/team/web', namespace: 'web' })).status).toBe(201);
    expect((await admin('PUT', '/v1/apps/web/environments/dev', { track: '^1.0.0' })).status).toBeLessThan(300);
    const read = await admin('GET', '/v1/apps/web');
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ name: 'web', repository: '127.0.0.1:5000/team/web', namespace: 'web' });
  });

  it('decodes a base64-encoded body, as a Function URL sends one it takes for binary', async () => {
    const body = JSON.stringify({ version: '1.0.0', digest: `sha256:${'1'.repeat(64)}` });
    const res = await request({
      method: 'POST',
      path: '/v1/apps/web/releases',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body,
      base64: true,
    });
    expect(res.status, res.text).toBe(201);
    expect((await admin('GET', '/v1/apps/web/releases')).json).toMatchObject({ items: [expect.objectContaining({ version: '1.0.0' })] });
  });

  describe('an agent', () => {
    const cluster = 'dev-1';
    let key: AgentKeyPair;

    it('registers with a one-time token', async () => {
      expect((await admin('PUT', `/v1/clusters/${cluster}`, { environment: 'dev', region: 'eu' })).status).toBe(201);
      const issued = await admin('POST', `/v1/clusters/${cluster}/registration-tokens`);
      expect(issued.status).toBeLessThan(300);
      key = await generateAgentKey();
      const res = await request({
        method: 'POST',
        path: '/v1/agent/register',
        headers: { authorization: `Bearer ${issued.json.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: key.publicJwk }),
      });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ cluster, environment: 'dev', region: 'eu', keyId: key.keyId, audience: 'flotilla' });
    });

    it('checks in: 200 with an ETag, then 304 with If-None-Match, signed with the query string', async () => {
      const first = await agent(cluster, key, 'GET', '/v1/agent/desired-state');
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ cluster, environment: 'dev', apps: [expect.objectContaining({ name: 'web', version: '1.0.0' })] });
      const etag = first.headers.get('etag');
      expect(etag).toMatch(/^(W\/)?".+"$/);
      expect(first.headers.get('cache-control')).toBe('private, no-cache');

      const unchanged = await agent(cluster, key, 'GET', '/v1/agent/desired-state', { headers: { 'if-none-match': etag! } });
      expect(unchanged.status).toBe(304);
      expect(unchanged.text).toBe('');
      expect(unchanged.headers.get('etag')).toBe(etag);

      // A query string reaches the app (rawQueryString) and the signature binds it.
      const heartbeat = await agent(cluster, key, 'GET', '/v1/agent/desired-state?heartbeat=1', { headers: { 'if-none-match': etag! } });
      expect(heartbeat.status).toBe(304);
      const jwt = await signAgentRequest(key, cluster, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' });
      const unsigned = await request({ method: 'GET', path: '/v1/agent/desired-state?heartbeat=1', headers: { authorization: `Bearer ${jwt}` } });
      expectEnvelope(unsigned, 401, 'unauthorized', /.+/);
    });

    it('reports its status, and the cluster is seen', async () => {
      const body = JSON.stringify({
        apps: [{ name: 'web', version: '1.0.0', digest: `sha256:${'1'.repeat(64)}`, phase: 'Ready', drift: [], conditions: [], counts: { unchanged: 3 } }],
      });
      const res = await agent(cluster, key, 'POST', '/v1/agent/reports', { body, seq: 1 });
      expect(res.status).toBe(202);
      expect(res.json).toMatchObject({ accepted: true });
      const seen = await admin('GET', `/v1/clusters/${cluster}`);
      expect(seen.json).toMatchObject({ registered: true, stale: false });
      expect(seen.json.lastSeen).toEqual(expect.any(String));
    });
  });

  it('refuses an oversized body with 413 in the envelope', async () => {
    const res = await admin('PUT', '/v1/apps/big', { repository: 'x'.repeat(300 * 1024) });
    expectEnvelope(res, 413, 'payload_too_large', /too large/);
  });

  it('answers a malformed JSON body with a 400 naming the problem', async () => {
    const res = await request({
      method: 'PUT',
      path: '/v1/environments/broken',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: '{"upstream": ',
    });
    expectEnvelope(res, 400, 'bad_request', /^Malformed JSON in request body/);
  });

  it('answers an unknown route with a 404 envelope', async () => {
    expectEnvelope(await request({ method: 'GET', path: '/nowhere' }), 404, 'not_found', /^no route for GET \/nowhere$/);
    expectEnvelope(await admin('GET', '/v1/nowhere'), 404, 'not_found', /^no route for GET \/v1\/nowhere$/);
  });

  it('stayed in one execution environment: one cold start, every invoke reported', () => {
    expect(emulator.initDurations()).toHaveLength(1);
    const reports = emulator.reports();
    expect(reports.length).toBeGreaterThan(15);
    expect(new Set(reports.map((report) => report.requestId)).size).toBe(reports.length);
    expect(reports.every((report) => report.memorySizeMb === 512)).toBe(true);
    // The emulator's Max Memory Used is the memory size; the harness reads the runtime's own peak.
    expect(emulator.runtimePeakRssMb()).toBeGreaterThan(30);
  });
});

describe('the clock export', () => {
  it('runs once in its own execution environment (handler index.clock)', async () => {
    const clock = await startEmulator({ taskRoot: join(dir, 'task'), handler: 'index.clock', environment: deployment.environment, timeoutSeconds: 60 });
    try {
      const { payload } = await clock.invoke<{ rollouts: number }>({ version: '0', source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
      expect(payload).toMatchObject({ rollouts: 0, scanned: expect.any(Number) });
      expect(clock.initDurations()).toHaveLength(1);
    } finally {
      await clock.stop();
    }
  });
});

describe('the notify export', () => {
  it('delivers a signed webhook for an event the API function recorded (handler index.notify, woken by a stream record)', async () => {
    const receiver = await startReceiver();
    const notify = await startEmulator({
      taskRoot: join(dir, 'task'),
      handler: 'index.notify',
      environment: { ...deployment.environment, ...NOTIFY_LOOPBACK, FLOTILLA_PUBLIC_URL: 'https://flotilla.example.com' },
      timeoutSeconds: 60,
    });
    try {
      const created = await admin('POST', '/v1/notifications/subscriptions', { destination: { type: 'webhook', url: receiver.url }, filter: { types: ['release.published'] } });
      expect(created.status).toBe(201);
      await admin('PUT', '/v1/apps/notified', { repository: '127.0.0.1:5000/team/notified' });
      expect((await admin('POST', '/v1/apps/notified/releases', { version: '1.0.0', digest: `sha256:${'e'.repeat(64)}` })).status).toBe(201);
      // What the table's stream sends (the dispatcher reads the outbox, not the records).
      const { payload } = await notify.invoke<{ delivered: number }>({ Records: [{ eventName: 'INSERT', eventSource: 'aws:dynamodb', dynamodb: {} }] });
      expect(payload).toMatchObject({ delivered: 1 });
      const [request] = await receiver.waitFor(1);
      const body = new Webhook(created.json.secret).verify(request!.body, request!.headers as Record<string, string>) as { type: string; links: { dashboard: string } };
      expect(body).toMatchObject({ type: 'release.published', links: { dashboard: 'https://flotilla.example.com/ui/apps/notified' } });
      const deliveries = await admin('GET', `/v1/notifications/subscriptions/${created.json.id}/deliveries`);
      expect(deliveries.json.items[0]).toMatchObject({ state: 'delivered', attempts: [{ outcome: 'delivered', statusCode: 200 }] });
    } finally {
      await notify.stop();
      await receiver.stop();
    }
  });
});

describe('a cold start that cannot read its signing keys', () => {
  it('fails the invoke in one sentence, and the next invoke in the same environment reads them again', async () => {
    const late = await deployOnMoto(moto, `${stage}-late`, { createParameter: false });
    const fn = await startEmulator({ taskRoot: join(dir, 'task'), environment: late.environment });
    try {
      const failed = await fn.invoke<FunctionUrlResult>(functionUrlEvent({ method: 'GET', path: '/healthz' }));
      expect(asHttpResponse(failed.payload).status, 'the Function URL answers a function error with 502').toBe(502);
      expect(failed.functionError?.errorMessage).toMatch(new RegExp(`^flotilla control plane: cannot read the signing keys parameter ${late.parameterName}: `));
      await late.putParameter();
      const retried = await fn.invoke<FunctionUrlResult>(functionUrlEvent({ method: 'GET', path: '/healthz' }));
      expect(retried.functionError, 'a failed cold start is not cached').toBeUndefined();
      expect(asHttpResponse(retried.payload).status).toBe(200);
      expect(fn.initDurations(), 'the same execution environment, not a new one').toHaveLength(1);
    } finally {
      await fn.stop();
      await late.cleanup();
    }
  });
});

describe('the emulator harness', () => {
  it('fails in one sentence pointing at the setup when the binaries are missing', async () => {
    const saved = process.env.FLOTILLA_ENV_CACHE;
    process.env.FLOTILLA_ENV_CACHE = join(dir, 'no-cache');
    try {
      await expect(startEmulator({ taskRoot: join(dir, 'task'), environment: {} })).rejects.toThrow(
        /^The Lambda runtime emulator is not set up \(missing .*aws-lambda-rie.*\); run `bash test\/env\/setup` once to install it\.$/,
      );
    } finally {
      if (saved === undefined) delete process.env.FLOTILLA_ENV_CACHE;
      else process.env.FLOTILLA_ENV_CACHE = saved;
    }
  });
});
