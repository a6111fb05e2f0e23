// The CLI's client of the control plane's REST API: one method per call the CLI makes, each
// answering the lib/api schema type of its response, checked against that schema. A failure is a
// CliError carrying the envelope's message and the exit code of the status.
import { z } from 'zod';
import {
  App,
  Approval,
  Cluster,
  ClusterDrift,
  ErrorEnvelope,
  Event,
  Environment,
  Fleet,
  FreezeState,
  IssuedToken,
  PolicyView,
  PromotionRecord,
  RegistrationToken,
  Release,
  Rollout,
  list,
  type ApprovalInput,
  type AppSpec,
  type BlockInput,
  type ClusterSpec,
  type EnvironmentSpec,
  type FreezeInput,
  type PolicySpec,
  type PromotionInput,
  type ReasonInput,
  type ReleaseInput,
  type RollbackInput,
  type RolloutAction,
  type SuspendInput,
  type TokenInput,
} from '../lib/api/schemas.ts';
import { CreatedSubscription, Delivery, Subscription, type RotateSecretInput, type SubscriptionInput } from '../lib/api/notifications.ts';
import { randomUUID } from 'node:crypto';
import { sleep } from '../lib/sleep.ts';
import { CliError } from './errors.ts';

const SUBSCRIPTIONS = '/v1/notifications/subscriptions';
const EXIT_BY_STATUS: Record<number, number> = { 400: 2, 401: 3, 403: 3, 404: 4, 409: 5, 413: 2, 503: 6 };
const REQUEST_TIMEOUT_MS = 30_000;
/** Attempts of a request that is safe to repeat (it carries an Idempotency-Key), and the pause between. */
const IDEMPOTENT_ATTEMPTS = 3;
const RETRY_DELAY_MS = 500;
/** Items per page when the CLI reads a whole list. */
const PAGE_LIMIT = 1000;

/** Of an error body the CLI shows only the envelope's message (a proxy's own JSON may lack the rest). */
const ErrorMessage = z.object({ error: ErrorEnvelope.shape.error.pick({ message: true }) });

// The list responses, as the routes declare them.
const PromotionList = list(PromotionRecord, 'PromotionList');
const EventList = list(Event, 'EventList');
const ClusterList = list(Cluster, 'ClusterList');
const RolloutList = list(Rollout, 'RolloutList');
const SubscriptionList = list(Subscription, 'SubscriptionList');
const DeliveryList = list(Delivery, 'DeliveryList');
export type Page<T> = { items: T[]; nextCursor: string | null };

/** What a request body may be: the input side of its schema (defaults may be left out). */
type Body<S extends z.ZodType> = z.input<S>;

export interface ApiClient {
  getApp(app: string): Promise<App>;
  putApp(app: string, spec: Body<typeof AppSpec>): Promise<App>;
  getRelease(app: string, version: string): Promise<Release>;
  /** The release, or null when it does not exist. */
  findRelease(app: string, version: string): Promise<Release | null>;
  registerRelease(app: string, input: Body<typeof ReleaseInput>): Promise<Release>;
  /** `recall` goes with `block` only (unblock refuses it). */
  setReleaseBlock(app: string, version: string, action: 'block' | 'unblock', input: Body<typeof BlockInput>): Promise<Release>;
  putEnvironment(env: string, spec: Body<typeof EnvironmentSpec>): Promise<Environment>;
  putPolicy(app: string, env: string, spec: Body<typeof PolicySpec>): Promise<PolicyView>;
  /** A promotion record (201), or the rollout it started (202: the environment has waves). */
  promote(app: string, input: Body<typeof PromotionInput>): Promise<{ record: PromotionRecord } | { rollout: Rollout }>;
  rollback(app: string, input: Body<typeof RollbackInput>): Promise<PromotionRecord>;
  promotions(app: string, query: URLSearchParams): Promise<Page<PromotionRecord>>;
  /** The app's rollouts (in `environment`, or every environment), newest first, without progress. */
  rollouts(app: string, environment: string | undefined): Promise<Page<Rollout>>;
  /** One rollout by its id (`prod-3`), with per-cluster progress. */
  getRollout(app: string, id: string): Promise<Rollout>;
  setRolloutStatus(app: string, id: string, action: 'pause' | 'resume' | 'abort', input: Body<typeof RolloutAction>): Promise<Rollout>;
  approve(app: string, version: string, input: Body<typeof ApprovalInput>): Promise<Approval>;
  getFreeze(): Promise<FreezeState>;
  freeze(input: Body<typeof FreezeInput>): Promise<FreezeState>;
  unfreeze(input: Body<typeof ReasonInput>): Promise<FreezeState>;
  fleet(): Promise<Fleet>;
  events(query: URLSearchParams, cursor: string | null): Promise<Page<Event>>;
  clusters(): Promise<Page<Cluster>>;
  putCluster(cluster: string, spec: Body<typeof ClusterSpec>): Promise<Cluster>;
  clusterDrift(cluster: string): Promise<ClusterDrift>;
  registrationToken(cluster: string): Promise<RegistrationToken>;
  revokeCluster(cluster: string, input: Body<typeof ReasonInput>): Promise<Cluster>;
  setSuspension(cluster: string, action: 'suspend' | 'resume', input: Body<typeof SuspendInput>): Promise<Cluster>;
  issueToken(input: Body<typeof TokenInput>): Promise<IssuedToken>;
  subscribe(input: Body<typeof SubscriptionInput>): Promise<z.output<typeof CreatedSubscription>>;
  subscriptions(): Promise<Page<Subscription>>;
  unsubscribe(id: string): Promise<void>;
  rotateSecret(id: string, input: Body<typeof RotateSecretInput>): Promise<z.output<typeof CreatedSubscription>>;
  /** A GitHub destination is tested on a release (`about`). */
  testSubscription(id: string, about?: { app: string; version: string }): Promise<Delivery>;
  deliveries(id: string, limit: number): Promise<Page<Delivery>>;
  getDelivery(id: string, delivery: string): Promise<Delivery>;
  redeliver(id: string, delivery: string): Promise<Delivery>;
}

