// Signature requirements through the API: a cosign public key per app (PUT /v1/apps/{app}) and per
// environment (PUT /v1/apps/{app}/environments/{env}), validated (400 naming the field), and carried
// to the agents of that environment in their desired state — the environment's key on top of the app's.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import { BACKENDS, backendOptions, digestOf, startFixture, type Fixture } from '../../test/support/control-plane.ts';

const pem = (curve = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const appKey = pem();
/** The same key with the last byte of its y coordinate changed: a point that is not on P-256. */
function offCurve(key: string): string {
  const der = Buffer.from(key.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  der[der.length - 1] = der[der.length - 1]! ^ 1;
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PUBLIC KEY-----\n`;
}
const prodKey = pem();

describe.each(BACKENDS)('on %s storage', (backend) => {
  let f: Fixture;
  const agents: Record<string, AgentKeyPair> = {};

  async function desiredApp(cluster: string) {
    const jwt = await signAgentRequest(agents[cluster]!, cluster, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' }, Date.now());
    const res = await f.call('GET', '/v1/agent/desired-state', { token: jwt });
    expect(res.status).toBe(200);
    return res.body.apps.find((app: { name: string }) => app.name === 'signed');
  }

  beforeAll(async () => {
    f = await startFixture(backendOptions(backend));
    await f.admin('PUT', '/v1/environments/dev', {});
    await f.admin('PUT', '/v1/environments/prod', { upstream: 'dev' });
    for (const [cluster, environment] of [['dev-1', 'dev'], ['prod-1', 'prod']] as const) {
      await f.admin('PUT', `/v1/clusters/${cluster}`, { environment, region: 'us' });
      const { token } = (await f.admin('POST', `/v1/clusters/${cluster}/registration-tokens`)).body;
      agents[cluster] = await generateAgentKey();
      expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: agents[cluster]!.publicJwk } })).status).toBe(200);
    }
  });
  afterAll(() => f.stop());

  it.each([
    ['garbage', 'not a key', /must be a PEM public key/],
    ['a P-384 key', pem('P-384'), /must be an ECDSA P-256 key, not curve secp384r1/],
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), /not rsa/],
    ['a private key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /must be a PEM public key/],
    ['a point off the curve', offCurve(appKey), /is not a valid PEM public key/],
    ['a huge string', 'A'.repeat(10_000), /4096/],
  ])('refuses %s as an app key with a 400 naming the field', async (_what, publicKey, message) => {
    const res = await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed', verify: { publicKey } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message).toMatch(/^body\.verify\.publicKey: /);
    expect(res.body.error.message).toMatch(message);
  });

  it('refuses another provider and unknown fields, and a bad environment key', async () => {
    const provider = await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed', verify: { provider: 'notation', publicKey: appKey } });
    expect(provider.status).toBe(400);
    expect(provider.body.error.message).toMatch(/^body\.verify\.provider: /);
    const extra = await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed', verify: { publicKey: appKey, keyless: true } });
    expect(extra.status).toBe(400);
    await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed' });
    const policy = await f.admin('PUT', '/v1/apps/signed/environments/prod', { track: null, verify: { publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' } });
    expect(policy.status).toBe(400);
    expect(policy.body.error.message).toMatch(/^body\.verify\.publicKey: /);
  });

  it('stores the app key, and the environment key on the policy; the desired state carries both where both apply', async () => {
    // Windows line ends and surrounding blank lines are accepted; the key is stored canonical.
    const created = await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed', verify: { publicKey: `\n${appKey.replace(/\n/g, '\r\n')}\n` } });
    expect(created.status).toBe(200);
    expect(created.body.verify).toEqual({ provider: 'cosign', publicKey: appKey });
    expect((await f.admin('GET', '/v1/apps/signed')).body.verify).toEqual({ provider: 'cosign', publicKey: appKey });
    expect((await f.admin('PUT', '/v1/apps/signed/environments/dev', { track: '^1.0.0' })).body.verify).toBeNull();
    const prod = await f.admin('PUT', '/v1/apps/signed/environments/prod', { track: '^1.0.0', verify: { provider: 'cosign', publicKey: prodKey } });
    expect(prod.status).toBe(200);
    expect(prod.body.verify).toEqual({ provider: 'cosign', publicKey: prodKey });
    expect((await f.admin('GET', '/v1/apps/signed/environments/prod')).body.verify).toEqual({ provider: 'cosign', publicKey: prodKey });
    expect((await f.admin('POST', '/v1/apps/signed/releases', { version: '1.0.0', digest: digestOf(7) })).status).toBe(201);

    expect((await desiredApp('dev-1')).verify).toEqual({ provider: 'cosign', keys: [{ from: 'app', publicKey: appKey }] });
    expect((await desiredApp('prod-1')).verify).toEqual({
      provider: 'cosign',
      keys: [
        { from: 'app', publicKey: appKey },
        { from: 'environment', publicKey: prodKey },
      ],
    });
    const events = (await f.admin('GET', '/v1/events?app=signed')).body.items.map((event: { message: string }) => event.message);
    expect(events).toContain('admin set signed in prod to track ^1.0.0, cosign signature required');
  });

  it('an environment key alone applies to that environment; removing the app key leaves it', async () => {
    await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed' });
    expect((await desiredApp('dev-1')).verify).toBeUndefined();
    expect((await desiredApp('prod-1')).verify).toEqual({ provider: 'cosign', keys: [{ from: 'environment', publicKey: prodKey }] });
    // The same key on both levels is one requirement.
    await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed', verify: { publicKey: prodKey } });
    expect((await desiredApp('prod-1')).verify).toEqual({ provider: 'cosign', keys: [{ from: 'app', publicKey: prodKey }] });
    // A policy PUT without verify lifts the environment's requirement (PUT replaces the policy).
    await f.admin('PUT', '/v1/apps/signed', { repository: '127.0.0.1:5000/team/signed' });
    await f.admin('PUT', '/v1/apps/signed/environments/prod', { track: '^1.0.0' });
    expect((await desiredApp('prod-1')).verify).toBeUndefined();
  });

  it('describes the fields in the OpenAPI document', async () => {
    const doc = (await f.call('GET', '/openapi.json')).body;
    expect(doc.components.schemas.SignatureVerification.properties.publicKey).toMatchObject({ type: 'string', maxLength: 4096 });
    expect(doc.components.schemas.AppSpec.properties.verify).toBeDefined();
    expect(doc.components.schemas.PolicySpec.properties.verify).toBeDefined();
    expect(doc.components.schemas.DesiredApp.properties.verify).toBeDefined();
  });
});
