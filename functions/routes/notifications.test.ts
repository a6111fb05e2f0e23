// The notifications API: admin only, bad input named in a 400, SSRF-checked destinations, bounded
// lists, secrets never shown again; Slack (Block Kit within Slack's limits) and GitHub commit
// statuses (checked against GitHub's published OpenAPI description) delivered to real receivers.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookPayload } from '../../lib/api/notifications.ts';
import { dispatchOnce } from '../notify/dispatcher.ts';
import { blockKitProblems } from '../../test/support/block-kit.ts';
import { digestOf, startFixture, type Fixture } from '../../test/support/control-plane.ts';
import { startReceiver, type Receiver } from '../../test/support/receiver.ts';

const SUBS = '/v1/notifications/subscriptions';
let strict: Fixture;
let local: Fixture;
const receivers: Receiver[] = [];

beforeAll(async () => {
  strict = await startFixture({ config: { notify: { maxSubscriptions: 3 } } });
  local = await startFixture({ config: { notify: { allowCidrs: ['127.0.0.0/8'], timeoutMs: 1000, retryBaseMs: 20, retryMaxMs: 50, publicUrl: 'https://flotilla.example.com' } } });
});
afterAll(async () => {
  for (const receiver of receivers) await receiver.stop();
  await strict.stop();
  await local.stop();
});

async function receiver(status = 201) {
  const started = await startReceiver(() => status);
  receivers.push(started);
  return started;
}

const webhook = (url: string, extra: Record<string, unknown> = {}) => ({ destination: { type: 'webhook', url }, ...extra });

describe('who may manage subscriptions', () => {
  it('admins only: other roles get 403 and no token 401, on reads too', async () => {
    const created = await strict.admin('POST', SUBS, webhook('https://hooks.example.com/a'));
    expect(created.status).toBe(201);
    const id = created.body.id;
    for (const role of ['viewer', 'publisher', 'promoter'] as const) {
      const token = await strict.mint([{ role }]);
      for (const [method, path, body] of [
        ['GET', SUBS],
        ['GET', `${SUBS}/${id}`],
        ['GET', `${SUBS}/${id}/deliveries`],
        ['GET', '/v1/notifications/event-types'],
        ['POST', SUBS, webhook('https://hooks.example.com/b')],
        ['DELETE', `${SUBS}/${id}`],
        ['POST', `${SUBS}/${id}/rotate-secret`, {}],
        ['POST', `${SUBS}/${id}/test`],
      ] as const) {
        const res = await strict.call(method, path, { token, body });
        expect([`${role} ${method} ${path}`, res.status, res.body.error.code]).toEqual([`${role} ${method} ${path}`, 403, 'forbidden']);
      }
    }
    expect((await strict.call('GET', SUBS)).status).toBe(401);
    await strict.admin('DELETE', `${SUBS}/${id}`);
  });
});