export function createApiClient(baseUrl: string, token: string | undefined): ApiClient {
  /** The status and parsed JSON body (null when empty, and for a 404 when `allowMissing`). */
  async function request(method: string, path: string, body: unknown, allowMissing = false, idempotent = false): Promise<{ status: number; json: unknown }> {
    // A promotion or rollback carries an Idempotency-Key, so it can be sent again after a lost
    // answer or a server error: the control plane answers a repeat with the first attempt's record.
    const idempotencyKey = idempotent ? randomUUID() : undefined;
    let response: Response | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        response = await fetch(new URL(path, baseUrl), {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
            'user-agent': 'flotilla-cli',
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        if (idempotent && attempt < IDEMPOTENT_ATTEMPTS) {
          await sleep(RETRY_DELAY_MS * attempt);
          continue;
        }
        throw new CliError(`cannot reach the control plane at ${baseUrl}: ${(err as Error).cause ?? (err as Error).message}`);
      }
      if (!(idempotent && response.status >= 500 && attempt < IDEMPOTENT_ATTEMPTS)) break;
      await response.body?.cancel();
      await sleep(RETRY_DELAY_MS * attempt);
    }
    if (allowMissing && response.status === 404) return { status: 404, json: null };
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // a proxy's HTML error page, say: reported by status below
    }
    if (!response.ok) {
      const retry = response.headers.get('retry-after');
      const envelope = ErrorMessage.safeParse(json);
      const message = (envelope.success ? envelope.data.error.message : `${response.status} ${response.statusText}`) + (retry ? ` (retry after ${retry}s)` : '');
      throw new CliError(`${method} ${path}: ${message}`, EXIT_BY_STATUS[response.status] ?? 1);
    }
    return { status: response.status, json };
  }

  /**
   * The body as the control plane sent it, once it passes `schema`: --json prints it unchanged (its
   * field order, and fields newer than this CLI, which parsing would drop). Response schemas have
   * no transforms, and their defaults are fields the control plane always sends, so a body that
   * passes is of the schema's type.
   */
  function checked<S extends z.ZodType>(schema: S, method: string, path: string, json: unknown): z.output<S> {
    const result = schema.safeParse(json);
    if (result.success) return json as z.output<S>;
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    throw new CliError(`${method} ${path}: unexpected response from the control plane: ${problems.join('; ')}`);
  }

  const call = async <S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown) =>
    checked(schema, method, path, (await request(method, path, body)).json);
  const postIdempotent = async <S extends z.ZodType>(schema: S, path: string, body: unknown) =>
    checked(schema, 'POST', path, (await request('POST', path, body, false, true)).json);

  /** Every page of a list, following its cursors. */
  async function allPages<T>(schema: z.ZodType<Page<T>>, path: string): Promise<Page<T>> {
    const items: T[] = [];
    const separator = path.includes('?') ? '&' : '?';
    let cursor: string | null = null;
    do {
      // Cursors are base64url: they need no encoding.
      const page: Page<T> = await get(schema, `${path}${separator}limit=${PAGE_LIMIT}${cursor ? `&cursor=${cursor}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return { items, nextCursor: null };
  }
  const get = <S extends z.ZodType>(schema: S, path: string) => call(schema, 'GET', path);
  // POSTs without a body of their own still send `{}`: every POST route takes a JSON body.
  const post = <S extends z.ZodType>(schema: S, path: string, body: unknown = {}) => call(schema, 'POST', path, body);
  const put = <S extends z.ZodType>(schema: S, path: string, body: unknown) => call(schema, 'PUT', path, body);
  const enc = encodeURIComponent;
  const releasePath = (app: string, version: string) => `/v1/apps/${enc(app)}/releases/${enc(version)}`;
  const rolloutPath = (app: string, id: string) => `/v1/apps/${enc(app)}/rollouts/${enc(id)}`;

  return {
    getApp: (app) => get(App, `/v1/apps/${enc(app)}`),
    putApp: (app, spec) => put(App, `/v1/apps/${enc(app)}`, spec),
    getRelease: (app, version) => get(Release, releasePath(app, version)),
    async findRelease(app, version) {
      const path = releasePath(app, version);
      const { status, json } = await request('GET', path, undefined, true);
      return status === 404 ? null : checked(Release, 'GET', path, json);
    },
    registerRelease: (app, input) => post(Release, `/v1/apps/${enc(app)}/releases`, input),
    setReleaseBlock: (app, version, action, input) => post(Release, `${releasePath(app, version)}/${action}`, input),
    putEnvironment: (env, spec) => put(Environment, `/v1/environments/${enc(env)}`, spec),
    putPolicy: (app, env, spec) => put(PolicyView, `/v1/apps/${enc(app)}/environments/${enc(env)}`, spec),
    async promote(app, input) {
      const path = `/v1/apps/${enc(app)}/promotions`;
      const { status, json } = await request('POST', path, input, false, true);
      return status === 202 ? { rollout: checked(Rollout, 'POST', path, json) } : { record: checked(PromotionRecord, 'POST', path, json) };
    },
    rollback: (app, input) => postIdempotent(PromotionRecord, `/v1/apps/${enc(app)}/rollbacks`, input),
    promotions: (app, query) => allPages(PromotionList, `/v1/apps/${enc(app)}/promotions?${query}`),
    // One page: the route answers every rollout at once.
    rollouts: (app, environment) =>
      get(RolloutList, `/v1/apps/${enc(app)}/rollouts${environment === undefined ? '' : `?environment=${enc(environment)}`}`),
    getRollout: (app, id) => get(Rollout, rolloutPath(app, id)),
    setRolloutStatus: (app, id, action, input) => post(Rollout, `${rolloutPath(app, id)}/${action}`, input),
    approve: (app, version, input) => post(Approval, `${releasePath(app, version)}/approvals`, input),
    getFreeze: () => get(FreezeState, '/v1/freeze'),
    freeze: (input) => put(FreezeState, '/v1/freeze', input),
    unfreeze: (input) => post(FreezeState, '/v1/freeze/lift', input),
    fleet: () => get(Fleet, '/v1/fleet'),
    // Cursors are base64url: they need no encoding.
    events: (query, cursor) => get(EventList, `/v1/events?${query}${cursor ? `&cursor=${cursor}` : ''}`),
    clusters: () => allPages(ClusterList, '/v1/clusters'),
    putCluster: (cluster, spec) => put(Cluster, `/v1/clusters/${enc(cluster)}`, spec),
    clusterDrift: (cluster) => get(ClusterDrift, `/v1/clusters/${enc(cluster)}/drift`),
    registrationToken: (cluster) => post(RegistrationToken, `/v1/clusters/${enc(cluster)}/registration-tokens`),
    revokeCluster: (cluster, input) => post(Cluster, `/v1/clusters/${enc(cluster)}/revoke`, input),
    setSuspension: (cluster, action, input) => post(Cluster, `/v1/clusters/${enc(cluster)}/${action}`, input),
    issueToken: (input) => post(IssuedToken, '/v1/tokens', input),
    // With an Idempotency-Key: a retry after a lost answer gets the same subscription and secret.
    subscribe: (input) => postIdempotent(CreatedSubscription, SUBSCRIPTIONS, input),
    subscriptions: () => allPages(SubscriptionList, SUBSCRIPTIONS),
    async unsubscribe(id) {
      await request('DELETE', `${SUBSCRIPTIONS}/${enc(id)}`, undefined);
    },
    rotateSecret: (id, input) => post(CreatedSubscription, `${SUBSCRIPTIONS}/${enc(id)}/rotate-secret`, input),
    testSubscription: (id, about) =>
      post(Delivery, `${SUBSCRIPTIONS}/${enc(id)}/test${about ? `?${new URLSearchParams(about)}` : ''}`),
    deliveries: (id, limit) => get(DeliveryList, `${SUBSCRIPTIONS}/${enc(id)}/deliveries?limit=${limit}`),
    getDelivery: (id, delivery) => get(Delivery, `${SUBSCRIPTIONS}/${enc(id)}/deliveries/${enc(delivery)}`),
    redeliver: (id, delivery) => post(Delivery, `${SUBSCRIPTIONS}/${enc(id)}/deliveries/${enc(delivery)}/redeliver`),
  };
}
