// OIDC federation against a real JWKS served over HTTP, signed with its private key.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

let idp: Server;
let issuer: string;
let idpKey: CryptoKey;
let f: Fixture;

async function idToken(claims: Record<string, unknown>, options: { audience?: string; key?: CryptoKey; expiresIn?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer(issuer)
    .setAudience(options.audience ?? 'flotilla')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(options.key ?? idpKey);
}

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  idpKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' };
  idp = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((ready) => idp.listen(0, '127.0.0.1', () => ready()));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  f = await startFixture({
    oidc: [
      {
        issuer,
        audience: 'flotilla',
        rules: [
          // CI of the web repository may publish the web app
          { claims: { repository: 'acme/web', ref: 'refs/tags/*' }, grants: [{ role: 'publisher', apps: ['web'] }] },
          // the SRE group may promote anywhere
          { claims: { groups: 'sre' }, grants: [{ role: 'promoter' }] },
        ],
      },
    ],
  });
  await seedWorld(f);
});
afterAll(async () => {
  await f.stop();
  idp.close();
});

describe('OIDC federation', () => {
  it('maps CI claims to a scoped publisher', async () => {
    const token = await idToken({ sub: 'repo:acme/web:ref:refs/tags/v1.0.0', repository: 'acme/web', ref: 'refs/tags/v1.0.0' });
    const res = await f.call('POST', '/v1/apps/web/releases', { token, body: { version: '1.0.0', digest: digestOf(1) } });
    expect(res.status).toBe(201);
    expect(res.body.publishedBy).toBe('repo:acme/web:ref:refs/tags/v1.0.0');
    const promote = await f.call('POST', '/v1/apps/web/promotions', { token, body: { environment: 'prod', version: '1.0.0', reason: 'x' } });
    expect(promote.status).toBe(403);
  });

  it('maps group claims to a promoter, recorded as the actor', async () => {
    const token = await idToken({ sub: 'alice@example.com', groups: 'sre' });
    const res = await f.call('POST', '/v1/apps/web/promotions', { token, body: { environment: 'prod', version: '1.0.0', reason: 'ship' } });
    expect(res.status).toBe(201);
    expect(res.body.actor).toBe('alice@example.com');
  });

  it('refuses identities no rule grants, wrong audiences, expired tokens and foreign keys', async () => {
    expect((await f.call('GET', '/v1/apps', { token: await idToken({ sub: 'bob', groups: 'sales' }) })).status).toBe(403);
    expect((await f.call('GET', '/v1/apps', { token: await idToken({ sub: 'a', groups: 'sre' }, { audience: 'other' }) })).status).toBe(401);
    const expired = await new SignJWT({ sub: 'a', groups: 'sre' })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer(issuer)
      .setAudience('flotilla')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(idpKey);
    expect((await f.call('GET', '/v1/apps', { token: expired })).body.error.message).toMatch(/expired/);
    const foreign = (await generateKeyPair('ES256')).privateKey;
    const forged = await f.call('GET', '/v1/apps', { token: await idToken({ sub: 'a', groups: 'sre' }, { key: foreign }) });
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/signature/);
  });
});