describe('bad input', () => {
  it.each([
    ['a malformed body', '{"destination":', 'body'],
    ['an unknown destination type', { destination: { type: 'pagerduty', url: 'https://x.example.com' } }, 'body.destination.type'],
    ['a URL that is not http(s)', webhook('ftp://hooks.example.com/x'), 'body.destination.url'],
    ['a URL with credentials', webhook('https://user:pw@hooks.example.com/x'), 'body.destination.url'],
    ['not a URL', webhook('hooks'), 'body.destination.url'],
    ['a huge URL', webhook(`https://hooks.example.com/${'a'.repeat(5000)}`), 'body.destination.url'],
    ['an unknown event type', webhook('https://hooks.example.com/x', { filter: { types: ['release.published', 'release.exploded'] } }), 'body.filter.types.1'],
    ['an unknown family', webhook('https://hooks.example.com/x', { filter: { types: ['nothing.*'] } }), 'body.filter.types.0'],
    ['an unknown severity', webhook('https://hooks.example.com/x', { filter: { severity: 'apocalyptic' } }), 'body.filter.severity'],
    ['too many apps', webhook('https://hooks.example.com/x', { filter: { apps: Array.from({ length: 51 }, (_, i) => `a${i}`) } }), 'body.filter.apps'],
    ['an app that is no name', webhook('https://hooks.example.com/x', { filter: { apps: ['Not A Name'] } }), 'body.filter.apps.0'],
    ['an unknown field', webhook('https://hooks.example.com/x', { secret: 'whsec_mine' }), 'body'],
    ['a prototype key', '{"destination":{"type":"webhook","url":"https://hooks.example.com/x"},"__proto__":{"admin":true}}', '"__proto__" is not allowed'],
    ['a reserved name', webhook('https://hooks.example.com/x', { name: 'constructor' }), 'body.name'],
    ['a GitHub destination without a token', { destination: { type: 'github' } }, 'body.destination.token'],
  ])('%s is a 400 naming %s', async (_what, body, field) => {
    const res = await strict.admin('POST', SUBS, body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message.toLowerCase(), res.body.error.message).toContain(field.toLowerCase());
  });

  it('an oversized body is a 413', async () => {
    const res = await strict.admin('POST', SUBS, webhook('https://hooks.example.com/x', { name: 'x'.repeat(300_000) }));
    expect(res.status).toBe(413);
  });

  it.each([
    ['limit=0', 'query.limit'],
    ['limit=101', 'query.limit'],
    ['limit=1e9', 'query.limit'],
    ['cursor=***', 'query.cursor'],
    ['cursor=bm90LWFuLWlk', 'query.cursor'],
  ])('deliveries?%s is a 400 naming %s', async (query, field) => {
    const created = await strict.admin('POST', SUBS, webhook('https://hooks.example.com/q'));
    const res = await strict.admin('GET', `${SUBS}/${created.body.id}/deliveries?${query}`);
    await strict.admin('DELETE', `${SUBS}/${created.body.id}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message.startsWith(field), res.body.error.message).toBe(true);
  });

  it('an unknown subscription or delivery is a 404', async () => {
    for (const path of [`${SUBS}/0123456789abcdef`, `${SUBS}/nope/deliveries`, `${SUBS}/0123456789abcdef/deliveries/0123456789abcdef`]) {
      const res = await strict.admin('GET', path);
      expect([path, res.status, res.body.error.code]).toEqual([path, 404, 'not_found']);
    }
    expect((await strict.admin('DELETE', `${SUBS}/0123456789abcdef`)).status).toBe(404);
  });

  it('a request the destination cannot take is a 4xx naming why; a deleted subscription’s deliveries are gone with it', async () => {
    const slack = (await strict.admin('POST', SUBS, { destination: { type: 'slack', url: 'https://hooks.slack.example.com/services/x' } })).body;
    const rotated = await strict.admin('POST', `${SUBS}/${slack.id}/rotate-secret`, {});
    expect([rotated.status, rotated.body.error.code]).toEqual([409, 'conflict']);
    const github = (await strict.admin('POST', SUBS, { destination: { type: 'github', token: 'ghp_x' } })).body;
    expect((await strict.admin('POST', `${SUBS}/${github.id}/test`)).body.error.message).toMatch(/^query\.app: a GitHub destination is tested on a release/);
    expect((await strict.admin('POST', `${SUBS}/${github.id}/test?app=nothing&version=1.0.0`)).status).toBe(404);
    expect((await strict.admin('POST', `${SUBS}/${github.id}/rotate-secret`, {})).body.error.message).toMatch(/^body\.githubToken: required/);
    const queued = (await strict.admin('POST', `${SUBS}/${slack.id}/test`)).body;
    expect((await strict.admin('GET', `${SUBS}/${slack.id}/deliveries/${queued.id}`)).status).toBe(200);
    for (const id of [slack.id, github.id]) await strict.admin('DELETE', `${SUBS}/${id}`);
    expect((await strict.admin('GET', `${SUBS}/${slack.id}/deliveries/${queued.id}`)).status).toBe(404);
    expect((await strict.admin('POST', `${SUBS}/${slack.id}/deliveries/${queued.id}/redeliver`)).status).toBe(404);
  });

  it('a create retried with its Idempotency-Key gets the same subscription and secret, and creates no other', async () => {
    const body = webhook('https://hooks.example.com/idem');
    const headers = { 'idempotency-key': 'create-hook-1' };
    const [first, ...retries] = await Promise.all([0, 1, 2, 3].map(() => strict.call('POST', SUBS, { token: strict.adminToken, body, headers })));
    for (const res of [first!, ...retries]) expect([res.status, res.body.id, res.body.secret]).toEqual([201, first!.body.id, first!.body.secret]);
    const listed = (await strict.admin('GET', SUBS)).body.items.filter((sub: { destination: { url?: string } }) => sub.destination.url === 'https://hooks.example.com/idem');
    expect(listed).toHaveLength(1);
    const other = await strict.call('POST', SUBS, { token: strict.adminToken, body: webhook('https://hooks.example.com/other'), headers });
    expect([other.status, other.body.error.message]).toEqual([409, 'this Idempotency-Key was used for another subscription']);
    expect((await strict.call('POST', SUBS, { token: strict.adminToken, body, headers: { 'idempotency-key': 'short' } })).body.error.message).toMatch(/^header\.idempotency-key: /);
    await strict.admin('DELETE', `${SUBS}/${first!.body.id}`);
  });

  it('caps the subscriptions of the organisation', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await strict.admin('POST', SUBS, webhook(`https://hooks.example.com/${i}`));
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const over = await strict.admin('POST', SUBS, webhook('https://hooks.example.com/4'));
    expect(over.status).toBe(409);
    expect(over.body.error.message).toMatch(/3 subscriptions/);
    for (const id of ids) await strict.admin('DELETE', `${SUBS}/${id}`);
  });
});

describe('destinations are checked against SSRF', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.5/hook',
    'http://192.168.1.1/hook',
    'http://[fd00::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://2130706433/hook',
  ])('refuses %s unless the configuration allows its range', async (url) => {
    const res = await strict.admin('POST', SUBS, webhook(url));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.destination\.url: refused: .*(loopback|private|link-local)/);
  });

  it('a GitHub API URL is checked too', async () => {
    const res = await strict.admin('POST', SUBS, { destination: { type: 'github', token: 'ghp_x', apiUrl: 'http://127.0.0.1:1/api' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.destination\.apiUrl: refused/);
  });

  it('refuses at delivery time an address the configuration no longer allows, sending nothing', async () => {
    const target = await receiver(200);
    const sub = (await local.admin('POST', SUBS, webhook(target.url.replace('127.0.0.1', 'localhost')))).body;
    expect(sub.id).toBeDefined();
    const saved = local.services.config.notify.allowCidrs;
    local.services.config.notify.allowCidrs = [];
    try {
      await local.admin('POST', `${SUBS}/${sub.id}/test`);
      await dispatchOnce(local.services);
    } finally {
      local.services.config.notify.allowCidrs = saved;
    }
    const [delivery] = (await local.admin('GET', `${SUBS}/${sub.id}/deliveries`)).body.items;
    await local.admin('DELETE', `${SUBS}/${sub.id}`);
    expect(delivery.attempts[0]).toMatchObject({ outcome: 'failed', statusCode: null, error: expect.stringMatching(/refused: localhost: 127\.0\.0\.1 is a loopback/) });
    expect(target.received).toHaveLength(0);
  });
});

