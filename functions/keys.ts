// Operator commands for the signing keys, run with tsx:
//   keygen            print a new private signing key set (JSON array) for the SigningKeys secret
//   admin-token       mint an admin token offline from FLOTILLA_SIGNING_KEYS (or the local data dir)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { TokenService, generateSigningKey } from './auth/tokens.ts';

async function signingKeys(): Promise<JWK[]> {
  if (process.env.FLOTILLA_SIGNING_KEYS) return JSON.parse(process.env.FLOTILLA_SIGNING_KEYS) as JWK[];
  const path = join(process.env.FLOTILLA_DATA_DIR ?? '.data', 'signing-key.json');
  return [JSON.parse(await readFile(path, 'utf8')) as JWK];
}

const [command, ...args] = process.argv.slice(2);
if (command === 'keygen') {
  console.log(JSON.stringify([await generateSigningKey()]));
} else if (command === 'admin-token') {
  const tokens = await TokenService.create({
    signingKeys: await signingKeys(),
    issuer: process.env.FLOTILLA_ISSUER ?? 'flotilla-local',
    audience: process.env.FLOTILLA_AUDIENCE ?? 'flotilla',
  });
  const days = Number(args[0] ?? 30);
  const { token } = await tokens.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: days * 86_400 });
  console.log(token);
} else {
  console.error('usage: tsx functions/keys.ts keygen | admin-token [days]');
  process.exit(2);
}
