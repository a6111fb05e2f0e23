// The one Hono app factory, used by the Lambda entry and the Node entry alike. It never knows its runtime.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { requestId } from 'hono/request-id';
import { nestsDeeperThan, protoKeyPath } from '../lib/json.ts';
import { LIMITS } from '../lib/limits.ts';
import { authenticateAgent, authenticateUser } from './auth/middleware.ts';
import type { AppEnv, Services } from './context.ts';
import { ApiError, errorResponse, toApiError } from './errors.ts';
import { registerAgentRoutes } from './routes/agent.ts';
import { registerAppRoutes } from './routes/apps.ts';
import { registerClusterRoutes } from './routes/clusters.ts';
import { registerEnvironmentRoutes } from './routes/environments.ts';
import { registerNotificationRoutes } from './routes/notifications.ts';
import { registerOverviewRoutes } from './routes/overview.ts';
import { registerRolloutRoutes } from './routes/rollouts.ts';
import { registerTokenRoutes } from './routes/tokens.ts';
import { registerValuesRoutes } from './routes/values.ts';
import { registerDocs } from './ui/docs.ts';
import { registerDashboard } from './ui/routes.tsx';
import { usageScope } from './usage.ts';

const health = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['meta'],
  summary: 'Liveness',
  responses: { 200: { description: 'OK', content: { 'application/json': { schema: z.object({ ok: z.literal(true) }) } } } },
});

const jwks = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  tags: ['meta'],
  summary: "The control plane's public signing keys",
  responses: {
    200: {
      description: 'JWKS',
      content: { 'application/json': { schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) } },
    },
  },
});

/** Names the first invalid field, e.g. "body.version: must be a strict semantic version". */
const AGENT_REPORTS_PATH = '/v1/agent/reports';
const AGENT_REGISTER_PATH = '/v1/agent/register';

function validationMessage(target: string, issues: { path: PropertyKey[]; message: string }[]): string {
  const [first] = issues;
  if (!first) return `invalid ${target}`;
  const where = [target === 'json' ? 'body' : target, ...first.path.map(String)].join('.');
  return `${where}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`;
}

export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new ApiError('bad_request', validationMessage(result.target, result.error.issues));
    },
  });

  // A known path with another method is a 405 naming the methods it has, not a 404.
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        c.header('Allow', methods.join(', '));
        return errorResponse(c, new ApiError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(' or ')}`));
      },
    }),
  );
  // Request ids: the caller's X-Request-Id when it is a sane one, else a new UUID; echoed back.
  app.use(requestId());
  app.use(usageScope());
  app.use(async function provideServices(c, next) {
    c.set('services', services);
    await next();
  });
  const tooLarge = (c: Parameters<typeof errorResponse>[0]) => errorResponse(c, new ApiError('payload_too_large', 'request body is too large'));
  const reportBodyLimit = bodyLimit({ maxSize: services.config.maxReportBytes, onError: tooLarge });
  const defaultBodyLimit = bodyLimit({ maxSize: services.config.maxBodyBytes, onError: tooLarge });
  app.use(async function limitBody(c, next) {
    return (c.req.path === AGENT_REPORTS_PATH ? reportBodyLimit : defaultBodyLimit)(c, next);
  });
  app.use('/v1/*', async function authenticate(c, next) {
    if (!c.req.path.startsWith('/v1/agent/')) return authenticateUser(c, next);
    return c.req.path === AGENT_REGISTER_PATH ? next() : authenticateAgent(c, next);
  });
  // Bodies are JSON: another declared type is a 415; a body without a type is read as JSON.
  app.use('/v1/*', async function requireJsonBody(c, next) {
    if (c.req.method !== 'POST' && c.req.method !== 'PUT') return next();
    const type = c.req.header('content-type');
    if (type && !/^application\/(.+\+)?json\b/i.test(type)) {
      throw new ApiError('unsupported_media_type', `request bodies are JSON, not ${type.split(';')[0]}`);
    }
    if (!type) c.req.raw.headers.set('content-type', 'application/json');
    await next();
  });
  // Deeply nested bodies are refused before anything parses them recursively, and `__proto__`
  // keys (which a parser would drop or turn into a prototype) before anything reads them.
  app.use('/v1/*', async function refuseHostileJson(c, next) {
    if (c.req.method !== 'POST' && c.req.method !== 'PUT') return next();
    const text = await c.req.text();
    if (nestsDeeperThan(text, LIMITS.maxJsonDepth)) {
      throw new ApiError('bad_request', `body: nested deeper than ${LIMITS.maxJsonDepth} levels of objects and arrays`);
    }
    const proto = protoKeyPath(text);
    if (proto !== null) throw new ApiError('bad_request', `${['body', proto].filter(Boolean).join('.')}: the key "__proto__" is not allowed`);
    await next();
  });

  app.openapi(health, function healthHandler(c) {
    return c.json({ ok: true as const }, 200);
  });
  app.openapi(jwks, function jwksHandler(c) {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(services.tokens.publicJwks, 200);
  });
  registerAppRoutes(app);
  registerValuesRoutes(app);
  registerEnvironmentRoutes(app);
  registerClusterRoutes(app);
  registerTokenRoutes(app);
  registerOverviewRoutes(app);
  registerRolloutRoutes(app);
  registerAgentRoutes(app);
  registerNotificationRoutes(app);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A control-plane token (POST /v1/tokens) or an OIDC token from a configured issuer',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'agent', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A per-request JWT signed by the agent key, bound to method, path and body hash',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'registration', {
    type: 'http',
    scheme: 'bearer',
    description: 'A one-time cluster registration token',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Flotilla control plane',
      version: '1',
      description: 'GitOps control plane for fleets of Kubernetes clusters. Errors: {"error":{"code","message","requestId"}}.',
    },
  });
  registerDocs(app);
  registerDashboard(app);

  app.notFound(function notFoundHandler(c) {
    return errorResponse(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`));
  });
  app.onError(function errorHandler(err, c) {
    const error = toApiError(err);
    if (error.code === 'internal') console.error(JSON.stringify({ level: 'error', requestId: c.get('requestId'), error: String(err), stack: (err as Error).stack }));
    return errorResponse(c, error);
  });
  return app;
}

export type FlotillaApp = ReturnType<typeof createApp>;