describe('secret rotation', () => {
  it('of rotations at once, each that answers 200 handed out a secret that signs; a stale one is refused', async () => {
    const target = await receiver(200);
    const sub = (await local.admin('POST', SUBS, webhook(target.url))).body;
    const read = await local.services.storage.notifications.getSubscription(sub.id, true);
    const answers = await Promise.all([1, 2, 3].map(() => local.admin('POST', `${SUBS}/${sub.id}/rotate-secret`, { previousSecretSeconds: 0 })));
    for (const answer of answers) expect([200, 409]).toContain(answer.status);
    const won = answers.filter((answer) => answer.status === 200);
    expect(won.length).toBeGreaterThanOrEqual(1);
    const stored = await local.services.storage.notifications.getSubscription(sub.id, true);
    const last = won.reduce((a, b) => (a.body.secretRotatedAt >= b.body.secretRotatedAt ? a : b));
    expect(stored!.secret).toBe(last.body.secret);
    // A write based on the subscription as read before those rotations changes nothing.
    expect(await local.services.storage.notifications.rotateSecret(sub.id, { secret: 'whsec_stale' }, read!.secretRotatedAt ?? null)).toBe(false);
    expect((await local.services.storage.notifications.getSubscription(sub.id, true))!.secret).toBe(stored!.secret);
    await local.admin('DELETE', `${SUBS}/${sub.id}`);
  });
});

