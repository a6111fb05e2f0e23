// The HTTP contract: OpenAPI, docs, the error envelope for bad input, and the Lambda entry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handle } from 'hono/aws-lambda';
import { seedWorld, startFixture, type Fixture } from '../test/support/control-plane.ts';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture({ config: { maxBodyBytes: 4096 } });
  await seedWorld(f);
});
afterAll(() => f.stop());

describe('OpenAPI and docs', () => {
  it('describes every route with request and response schemas', async () => {
    const spec = (await f.call('GET', '/openapi.json')).body;
    expect(spec.openapi).toBe('3.1.0');
    const operations = Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(33);
    for (const { path, method, op } of operations) {
      const success = Object.entries(op.responses).find(([status]) => status.startsWith('2'));
      expect(success, `${method} ${path}`).toBeDefined();
      if (!['/healthz'].includes(path)) expect((success![1] as any).content?.['application/json']?.schema, `${method} ${path}`).toBeDefined();
      if (path.startsWith('/v1/')) expect(op.responses['401'], `${method} ${path}`).toBeDefined();
    }
    expect(spec.components.schemas.Error).toBeDefined();
    for (const route of ['/v1/fleet', '/v1/agent/desired-state', '/v1/apps/{app}/promotions', '/v1/clusters/{cluster}/drift']) {
      expect(spec.paths[route], route).toBeDefined();
    }
  });

  it('serves a browsable docs page', async () => {
    const res = await f.app.request('/docs');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/openapi.json');
  });

  it('publishes the signing keys without private parts', async () => {
    const { keys } = (await f.call('GET', '/.well-known/jwks.json')).body;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: f.signingKey.kid });
    expect(keys[0].d).toBeUndefined();
  });
});

describe('bad input never becomes a 500', () => {
  it('answers unknown routes with a 404 envelope', async () => {
    const res = await f.admin('GET', '/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'not_found' });
    expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('answers a known path with another method with 405 and Allow', async () => {
    const res = await f.admin('DELETE', '/v1/apps/web');
    expect(res.status).toBe(405);
    expect(res.body.error.code).toBe('method_not_allowed');
    expect(res.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'PUT']);
  });

  it('answers a body of another media type with 415', async () => {
    const res = await f.call('PUT', '/v1/apps/web', { token: f.adminToken, body: '<app/>', headers: { 'content-type': 'application/xml' } });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('answers malformed JSON with 400', async () => {
    const res = await f.call('PUT', '/v1/apps/web', { token: f.adminToken, body: '{"repository": ' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
  });

  it('answers a body that is not JSON at all with 400', async () => {
    const res = await f.call('PUT', '/v1/apps/web', { token: f.adminToken, body: 'repository=x', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect(res.body.error).toBeDefined();
    expect((await f.admin('GET', '/v1/apps/web')).body.repository).toBe('127.0.0.1:5000/team/web');
  });

  it('answers oversized bodies with 413 and stores nothing', async () => {
    const res = await f.admin('PUT', '/v1/apps/huge', { repository: 'registry.example.com/x', clusterSelector: { a: 'x'.repeat(5000) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect((await f.admin('GET', '/v1/apps/huge')).status).toBe(404);
  });

  it.each([
    ['a JSON array', '[]'],
    ['a JSON string', '"x"'],
    ['null', 'null'],
    ['deep nesting', '{"a":'.repeat(2000) + '1' + '}'.repeat(2000)],
    ['wrong types', '{"repository": 5, "prune": "yes"}'],
  ])('answers %s with 4xx', async (_name, body) => {
    const res = await f.call('PUT', '/v1/apps/web', { token: f.adminToken, body });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('rejects bad query parameters with 400 naming them', async () => {
    const res = await f.admin('GET', '/v1/events?limit=0');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^query\.limit:/);
    expect((await f.admin('GET', '/v1/events?since=yesterday')).status).toBe(400);
  });
});

describe('Lambda entry', () => {
  it('serves a Function URL (API Gateway v2) event through the same app', async () => {
    const handler = handle(f.app);
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v1/apps/web',
      rawQueryString: '',
      headers: { authorization: `Bearer ${f.adminToken}`, host: 'abc.lambda-url.us-east-1.on.aws' },
      requestContext: {
        accountId: 'anonymous',
        apiId: 'abc',
        domainName: 'abc.lambda-url.us-east-1.on.aws',
        domainPrefix: 'abc',
        http: { method: 'GET', path: '/v1/apps/web', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
        requestId: 'r1',
        routeKey: '$default',
        stage: '$default',
        time: '26/Nov/2026:00:00:00 +0000',
        timeEpoch: 1795000000000,
      },
      isBase64Encoded: false,
    };
    const result = (await handler(event as never, {} as never)) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ name: 'web', repository: '127.0.0.1:5000/team/web' });
    const denied = (await handler({ ...event, headers: { host: 'x' } } as never, {} as never)) as { statusCode: number };
    expect(denied.statusCode).toBe(401);
  });
});