describe('lists', () => {
  it('pages deliveries newest first with a cursor', async () => {
    const target = await receiver(200);
    const sub = (await local.admin('POST', SUBS, webhook(target.url))).body;
    for (let i = 0; i < 5; i++) await local.admin('POST', `${SUBS}/${sub.id}/test`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await local.admin('GET', `${SUBS}/${sub.id}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((item) => item.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect([...seen].sort().reverse()).toEqual(seen);
    await local.admin('DELETE', `${SUBS}/${sub.id}`);
  });

  it('describes the event types and the payload in OpenAPI', async () => {
    const types = (await local.admin('GET', '/v1/notifications/event-types')).body.items;
    expect(types).toContainEqual({ type: 'drift.detected', severity: 'warning', description: expect.any(String) });
    const spec = (await local.call('GET', '/openapi.json')).body;
    const variants = spec.components.schemas.WebhookPayload.oneOf as { properties: { type: { const?: string; enum?: string[] } } }[];
    expect(variants.map((variant) => variant.properties.type.const ?? variant.properties.type.enum?.[0])).toContain('reconcile.failed');
    expect(spec.components.schemas.DriftEventData.properties.object).toBeDefined();
    expect(spec.webhooks.flotillaEvent.post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/WebhookPayload');
    expect(spec.paths[SUBS].post).toBeDefined();
    expect(spec.paths[`${SUBS}/{id}/deliveries/{delivery}/redeliver`].post).toBeDefined();
  });
});

describe('payloads', () => {
  it('every event the control plane sends matches the WebhookPayload schema of its type', async () => {
    const target = await receiver(200);
    const sub = (await local.admin('POST', SUBS, webhook(target.url))).body;
    const calls: [string, string, unknown?][] = [
      ['PUT', '/v1/environments/stage', {}],
      ['PUT', '/v1/apps/story', { repository: '127.0.0.1:5000/team/story' }],
      ['PUT', '/v1/apps/story/environments/stage', { track: null }],
      ['POST', '/v1/apps/story/releases', { version: '1.0.0', digest: digestOf(501) }],
      ['POST', '/v1/apps/story/releases', { version: '1.0.1', digest: digestOf(502) }],
      ['POST', '/v1/apps/story/promotions', { environment: 'stage', version: '1.0.0', reason: 'r' }],
      ['POST', '/v1/apps/story/promotions', { environment: 'stage', version: '1.0.1', reason: 'r' }],
      ['POST', '/v1/apps/story/rollbacks', { environment: 'stage', reason: 'r' }],
      ['POST', '/v1/apps/story/releases/1.0.1/block', { reason: 'bad', recall: true }],
      ['POST', '/v1/apps/story/releases/1.0.1/unblock', { reason: 'fine' }],
      ['PUT', '/v1/clusters/story-1', { environment: 'stage', region: 'eu' }],
      ['POST', '/v1/clusters/story-1/suspend', { reason: 'incident' }],
      ['POST', '/v1/clusters/story-1/resume', { reason: 'over' }],
      ['PUT', '/v1/freeze', { reason: 'holiday' }],
      ['POST', '/v1/freeze/lift', { reason: 'back' }],
    ];
    for (const [method, path, body] of calls) {
      const res = await local.admin(method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    }
    await dispatchOnce(local.services);
    await dispatchOnce(local.services);
    const types = new Set<string>();
    for (const request of target.received) {
      const parsed = WebhookPayload.safeParse(JSON.parse(request.body));
      expect(parsed.success, `${request.body.slice(0, 300)}: ${parsed.error?.message}`).toBe(true);
      types.add(JSON.parse(request.body).type);
    }
    expect([...types].sort()).toEqual(
      expect.arrayContaining(['cluster.created', 'cluster.resumed', 'cluster.suspended', 'freeze.lifted', 'freeze.started', 'policy.updated', 'promotion.promoted', 'promotion.rollback', 'release.blocked', 'release.published', 'release.unblocked']),
    );
    await local.admin('DELETE', `${SUBS}/${sub.id}`);
  });
});

describe('Slack', () => {
  it('sends a readable Block Kit message within Slack’s limits, with a link to the dashboard; the URL is never shown', async () => {
    const slack = await receiver(200);
    const url = `${slack.url}/services/T000/B000/very-secret-path`;
    const created = await local.admin('POST', SUBS, { destination: { type: 'slack', url }, filter: { types: ['release.blocked'] } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBeNull();
    expect(JSON.stringify(created.body)).not.toContain('very-secret-path');
    expect(JSON.stringify((await local.admin('GET', `${SUBS}/${created.body.id}`)).body)).not.toContain('very-secret-path');
    await local.admin('PUT', '/v1/apps/chat', { repository: '127.0.0.1:5000/team/chat' });
    await local.admin('POST', '/v1/apps/chat/releases', { version: '1.0.0', digest: digestOf(77) });
    // A long reason with mrkdwn control characters: cut to fit, escaped.
    const reason = `<!channel> & ${'a very long reason '.repeat(40)}`;
    expect((await local.admin('POST', '/v1/apps/chat/releases/1.0.0/block', { reason })).status).toBe(200);
    await dispatchOnce(local.services);
    const [request] = await slack.waitFor(1);
    expect(request!.path).toBe('/services/T000/B000/very-secret-path');
    const message = JSON.parse(request!.body);
    expect(blockKitProblems(message)).toEqual([]);
    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: 'release.blocked: chat' } });
    expect(message.blocks[1].text.text).toContain('&lt;!channel&gt; &amp;');
    expect(message.blocks[1].text.text).not.toContain('<!channel>');
    const actions = message.blocks.find((block: { type: string }) => block.type === 'actions');
    expect(actions.elements[0].url).toBe('https://flotilla.example.com/ui/apps/chat');
    await local.admin('DELETE', `${SUBS}/${created.body.id}`);
  });
});

describe('GitHub commit statuses', () => {
  async function statusSchema() {
    const require = createRequire(import.meta.url);
    const spec = JSON.parse(await readFile(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8'));
    return spec.paths['/repos/{owner}/{repo}/statuses/{sha}'].post.requestBody.content['application/json'].schema;
  }

  /** The OpenAPI 3.0 subset GitHub uses for this body: object, required, string, enum, nullable, no other keys. */
  function conforms(schema: any, body: any): string[] {
    const problems: string[] = [];
    for (const name of schema.required ?? []) if (!(name in body)) problems.push(`${name} is required`);
    for (const [name, value] of Object.entries(body)) {
      const property = schema.properties[name];
      if (!property) problems.push(`${name} is not in the schema`);
      else if (value === null ? !property.nullable : typeof value !== property.type) problems.push(`${name} is not a ${property.type}`);
      else if (property.enum && !property.enum.includes(value)) problems.push(`${name}: ${String(value)} is not one of ${property.enum.join(', ')}`);
    }
    return problems;
  }

  it('sets statuses on the release’s commit with the token, in the published schema; the token is never shown', async () => {
    const github = await receiver(201);
    const token = 'ghp_secretTokenValue123';
    const created = await local.admin('POST', SUBS, { destination: { type: 'github', token, apiUrl: `${github.url}/api/v3` }, filter: { apps: ['shop'] } });
    expect(created.status).toBe(201);
    expect(created.body.destination).toEqual({ type: 'github', apiUrl: `${github.url}/api/v3`, context: null, tokenSet: true });
    for (const path of [`${SUBS}/${created.body.id}`, `${SUBS}?limit=100`]) expect(JSON.stringify((await local.admin('GET', path)).body)).not.toContain(token);

    const sha = 'a'.repeat(40);
    await local.admin('PUT', '/v1/environments/dev', {});
    await local.admin('PUT', '/v1/apps/shop', { repository: '127.0.0.1:5000/team/shop' });
    await local.admin('PUT', '/v1/apps/shop/environments/dev', { track: null });
    await local.admin('POST', '/v1/apps/shop/releases', { version: '2.0.0', digest: digestOf(88), source: 'https://github.com/acme/shop.git', revision: sha });
    // A release without a revision gets no status.
    await local.admin('POST', '/v1/apps/shop/releases', { version: '2.0.1', digest: digestOf(89), source: 'https://github.com/acme/shop' });
    expect((await local.admin('POST', '/v1/apps/shop/promotions', { environment: 'dev', version: '2.0.0', reason: 'ship it '.repeat(30) })).status).toBe(201);
    await dispatchOnce(local.services);
    const requests = await github.waitFor(2);
    await dispatchOnce(local.services);
    expect(requests).toHaveLength(2);
    const schema = await statusSchema();
    for (const request of requests) {
      expect(request.path).toBe(`/api/v3/repos/acme/shop/statuses/${sha}`);
      expect(request.headers.authorization).toBe(`Bearer ${token}`);
      const body = JSON.parse(request.body);
      expect(conforms(schema, body)).toEqual([]);
      // GitHub refuses descriptions over 140 characters.
      expect(body.description.length).toBeLessThanOrEqual(140);
    }
    expect(requests.map((request) => JSON.parse(request.body)).map(({ state, context }) => [state, context])).toEqual([
      ['pending', 'flotilla'],
      ['success', 'flotilla/dev'],
    ]);
    expect(JSON.parse(requests[1]!.body).target_url).toBe('https://flotilla.example.com/ui/apps/shop');

    // The test message: a pending status on the commit of the release named.
    expect((await local.admin('POST', `${SUBS}/${created.body.id}/test?app=shop&version=2.0.0`)).status).toBe(202);
    expect((await local.admin('POST', `${SUBS}/${created.body.id}/test?app=shop&version=2.0.1`)).status, 'no revision: no commit').toBe(409);
    await dispatchOnce(local.services);
    const [, , test] = await github.waitFor(3);
    expect(test!.path).toBe(`/api/v3/repos/acme/shop/statuses/${sha}`);
    expect(conforms(schema, JSON.parse(test!.body))).toEqual([]);
    expect(JSON.parse(test!.body)).toMatchObject({ state: 'pending', context: 'flotilla' });

    const rotated = await local.admin('POST', `${SUBS}/${created.body.id}/rotate-secret`, { githubToken: 'ghp_newToken456' });
    expect(rotated.status).toBe(200);
    expect(JSON.stringify(rotated.body)).not.toContain('ghp_');
    await local.admin('DELETE', `${SUBS}/${created.body.id}`);
  });
});

describe('drift', () => {
  it('is sent once per object per debounce window, and again for another object', async () => {
    const target = await receiver(200);
    const sub = (await local.admin('POST', SUBS, webhook(target.url, { filter: { types: ['drift.detected'] } }))).body;
    const drift = (object: string, n: number) => ({
      id: `${Date.now().toString(16).padStart(12, '0')}${String(n).padStart(4, '0')}${'0'.repeat(16)}`,
      type: 'drift.detected',
      at: new Date(Date.now() + n).toISOString(),
      actor: 'agent:c1',
      app: 'web',
      cluster: 'c1',
      message: `${object} drifted`,
      // values as an agent that did not mask them would send them
      data: { object, fields: [{ path: '/data/password', before: 'aHVudGVyMg==', after: 'c2VjcmV0' }, { path: '/data', before: { password: 'aHVudGVyMg==' }, after: null }, { path: '/metadata/labels/tier', before: 'a', after: 'b' }] },
    });
    // as the agent route records them (functions/domain/agent.ts): straight into the event log
    await local.services.storage.events.putMany([drift('Secret/web/db', 1), drift('Secret/web/db', 2), drift('ConfigMap/web/settings', 3)]);
    await dispatchOnce(local.services);
    await target.waitFor(2);
    await dispatchOnce(local.services);
    expect(target.received.map((request) => JSON.parse(request.body).data.data.object).sort()).toEqual(['ConfigMap/web/settings', 'Secret/web/db']);
    for (const request of target.received) expect(WebhookPayload.parse(JSON.parse(request.body)).type).toBe('drift.detected');
    const secret = target.received.map((request) => JSON.parse(request.body)).find((body) => body.data.data.object === 'Secret/web/db');
    expect(secret.data.data.fields).toEqual([
      { path: '/data/password', before: '***', after: '***' },
      { path: '/data', before: { password: '***' }, after: null },
      { path: '/metadata/labels/tier', before: 'a', after: 'b' },
    ]);
    expect(JSON.stringify(secret)).not.toMatch(/aHVudGVyMg|c2VjcmV0/);
    await local.admin('DELETE', `${SUBS}/${sub.id}`);
  });
});
